from django.apps import AppConfig


class ReportCardsConfig(AppConfig):
    name = "core.reportcards"
    label = "reportcards"
    verbose_name = "Report cards"

    def ready(self) -> None:
        from core.reportcards import events  # noqa: F401
