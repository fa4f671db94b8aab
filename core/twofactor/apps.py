from django.apps import AppConfig


class TwoFactorConfig(AppConfig):
    name = "core.twofactor"
    label = "twofactor"
    verbose_name = "Two-factor authentication"

    def ready(self) -> None:
        from core.twofactor import signals  # noqa: F401
