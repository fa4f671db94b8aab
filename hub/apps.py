from django.apps import AppConfig


class HubConfig(AppConfig):
    name = "hub"
    verbose_name = "Hub"

    def ready(self) -> None:
        from hub import gcwatch, signals  # noqa: F401

        gcwatch.install()
