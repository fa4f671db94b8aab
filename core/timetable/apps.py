from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TimetableConfig(AppConfig):
    name = "core.timetable"
    label = "timetable"
    verbose_name = _("Timetable")

    def ready(self) -> None:
        from core.timetable import events  # noqa: F401
