from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "core.audit"
    label = "audit"
    verbose_name = "Audit"

    def ready(self):
        from core.audit import signals  # noqa: F401  (connects the receivers)
