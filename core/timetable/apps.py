from django.apps import AppConfig


class TimetableConfig(AppConfig):
    name = "core.timetable"
    label = "timetable"
    verbose_name = "Timetable"

    def ready(self) -> None:
        from core.timetable import events  # noqa: F401
