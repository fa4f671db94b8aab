from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TwoFactorConfig(AppConfig):
    name = "core.twofactor"
    label = "twofactor"
    verbose_name = _("Two-factor authentication")

    def ready(self) -> None:
        from core.twofactor import signals  # noqa: F401
