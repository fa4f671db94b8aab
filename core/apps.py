"""The AppConfig of ``core`` itself: the wiring of its observability.

A request's log lines follow its login or logout (:mod:`core.request_id`);
a task's lines carry its id (:mod:`core.logs`); finished tasks are counted,
and a worker or the scheduler serves its metrics on ``METRICS_PORT``
(:mod:`core.metrics`). See docs/operations.md.

Here rather than in the event log's AppConfig (``hub``): these modules are
core's, and the event log imports nothing from core.
"""

import sys

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out
        from django_tasks.signals import task_finished, task_started

        from core import logs, metrics, request_id

        user_logged_in.connect(request_id.logged_in)
        user_logged_out.connect(request_id.logged_out)
        task_started.connect(logs.task_started)
        task_finished.connect(logs.task_finished)
        task_finished.connect(metrics.task_finished)
        metrics.serve_if_worker(sys.argv)
