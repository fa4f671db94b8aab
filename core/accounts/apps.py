from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "core.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        # Signal receivers: audit of login failures (lockout), sessions and
        # devices recorded at login, removed at logout (sessions).
        from core.accounts import lockout, sessions  # noqa: F401
