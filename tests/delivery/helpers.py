"""Running the background tasks in a test, as ``manage.py db_worker`` would."""

from unittest import mock

from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult


class TaskFailed(AssertionError):
    """A task raised: the worker recorded it failed (its traceback is here)."""


def run_tasks() -> int:
    """Run every ready task with the real database worker until none is left.

    Returns how many ran; raises :class:`TaskFailed` if one failed (the
    worker itself would only record it).
    """
    done_before = set(
        DBTaskResult.objects.exclude(status="READY").values_list("pk", flat=True)
    )
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    # The worker drops its connection when autocommit is off, which inside a
    # test's transaction (PostgreSQL) would throw the test's data away.
    target = "django_tasks_db.management.commands.db_worker.close_old_connections"
    with mock.patch(target, lambda: None):
        worker.run()
    ran = DBTaskResult.objects.exclude(status="READY").exclude(pk__in=done_before)
    for result in ran.filter(status="FAILED"):
        raise TaskFailed(f"{result.task_path}: {result.traceback}")
    return ran.count()
