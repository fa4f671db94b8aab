from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HubConfig(AppConfig):
    name = "hub"
    verbose_name = _("Event log")

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from hub import signals  # noqa: F401
        from hub.realtime import gcwatch

        # Every app's ``events`` module, so the registry (notifying kinds,
        # the notification centre's wording) never depends on which view
        # happened to be imported first.
        autodiscover_modules("events")

        gcwatch.install()

        # Observability (docs/operations.md): a request's log lines follow
        # its login or logout; a task's lines carry its id; finished tasks are counted; a worker or the scheduler serves
        # its metrics on METRICS_PORT.
        import sys

        from django.contrib.auth.signals import user_logged_in, user_logged_out
        from django_tasks.signals import task_finished, task_started

        from core import logs, metrics, request_id

        user_logged_in.connect(request_id.logged_in)
        user_logged_out.connect(request_id.logged_out)
        task_started.connect(logs.task_started)
        task_finished.connect(logs.task_finished)
        task_finished.connect(metrics.task_finished)
        metrics.serve_if_worker(sys.argv)
