from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliveryConfig(AppConfig):
    name = "hub.delivery"
    label = "delivery"
    verbose_name = _("Notifications and deliveries")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hub import subscribers
        from hub.delivery import tasks

        # Delivery hears of events from the log, which does not import it.
        subscribers.in_transaction(tasks.plan_on_append)
