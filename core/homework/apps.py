from django.apps import AppConfig


class HomeworkConfig(AppConfig):
    name = "core.homework"
    label = "homework"
    verbose_name = "Homework"

    def ready(self) -> None:
        from core.homework import events  # noqa: F401
