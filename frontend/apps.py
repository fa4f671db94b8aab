from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FrontendConfig(AppConfig):
    name = "frontend"
    verbose_name = _("Pages")

    def ready(self) -> None:
        from frontend.thirdparty_names import name_in_french

        name_in_french()
