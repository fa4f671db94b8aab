"""The read side of the notification centre.

What a user has read is a :class:`hub.models.ReadCursor` per user and stream:
the last offset they marked as read. Every event of a notifying kind
(:func:`hub.events.notifying_kinds`) above that offset, on a stream the user
may read (:func:`core.roster.streams.readable_streams`), is unread. A stream without a
cursor counts as read up to offset 0.
"""

import datetime
import logging

from django.db import transaction
from django.db.models import Q
from pydantic import ValidationError

from core.roster.streams import readable_streams
from hub.delivery import tasks
from hub.delivery.models import Notification
from hub.events import Notice, UnknownEventKind, event_class, notifying_kinds
from hub.models import Event, ReadCursor, Stream
from hub.streams import Envelope, envelope

logger = logging.getLogger(__name__)


def _streams(user, names: list[str] | None = None) -> list[Stream]:
    if names is None:
        names = readable_streams(user)
    return list(Stream.objects.filter(name__in=names))


def read_offsets(user) -> dict[str, int]:
    """Return ``{stream name: last offset read}`` for the streams ``user`` reads."""
    streams = _streams(user)
    cursors = dict(
        ReadCursor.objects.filter(user=user, stream__in=streams).values_list(
            "stream_id", "offset"
        )
    )
    return {stream.name: cursors.get(stream.pk, 0) for stream in streams}


def _unread_filter(user, streams: list[Stream]) -> Q | None:
    cursors = dict(
        ReadCursor.objects.filter(user=user, stream__in=streams).values_list(
            "stream_id", "offset"
        )
    )
    condition = None
    for stream in streams:
        part = Q(stream=stream, offset__gt=cursors.get(stream.pk, 0))
        condition = part if condition is None else condition | part
    return condition


def unread_count(user, names: list[str] | None = None) -> int:
    """Return how many notifying events ``user`` has not marked as read.

    ``names`` are the user's readable streams when the caller has them
    already (:func:`core.roster.streams.readable_streams`); otherwise they are read.
    """
    if not getattr(user, "is_authenticated", False):
        return 0
    condition = _unread_filter(user, _streams(user, names))
    if condition is None:
        return 0
    return Event.objects.filter(condition, kind__in=notifying_kinds()).count()


def recent(user, limit: int = 50) -> list[Envelope]:
    """Return the newest notifying events ``user`` may read, newest first.

    At most ``limit`` of them, from every readable stream.
    """
    if not getattr(user, "is_authenticated", False):
        return []
    streams = {stream.pk: stream for stream in _streams(user)}
    if not streams:
        return []
    rows = Event.objects.filter(
        stream_id__in=streams, kind__in=notifying_kinds()
    ).order_by("-created_at", "-pk")[:limit]
    return [
        envelope(streams[row.stream_id].name, streams[row.stream_id].epoch, row)
        for row in rows
    ]


def notice_of(item: Envelope) -> Notice | None:
    """Return how ``item`` reads (its kind's ``notice``), in the active language.

    The one wording of an event for the notification centre, push, e-mail
    and digests. ``None`` for a kind that stays in-app or a payload its
    class no longer accepts (an event logged by an older version).
    """
    try:
        cls = event_class(item.kind)
        return cls(op=item.op, **item.data).notice(
            datetime.datetime.fromisoformat(item.ts)
        )
    except (UnknownEventKind, ValidationError, TypeError):
        logger.warning("cannot describe %s.%s", item.kind, item.op, exc_info=True)
        return None


def mark_all_read(user) -> None:
    """Move ``user``'s cursor on every readable stream to its last offset."""
    with transaction.atomic():
        for stream in _streams(user):
            cursor, created = ReadCursor.objects.get_or_create(
                user=user, stream=stream, defaults={"offset": stream.last_offset}
            )
            if not created and cursor.offset < stream.last_offset:
                cursor.offset = stream.last_offset
                cursor.save(update_fields=["offset"])
        _withdraw_pushes(user)


def _withdraw_pushes(user) -> None:
    """Close, on the user's other devices, the notifications just read here."""
    tags = list(
        Notification.objects.filter(user=user, seen_at__isnull=True)
        .exclude(tag="")
        .values_list("tag", flat=True)
        .distinct()[:100]
    )
    if tags:
        tasks.withdraw.enqueue(user.pk, tags)
