from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "core.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Signal receivers: audit of login failures (lockout), sessions and
        # devices recorded at login, removed at logout (sessions).
        from core.accounts import lockout, sessions  # noqa: F401
