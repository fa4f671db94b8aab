from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "core.api"
    label = "api"
    verbose_name = "API"

    def ready(self) -> None:
        # A password change revokes the user's tokens.
        from core.api import signals  # noqa: F401
