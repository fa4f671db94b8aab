"""The background task of a data export (django-tasks, ``manage.py db_worker``).

Enqueued by :func:`core.privacy.actions.request_export` when the request's
transaction commits; the work is :func:`core.privacy.actions.build_export`.
"""

from django_tasks import task


@task()
def build_data_export(export_id: int) -> dict:
    """Build, store and announce the export ``export_id``; return its status."""
    from core.privacy.actions import build_export

    return {"status": build_export(export_id)}
