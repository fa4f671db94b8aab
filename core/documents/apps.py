from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    name = "core.documents"
    label = "documents"
    verbose_name = _("Documents")

    def ready(self) -> None:
        from core.documents import events  # noqa: F401
