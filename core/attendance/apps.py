from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    name = "core.attendance"
    label = "attendance"
    verbose_name = "Attendance"

    def ready(self) -> None:
        from core.attendance import events  # noqa: F401
