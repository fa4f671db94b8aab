from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "hub.delivery"
    label = "delivery"
    verbose_name = "Delivery"
    default_auto_field = "django.db.models.BigAutoField"
