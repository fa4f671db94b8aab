from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AttendanceConfig(AppConfig):
    name = "core.attendance"
    label = "attendance"
    verbose_name = _("Absences and lateness")

    def ready(self) -> None:
        from core.attendance import events  # noqa: F401
