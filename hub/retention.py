"""Retention of the stream log: events older than ``HUB_RETENTION_DAYS`` go.

Streams keep their ``last_offset`` and epoch, so offsets never restart; a
client that resumes from before the oldest kept event gets ``reset`` with
reason ``retention`` (docs/protocol.md).
"""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from hub.models import Event


def purge_old_events(*, now: dt.datetime | None = None) -> int:
    """Delete events older than the retention period; return how many went."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.HUB_RETENTION_DAYS)
    deleted, _ = Event.objects.filter(created_at__lt=cutoff).delete()
    return deleted
