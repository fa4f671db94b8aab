from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchoolLifeConfig(AppConfig):
    name = "core.schoollife"
    label = "schoollife"
    verbose_name = _("School life")

    def ready(self) -> None:
        from core.schoollife import events  # noqa: F401
