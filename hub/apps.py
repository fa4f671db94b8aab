from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HubConfig(AppConfig):
    name = "hub"
    verbose_name = _("Event log")

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        # Every app's ``events`` module, so the registry (notifying kinds,
        # the notification centre's wording) never depends on which view
        # happened to be imported first.
        autodiscover_modules("events")
