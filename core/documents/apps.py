from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "core.documents"
    label = "documents"
    verbose_name = "Documents"

    def ready(self) -> None:
        from core.documents import events  # noqa: F401
