"""Stream names, the durable log and ``send_event`` (ARCHITECTURE.md P1-P3).

Stream names are ``user:<id>``, ``class:<id>`` and ``org:<id>``. Domain
actions call :func:`send_event` inside their transaction; the event gets the
next offset of each stream and becomes visible when the transaction commits,
at which point its subscribers hear of it (:mod:`hub.subscribers`: the
realtime server rings one doorbell per stream, delivery has queued its task
in the transaction). If the transaction rolls back, neither the event nor the
doorbell exists.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from hub import subscribers
from hub.events import HubEvent, UnknownEventKind, event_class
from hub.models import Event, Stream, new_epoch
from hub.rows import columns, converted

# ``fullmatch``, not ``$``: "user:5\n" must not pass as "user:5" (it would name
# another stream row and an invalid channel-layer group).
STREAM_NAME = re.compile(r"(user|class|org):([1-9][0-9]{0,17})")


class InvalidStreamName(ValueError):
    """Raised for a name that is not ``user:<id>``, ``class:<id>`` or ``org:<id>``."""


def parse_stream(name: str) -> tuple[str, int]:
    """Split ``"class:12"`` into ``("class", 12)``; raise :class:`InvalidStreamName`."""
    match = STREAM_NAME.fullmatch(name) if isinstance(name, str) else None
    if not match:
        raise InvalidStreamName(name)
    return match.group(1), int(match.group(2))


def user_stream(user_id: int) -> str:
    """Return the personal stream name of a user."""
    return f"user:{user_id}"


def class_stream(class_id: int) -> str:
    """Return the stream name of a class."""
    return f"class:{class_id}"


def org_stream(org_id: int) -> str:
    """Return the stream name of an org."""
    return f"org:{org_id}"


def group_name(stream: str) -> str:
    """Return the channel-layer group of a stream (``hub.class.12``)."""
    return "hub." + stream.replace(":", ".")


@dataclass(frozen=True, slots=True)
class Envelope:
    """An event as the wire sees it: see docs/protocol.md, frame ``event``."""

    stream: str
    epoch: str
    offset: int
    kind: str
    op: str
    data: dict
    ts: str

    def frame(self) -> dict:
        """Return the ``event`` frame sent to clients."""
        return {
            "type": "event",
            "stream": self.stream,
            "epoch": self.epoch,
            "offset": self.offset,
            "kind": self.kind,
            "op": self.op,
            "data": self.data,
            "ts": self.ts,
        }


def envelope(name: str, epoch: str, event: Event) -> Envelope:
    """The :class:`Envelope` of ``event``, a row of the stream ``name``."""
    return Envelope(
        stream=name,
        epoch=epoch,
        offset=event.offset,
        kind=event.kind,
        op=event.op,
        data=event.payload,
        ts=event.created_at.isoformat(),
    )


def send_event(streams: Iterable[str], event: HubEvent) -> list[Envelope]:
    """Append ``event`` to each stream in ``streams`` and ring on commit.

    Must run inside the caller's ``transaction.atomic`` block (the domain
    action's): the rows and the doorbells share its fate. Duplicate stream
    names are appended once. Returns one :class:`Envelope` per stream, in
    sorted stream order (the same order locks are taken in, so two actions
    never deadlock).

    Raises :class:`InvalidStreamName` for a malformed name,
    :class:`hub.events.UnknownEventKind` for an undeclared kind (or an object
    that is not a :class:`HubEvent`), and ``TransactionManagementError`` when
    called outside a transaction. Nothing is written when it raises.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError(
            "send_event() must be called inside the action's transaction.atomic()"
        )
    kind = getattr(type(event), "kind", None)
    if not isinstance(event, HubEvent) or not isinstance(kind, str):
        raise UnknownEventKind(repr(event)[:100])
    event_class(kind)
    if isinstance(streams, str):
        # A bare "user:5" would otherwise be read as the streams "u", "s", ...
        streams = [streams]
    names = list(streams)
    for name in names:
        parse_stream(name)
    names = sorted(set(names))
    payload = event.payload()
    rows, epochs = [], []
    # The UPDATE takes the row lock until commit: offsets are gap-free under
    # concurrency, and commit in offset order (so a reader that sees offset
    # n also sees every offset below it).
    if len(names) > BATCH_FROM:
        advanced = _advance_many(connection, names)
    else:
        advanced = [_advance(connection, name) for name in names]
    for stream_id, epoch, offset in advanced:
        rows.append(
            Event(
                stream_id=stream_id,
                offset=offset,
                kind=kind,
                op=event.op,
                payload=payload,
            )
        )
        epochs.append(epoch)
    Event.objects.bulk_create(rows)
    envelopes = [
        envelope(name, epoch, row)
        for name, epoch, row in zip(names, epochs, rows, strict=True)
    ]
    if envelopes:
        # The realtime server's doorbells after the commit, delivery's task
        # in the transaction (hub/subscribers.py).
        subscribers.appended(event, rows, envelopes)
    return envelopes


def _advance(connection, name: str) -> tuple[int, str, int]:
    """Take the next offset of stream ``name``; return ``(pk, epoch, offset)``.

    One ``UPDATE … RETURNING`` (PostgreSQL, SQLite 3.35+): the row stays
    locked until the transaction ends. A stream never written is created
    first (concurrent creators: the loser's insert is ignored).
    """
    table = connection.ops.quote_name(Stream._meta.db_table)
    sql = (
        f"UPDATE {table} SET last_offset = last_offset + 1 "
        "WHERE name = %s RETURNING id, epoch, last_offset"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [name])
        row = cursor.fetchone()
        if row is None:
            Stream.objects.bulk_create([Stream(name=name)], ignore_conflicts=True)
            cursor.execute(sql, [name])
            row = cursor.fetchone()
    return row[0], row[1], row[2]


# From how many streams one event's offsets are taken in batches (a notice
# to 3,000 guardians: a few statements, not 3,000), and how many names one
# statement carries (SQLite's and PostgreSQL's parameter limits).
BATCH_FROM = 8
BATCH_SIZE = 500


def _advance_many(connection, names: list[str]) -> list[tuple[int, str, int]]:
    """:func:`_advance` of each of ``names`` (sorted, unique) in a few statements.

    The rows are created if missing and locked in name order first
    (:func:`lock_streams`: the order every writer takes), then each batch is
    advanced by one ``UPDATE … RETURNING``: offsets stay gap-free and two
    writers cannot deadlock.
    """
    lock_streams(names)
    table = connection.ops.quote_name(Stream._meta.db_table)
    found: dict[str, tuple[int, str, int]] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(names), BATCH_SIZE):
            batch = names[start : start + BATCH_SIZE]
            marks = ", ".join(["%s"] * len(batch))
            cursor.execute(
                f"UPDATE {table} SET last_offset = last_offset + 1 "
                f"WHERE name IN ({marks}) RETURNING name, id, epoch, last_offset",
                batch,
            )
            for name, pk, epoch, offset in cursor.fetchall():
                found[name] = (pk, epoch, offset)
    return [found[name] for name in names]


def lock_streams(names: Iterable[str]) -> None:
    """Lock the rows of ``names`` now, in name order, until the transaction ends.

    An action that sends several events (a roll call: one per absent pupil,
    each to the pupil, the guardians and the school's CPE) calls this first
    with every stream it will write: two such actions then take their locks
    in the same order and cannot deadlock. Streams never written are created.
    Must run inside the action's ``transaction.atomic``.
    """
    names = sorted(set(names))
    for name in names:
        parse_stream(name)
    missing = set(names) - set(
        Stream.objects.filter(name__in=names).values_list("name", flat=True)
    )
    if missing:
        Stream.objects.bulk_create(
            [Stream(name=name) for name in sorted(missing)], ignore_conflicts=True
        )
    list(
        Stream.objects.filter(name__in=names)
        .order_by("name")
        .select_for_update()
        .values_list("pk", flat=True)
    )


def positions(names: Iterable[str]) -> dict[str, tuple[str, int]]:
    """Return ``{name: (epoch, last_offset)}`` of each stream, as committed.

    Creates the streams never written (offset 0), so the epoch a client is
    given stays the stream's epoch once events arrive. Names must be valid.
    """
    return {name: (epoch, last) for name, (_pk, epoch, last) in _rows(names).items()}


def _rows(names: Iterable[str]) -> dict[str, tuple[int, str, int]]:
    """``{name: (pk, epoch, last_offset)}``, creating the streams never written.

    Plain SQL: sockets call it on every ``resume`` (bench S5).
    """
    names = list(dict.fromkeys(names))
    result = _select_rows(names)
    missing = [name for name in names if name not in result]
    if missing:
        result.update(_insert_rows(missing))
        # Created meanwhile by another reader or writer: theirs is the row.
        lost = [name for name in missing if name not in result]
        result.update(_select_rows(lost))
    return result


def _insert_rows(names: list[str]) -> dict[str, tuple[int, str, int]]:
    """Create the streams ``names`` (offset 0, a new epoch each) and return
    ``{name: (pk, epoch, last_offset)}`` of those this call created; a name
    another transaction created first is left out (its row stays as it is).

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL, SQLite
    3.35+) in the caller's transaction or, outside one, autocommitted alone:
    the first socket of a user subscribes to a stream never written, and
    the ORM's ``bulk_create`` made that a transaction of five round trips
    and a second ``SELECT`` (bench S1).
    """
    if not names:
        return {}
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    values = ", ".join(["(%s, %s, 0)"] * len(names))
    params = [x for name in names for x in (name, new_epoch())]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(Stream._meta.db_table)} (name, epoch, last_offset)"
            f" VALUES {values} ON CONFLICT (name) DO NOTHING"
            " RETURNING name, id, epoch, last_offset",
            params,
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _select_rows(names: list[str]) -> dict[str, tuple[int, str, int]]:
    if not names:
        return {}
    connection = transaction.get_connection()
    table = connection.ops.quote_name(Stream._meta.db_table)
    marks = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT name, id, epoch, last_offset FROM {table} WHERE name IN ({marks})",
            names,
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


def read_after(
    held: dict[str, int | None], behind: int, limit: int
) -> dict[str, tuple[str, int, list[Envelope]]]:
    """Positions of streams and what a reader missed, in one database hop.

    ``held`` maps a stream name to the offset a reader holds, or ``None``.
    Returns ``{name: (epoch, last_offset, events)}``: ``events`` are the
    events of the current epoch with ``held < offset <= held + limit`` (at
    most ``limit``, in offset order; fewer when older ones were pruned), read
    only when the reader is 1 to ``behind`` events behind; otherwise ``[]``.
    Used by ``resume`` (docs/protocol.md): two queries whatever the number of
    streams (bench S5). Names must be valid.
    """
    rows = _rows(held)
    ranges = {}
    for name, (pk, epoch, last) in rows.items():
        after = held[name]
        if after is not None and 0 < last - after <= behind:
            ranges[pk] = (name, epoch, after, min(last, after + limit))
    missed: dict[str, list[Envelope]] = {name: [] for name in rows}
    for pk, offset, kind, op, payload, created in _select_events(ranges):
        name, epoch = ranges[pk][:2]
        missed[name].append(Envelope(name, epoch, offset, kind, op, payload, created))
    return {
        name: (epoch, last, missed[name]) for name, (_pk, epoch, last) in rows.items()
    }


def _select_events(ranges: dict[int, tuple]) -> list[tuple]:
    """Rows ``(stream pk, offset, kind, op, data, ts)`` of the events with
    ``after < offset <= upto`` for each ``pk: (name, epoch, after, upto)`` of
    ``ranges``, by stream then offset, in one plain SQL query (values
    converted as the ORM does, :func:`hub.rows.converted`; ``ts`` in ISO
    8601 as :func:`envelope` gives it)."""
    if not ranges:
        return []
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    offset = quote("offset")
    where = " OR ".join(
        [f"(stream_id = %s AND {offset} > %s AND {offset} <= %s)"] * len(ranges)
    )
    params = [
        x for pk, (_n, _e, after, upto) in ranges.items() for x in (pk, after, upto)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns(Event, _EVENT_FIELDS)}"
            f" FROM {quote(Event._meta.db_table)} WHERE {where}"
            f" ORDER BY stream_id, {offset}",
            params,
        )
        found = cursor.fetchall()
    return [
        (pk, number, kind, op, payload, created.isoformat())
        for pk, number, kind, op, payload, created in converted(
            Event, _EVENT_FIELDS, found
        )
    ]


_EVENT_FIELDS = ("stream", "offset", "kind", "op", "payload", "created_at")


def read_events(
    name: str, after: int, upto: int | None = None, limit: int = 500
) -> list[Envelope]:
    """Return the events of stream ``name`` with ``after < offset <= upto``.

    In offset order, at most ``limit`` of them. An unknown stream has none.
    The result may start above ``after + 1`` when older events were pruned
    (:func:`hub.retention.purge_old_events`); readers treat that as a reset with reason ``retention``.
    """
    stream = Stream.objects.filter(name=name).first()
    if stream is None:
        return []
    rows = Event.objects.filter(stream=stream, offset__gt=after)
    if upto is not None:
        rows = rows.filter(offset__lte=upto)
    return [
        envelope(stream.name, stream.epoch, row)
        for row in rows.order_by("offset")[:limit]
    ]
