from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HomeworkConfig(AppConfig):
    name = "core.homework"
    label = "homework"
    verbose_name = _("Homework notebook")

    def ready(self) -> None:
        from core.homework import events  # noqa: F401
