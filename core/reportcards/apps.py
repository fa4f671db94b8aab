from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportCardsConfig(AppConfig):
    name = "core.reportcards"
    label = "reportcards"
    verbose_name = _("Report cards")

    def ready(self) -> None:
        from core.reportcards import events  # noqa: F401
