"""The background build of a data export (django-tasks, ``manage.py db_worker``).

Enqueued by :func:`core.privacy.actions.request_export` when the request's
transaction commits. The work lives here, not in the actions module, which
imports this one to enqueue it.
"""

import datetime as dt
import logging
import secrets

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from core import crypto
from core.privacy import export as builder
from core.privacy import mail
from core.privacy.models import DataExport

logger = logging.getLogger(__name__)


@task()
def build_data_export(export_id: int) -> dict:
    """Build, store and announce the export ``export_id``; return its status."""
    return {"status": build_export(export_id)}


def download_link(export: DataExport) -> str:
    """Return the absolute address of ``export``'s download page."""
    return settings.SITE_URL + reverse("privacy:download", args=[export.pk])


def build_export(export_id: int, *, now: dt.datetime | None = None) -> str:
    """Build the zip of the export ``export_id``, store it encrypted, tell
    its owner (event, e-mail when they have an address); return the status.

    A failure to build leaves the export ``failed`` (the page offers a new
    request); a failure to send the e-mail does not: the page shows the link.
    """
    export = (
        DataExport.objects.select_related("user")
        .filter(pk=export_id, status=DataExport.Status.REQUESTED)
        .first()
    )
    if export is None:
        return "missing"
    now = now or timezone.now()
    user = export.user
    try:
        data = builder.build_zip(user, now=now)
    except Exception as error:
        logger.error("data export %s failed: %s", export_id, type(error).__name__)
        DataExport.objects.filter(pk=export_id).update(status=DataExport.Status.FAILED)
        return DataExport.Status.FAILED
    with transaction.atomic():
        # A random name that says nothing, as every stored file's (core.files).
        export.file.save(
            secrets.token_hex(16), ContentFile(crypto.encrypt(data)), save=False
        )
        export.size = len(data)
        export.status = DataExport.Status.READY
        export.ready_at = now
        export.expires_at = now + dt.timedelta(days=settings.PRIVACY_EXPORT_DAYS)
        export.save(update_fields=["file", "size", "status", "ready_at", "expires_at"])
    if user.email:
        message = mail.export_ready_message(
            user=user, link=download_link(export), expires_at=export.expires_at
        )
        try:
            with mail.connection() as connection:
                connection.send_messages([message])
        except Exception as error:  # smtplib and socket errors alike
            logger.warning(
                "export e-mail to user %s failed: %s", user.pk, type(error).__name__
            )
    return export.status
