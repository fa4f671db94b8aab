"""The retention policy: each kind of data is deleted after its period.

Periods are ``settings.PRIVACY_RETENTION_DAYS`` (days per kind, each set by
``RETENTION_<KIND>_DAYS``; 0 keeps the kind) and ``PRIVACY_EXPORT_DAYS``;
``docs/privacy.md`` gives each kind's reason and legal basis. The
scheduler (``manage.py run_scheduler``) runs :func:`purge_expired_data`
with its other periodic jobs; the stream log has its own
(:mod:`hub.retention`, ``HUB_RETENTION_DAYS``).

Rows go with their files: the files of the rows deleted here (excuse
documents, attachments, export zips) are removed from storage once the rows
are gone. (The ``files`` work of issue 13 adds a ``post_delete`` removal of
every model's files; deleting a file twice is harmless, so this stays
correct after it.)
"""

import datetime as dt
import logging

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.attendance.models import Excuse, MissingRollCall, RollCall
from core.audit.models import AuditEntry
from core.messaging.models import Attachment, Conversation
from core.privacy.actions import expire_exports
from core.roster.models import EndedMembership
from hub.delivery.models import EmailSend, Notification

logger = logging.getLogger(__name__)

KINDS = (
    "messages",
    "attendance",
    "documents",
    "delivery_log",
    "audit",
    "ended_memberships",
    "task_results",
)


def cutoff(kind: str, now: dt.datetime) -> dt.datetime | None:
    """Return the instant before which ``kind`` is deleted (None: kept)."""
    days = settings.PRIVACY_RETENTION_DAYS.get(kind, 0)
    if days <= 0:
        return None
    return now - dt.timedelta(days=days)


def purge_messages(before: dt.datetime) -> int:
    """Conversations whose last message (or start) is older than ``before``,
    with their messages, attachments and files."""
    old = Conversation.objects.annotate(
        last=Coalesce(F("last_message_at"), F("created_at"))
    ).filter(last__lt=before)
    # Files leave with their rows (core.files' delete hook).
    return (
        Conversation.objects.filter(pk__in=old.values("pk"))
        .delete()[1]
        .get("messaging.Conversation", 0)
    )


def purge_attendance(before: dt.datetime) -> int:
    """Roll calls of lessons that began before ``before``, with their
    records, excuses and excuse documents; old missing-roll-call flags."""
    old = RollCall.objects.filter(occurrence__start__lt=before)
    count = old.delete()[1].get("attendance.RollCall", 0)
    MissingRollCall.objects.filter(occurrence__start__lt=before).delete()
    return count


def purge_documents(before: dt.datetime) -> int:
    """Excuse documents sent before ``before`` (the excuse and its decision
    stay), and attachments of messages sent before it."""
    count = 0
    for excuse in Excuse.objects.filter(submitted_at__lt=before).exclude(document=""):
        # The row stays: its file goes by hand.
        excuse.document.delete(save=False)
        excuse.document = ""
        excuse.save(update_fields=["document"])
        count += 1
    old = Attachment.objects.filter(message__created_at__lt=before)
    count += old.delete()[1].get("messaging.Attachment", 0)
    return count


def purge_delivery_log(before: dt.datetime) -> int:
    """Notifications (with their deliveries) and e-mail ledger rows older
    than ``before``."""
    count = Notification.objects.filter(created_at__lt=before).delete()[0]
    count += EmailSend.objects.filter(created_at__lt=before).delete()[0]
    return count


def purge_audit(before: dt.datetime) -> int:
    return AuditEntry.objects.filter(at__lt=before).delete()[0]


def purge_ended_memberships(before: dt.datetime) -> int:
    return EndedMembership.objects.filter(ended_at__lt=before).delete()[0]


def purge_task_results(before: dt.datetime) -> int:
    """Finished background tasks (their arguments and results) that
    finished before ``before``; tasks waiting or running stay.

    "Finished" is django-tasks-db's own (``finished()``: succeeded or
    failed), the rule of its ``prune_db_task_results`` command, which an
    operator may still run by hand; here the cut-off is the retention
    policy's, on the scheduler's hourly pass.
    """
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.finished().filter(finished_at__lt=before).delete()[0]


PURGES = {
    "messages": purge_messages,
    "attendance": purge_attendance,
    "documents": purge_documents,
    "delivery_log": purge_delivery_log,
    "audit": purge_audit,
    "ended_memberships": purge_ended_memberships,
    "task_results": purge_task_results,
}


def purge_expired_data(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Apply the retention policy once; return how many rows went, per kind.

    A kind that fails is logged and the others still run.
    """
    now = now or timezone.now()
    done = {"exports": expire_exports(now=now)}
    for kind in KINDS:
        before = cutoff(kind, now)
        if before is None:
            continue
        try:
            done[kind] = PURGES[kind](before)
        except Exception:
            logger.exception("retention of %s failed", kind)
    return done


# The scheduler's loop turns every minute; the retention runs hourly.
RUN_EVERY = dt.timedelta(hours=1)
_last_run: dt.datetime | None = None


def scheduled_purge(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Run :func:`purge_expired_data` if an hour has passed since this
    process last did; return what it did (empty when it did not run)."""
    global _last_run
    now = now or timezone.now()
    if _last_run is not None and abs(now - _last_run) < RUN_EVERY:
        return {}
    _last_run = now
    return purge_expired_data(now=now)
