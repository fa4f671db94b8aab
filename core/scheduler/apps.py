from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulerConfig(AppConfig):
    """Registered only for its ``run_scheduler`` command: it has no models."""

    name = "core.scheduler"
    label = "scheduler"
    verbose_name = _("Scheduler")
