from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliveryConfig(AppConfig):
    name = "hub.delivery"
    label = "delivery"
    verbose_name = _("Notifications and deliveries")
    default_auto_field = "django.db.models.BigAutoField"
