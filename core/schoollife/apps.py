from django.apps import AppConfig


class SchoolLifeConfig(AppConfig):
    name = "core.schoollife"
    label = "schoollife"
    verbose_name = "School life"

    def ready(self) -> None:
        from core.schoollife import events  # noqa: F401
