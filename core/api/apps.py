from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "core.api"
    label = "api"
    verbose_name = _("API for apps")

    def ready(self) -> None:
        # A password change revokes the user's tokens.
        from core.api import signals  # noqa: F401
