"""From an event to notifications and deliveries (ARCHITECTURE.md P5).

:func:`plan_events` runs in the worker for the events whose kind has a
delivery ``category``: it finds who reads each stream, describes the event
once (``HubEvent.notice``), and for each reader writes one
:class:`Notification` and one :class:`Delivery` per channel their preference
asks for, each with its status and reason (queued, held for quiet hours,
suppressed by preference, mute or lack of device). A category marked
``email_fallback`` (absences) chosen as push by someone with no device
subscribed goes by immediate e-mail instead. It then enqueues the push and
e-mail tasks. Planning twice the same event adds nothing (unique
user × event).

A plan costs the same number of statements whatever the number of readers
(bench ``homework_publish.py``) and of events planned together (a notice to
3,000 ``user:`` streams, bench ``urgent_notice.py``): the readers' settings,
devices, mutes and schools' time zones are read once for all, and the
notifications, e-mail ledger rows and deliveries are each written in one
``INSERT`` (or one per
batch of the database's parameter limit: 76 to 83 rows on SQLite).
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from core.roster.models import Org, User
from core.roster.streams import readers_of
from hub.delivery import quiet_hours, zones
from hub.delivery.categories import CATEGORIES
from hub.delivery.email_deliveries import send_emails
from hub.delivery.models import (
    Channel,
    Delivery,
    Digest,
    EmailSend,
    Mute,
    Notification,
    PushSubscription,
)
from hub.delivery.preferences import choices_of, settings_of
from hub.delivery.push_deliveries import send_pushes
from hub.events import Notice, UnknownEventKind, event_class
from hub.models import Event

Status = Delivery.Status


def _notice(event: Event) -> tuple[str, Notice] | None:
    try:
        cls = event_class(event.kind)
    except UnknownEventKind:
        return None
    if not cls.category or cls.category not in CATEGORIES:
        return None
    with override(settings.LANGUAGE_CODE):
        notice = cls(op=event.op, **event.payload).notice(event.created_at)
    return (cls.category, notice) if notice else None


def _org_names(org_ids: set[int]) -> dict[int | None, str]:
    return dict(Org.objects.filter(pk__in=org_ids).values_list("pk", "name"))


def _org_id(event: Event, notice: Notice) -> int | None:
    """Return the school a notice is about: the notice's, else its stream's.

    Every kind's notice names its org; events logged before they did are
    placed by their stream (``class:<id>`` or ``org:<id>``).
    """
    if notice.org_id:
        return notice.org_id
    from core.roster.models import SchoolClass

    scope, _sep, raw = event.stream.name.partition(":")
    if not raw.isdecimal():
        return None
    if scope == "class":
        return (
            SchoolClass.objects.filter(pk=int(raw))
            .values_list("org_id", flat=True)
            .first()
        )
    if scope == "org":
        return Org.objects.filter(pk=int(raw)).values_list("pk", flat=True).first()
    return None


# Events planned in one transaction by :func:`plan_events`, their sending
# enqueued together: a notice to 3,000 ``user:`` streams is 3,000 events.
PLAN_CHUNK = 200

NOTHING = {"notifications": 0, "push": 0, "email": 0}


def plan_events(
    event_ids: list[int], now: datetime.datetime | None = None
) -> dict[str, int]:
    """Plan several events (:func:`plan_event`); return the summed counts.

    The events are planned ``PLAN_CHUNK`` at a time, each chunk together
    (:func:`_plan_chunk`: the same number of statements whatever its number
    of events and readers) in one transaction that ends by enqueueing one
    push task and one e-mail task for all its deliveries: one event per
    reader (a notice to every member's ``user:`` stream) would otherwise
    make one task per push and per e-mail, each picked up by a worker on its
    own. A failure rolls back its chunk (planned and enqueued together, or
    neither), so a retried task plans what is left.
    """
    now = now or timezone.now()
    total = dict(NOTHING)
    for start in range(0, len(event_ids), PLAN_CHUNK):
        with transaction.atomic():
            counts, pushes, sends = _plan_chunk(
                event_ids[start : start + PLAN_CHUNK], now
            )
            _enqueue(pushes, sends)
        for key, value in counts.items():
            total[key] += value
    return total


def plan_event(event_id: int, now: datetime.datetime | None = None) -> dict:
    """Write the notifications and deliveries of one event; enqueue sending.

    Returns counts ``{"notifications": n, "push": p, "email": e}`` (tests and
    logs): ``n`` readers told (planned now or before), ``p`` pushes and
    ``e`` e-mails queued now. An event of a kind without category, or
    already planned, writes nothing. ``now`` (aware) defaults to the current
    time. It is :func:`plan_events` of one event.

    Planned already: inside the writing transaction the event rows are
    locked (``SELECT … FOR NO KEY UPDATE`` on PostgreSQL; SQLite's
    ``IMMEDIATE`` transactions hold the database's write lock from their
    start), then the readers who have a notification of these events are
    read and left out, and the others' notifications are inserted in bulk,
    their ids returned by the ``INSERT``. A second planner of the same event
    (a retried task) waits for the first to commit, then finds every
    notification made. The unique constraint on user × event still stands
    behind the lock: a duplicate would fail the whole plan (nothing
    written), never be stored.
    """
    return plan_events([event_id], now)


def _readers(events: list[Event]) -> dict[str, list[User]]:
    """Return ``{stream name: readers}`` of the events' streams.

    ``user:`` streams (one per member for a notice) are read in one query
    for all; class and org streams (few) by :func:`core.roster.streams.readers_of`.
    Each stream gets its own user objects (``children_here`` is per stream).
    """
    from hub.streams import InvalidStreamName, parse_stream

    names = {event.stream.name for event in events}
    wanted: dict[str, int] = {}
    found: dict[str, list[User]] = {}
    for name in names:
        try:
            scope, object_id = parse_stream(name)
        except InvalidStreamName:
            found[name] = []
            continue
        if scope == "user":
            wanted[name] = object_id
        else:
            found[name] = readers_of(name)
    if wanted:
        users = User.objects.filter(is_active=True, pk__in=set(wanted.values()))
        by_pk = {user.pk: user for user in users}
        for name, user_id in wanted.items():
            user = by_pk.get(user_id)
            if user is not None:
                user.children_here = []
            found[name] = [user] if user is not None else []
    return found


def _plan_chunk(
    event_ids: list[int], now: datetime.datetime
) -> tuple[dict[str, int], list[int], list[int]]:
    """Plan events together; return (counts, push delivery ids, e-mail send ids).

    Runs inside the caller's transaction. The statements do not grow with
    the number of events or readers: the events with their streams, the
    ``user:`` streams' users, each class or org stream's readers, the
    choices of each category, the readers' settings, schools' zones,
    devices and mutes, the org names, the lock of the event rows, the
    notifications there already, then one ``INSERT`` per table (or per batch
    of the database's parameter limit).
    """
    events = list(
        Event.objects.select_related("stream").filter(pk__in=event_ids).order_by("pk")
    )
    plans = []  # (event, category, notice)
    for event in events:
        described = _notice(event)
        if described is not None:
            plans.append((event, *described))
    if not plans:
        return dict(NOTHING), [], []
    streams = _readers([event for event, _category, _notice_ in plans])
    work = []  # (event, category, notice, readers)
    for event, category_key, notice in plans:
        readers = [u for u in streams[event.stream.name] if u.pk != notice.actor_id]
        if readers:
            work.append((event, category_key, notice, readers))
    if not work:
        return dict(NOTHING), [], []

    everyone: dict[int, User] = {}
    by_category: dict[str, dict[int, User]] = {}
    for _event, category_key, _described, readers in work:
        for user in readers:
            everyone.setdefault(user.pk, user)
            by_category.setdefault(category_key, {}).setdefault(user.pk, user)
    union = list(everyone.values())
    choices = {
        key: choices_of(list(users.values()), key) for key, users in by_category.items()
    }
    clocks = settings_of(union)
    zones = _zones(union, clocks)
    devices: dict[int, list[PushSubscription]] = {}
    for sub in PushSubscription.objects.filter(user__in=union):
        devices.setdefault(sub.user_id, []).append(sub)
    mute_keys = {notice.mute_key for _e, _c, notice, _r in work if notice.mute_key}
    muted: set[tuple[int, str]] = set()
    if mute_keys:
        muted = set(
            Mute.objects.filter(
                user__in=union, key__in=mute_keys, until__gt=now
            ).values_list("user_id", "key")
        )
    # A notice names its school; older events are placed by their stream
    # (one query per stream, not per event).
    by_stream: dict[str, int | None] = {}
    org_ids: dict[int, int | None] = {}
    for event, _category, notice, _told in work:
        if notice.org_id:
            org_ids[event.pk] = notice.org_id
            continue
        name = event.stream.name
        if name not in by_stream:
            by_stream[name] = _org_id(event, notice)
        org_ids[event.pk] = by_stream[name]
    orgs = _org_names({org_id for org_id in org_ids.values() if org_id})

    # One planner at a time per event: FOR NO KEY UPDATE on PostgreSQL
    # (inserts referencing the event take FOR KEY SHARE and go on); an
    # IMMEDIATE transaction on SQLite already holds the write lock.
    planned_ids = [event.pk for event, _c, _n, _r in work]
    locked = Event.objects.select_for_update(no_key=True).filter(pk__in=planned_ids)
    list(locked.values_list("pk", flat=True))
    planned = set(
        Notification.objects.filter(event_id__in=planned_ids).values_list(
            "event_id", "user_id"
        )
    )
    todo = []  # (user, notification, category, notice)
    told = 0
    for event, category_key, notice, readers in work:
        told += len(readers)
        org_id = org_ids[event.pk]
        for user in readers:
            choice = choices[category_key][user.pk]
            if not (choice.inapp or choice.push or choice.email or choice.digest):
                continue  # "off": not even a notification row
            if (event.pk, user.pk) in planned:
                continue  # planned already
            child = notice.child_name or ", ".join(getattr(user, "children_here", []))
            note = Notification(
                user=user,
                event=event,
                category=category_key,
                urgent=notice.urgent,
                title=notice.title[:200],
                body=notice.body[:1000],
                url=notice.url[:300],
                tag=notice.tag[:100],
                child_name=child[:150],
                org_id=org_id,
                org_name=orgs.get(org_id, "")[:200],
            )
            todo.append((user, note, category_key, notice))
    # Ids come back from the INSERT (PostgreSQL, SQLite 3.35+): the
    # deliveries and e-mail periods need them.
    Notification.objects.bulk_create([note for _user, note, _c, _n in todo])
    rows = []
    for user, note, category_key, notice in todo:
        rows += _deliveries(
            note,
            user,
            choices[category_key][user.pk],
            notice,
            CATEGORIES[category_key],
            clocks[user.pk],
            zones[user.pk],
            devices.get(user.pk, []),
            (user.pk, notice.mute_key) in muted,
            now,
        )
    EmailSend.objects.bulk_create([row.email for row in rows if row.email])
    Delivery.objects.bulk_create(rows)
    pushes: list[int] = []
    sends: list[int] = []
    for row in rows:
        if row.channel == Channel.PUSH and row.status == Status.QUEUED:
            pushes.append(row.pk)
        if row.channel == Channel.EMAIL and row.status == Status.QUEUED:
            assert row.email_id is not None  # a queued e-mail has its send
            sends.append(row.email_id)
    counts = {"notifications": told, "push": len(pushes), "email": len(sends)}
    return counts, pushes, sends


def _zones(readers: list[User], clocks: dict) -> dict:
    """Return each reader's zone: their own, else their first school's.

    The schools' zones are read in one query for every reader without a
    zone of their own (:func:`hub.delivery.preferences.school_zones`).
    """
    from hub.delivery.preferences import school_zones

    fallback = school_zones([u for u in readers if not clocks[u.pk].time_zone])
    return {
        user.pk: zones.zone_of(clocks[user.pk], fallback.get(user.pk, ""))
        for user in readers
    }


def _deliveries(
    note, user, choice, notice, spec, user_clock, zone, subs, muted, now
) -> list[Delivery]:
    rows = []

    def add(channel, status, reason="", **extra):
        rows.append(
            Delivery(
                notification=note,
                user=user,
                channel=channel,
                status=status,
                reason=reason[:300],
                **extra,
            )
        )

    mute_reason = _("muted by the user")
    # No device for push: the categories that must get through go by e-mail.
    fallback = bool(
        choice.push
        and notice.push
        and not subs
        and not muted
        and spec.email_fallback
        and not choice.email
        and user.email
    )
    if choice.push and not notice.push:
        add(Channel.PUSH, Status.SUPPRESSED, _("this kind of notice is not pushed"))
    elif choice.push:
        if muted:
            add(Channel.PUSH, Status.SUPPRESSED, mute_reason)
        elif fallback:
            add(
                Channel.PUSH,
                Status.SUPPRESSED,
                _("no device subscribed to notifications: sent by e-mail instead"),
            )
        elif not subs:
            add(
                Channel.PUSH,
                Status.SUPPRESSED,
                _("no device subscribed to notifications"),
            )
        else:
            status, reason, when = _push_timing(notice, user_clock, zone, now)
            for sub in subs:
                add(
                    Channel.PUSH, status, reason, subscription=sub, next_attempt_at=when
                )
    else:
        add(
            Channel.PUSH,
            Status.SUPPRESSED,
            _("preference: no push for %(category)s") % {"category": spec.label},
        )
    if choice.email or fallback:
        if muted:
            add(Channel.EMAIL, Status.SUPPRESSED, mute_reason)
        elif not user.email:
            add(Channel.EMAIL, Status.SUPPRESSED, _("no e-mail address"))
        else:
            # Saved with the others' (one INSERT), before the deliveries.
            send = EmailSend(user=user, period=f"now:{note.pk}")
            add(Channel.EMAIL, Status.QUEUED, email=send)
    if choice.digest and not muted:
        channel = Channel.DAILY if choice.digest == Digest.DAILY else Channel.WEEKLY
        if user.email:
            add(channel, Status.QUEUED)
        else:
            add(channel, Status.SUPPRESSED, _("no e-mail address"))
    return rows


def _push_timing(notice, user_clock, zone, now):
    """Return (status, reason, next attempt) of a push: now, or held till morning."""
    grace = datetime.timedelta(seconds=settings.DELIVERY_SEEN_GRACE)
    if notice.silent:
        release = quiet_hours.next_morning(user_clock, now, zone)
        if release > now:
            return Status.HELD, _("sent silently: pushed in the morning"), release
    window = quiet_hours.quiet_window(user_clock, now, zone)
    if window.quiet and not notice.urgent:
        return Status.HELD, _("quiet hours"), window.ends_at
    return Status.QUEUED, "", now + grace


def _enqueue(pushes: list[int], sends: list[int]) -> None:
    if pushes:
        grace = datetime.timedelta(seconds=settings.DELIVERY_SEEN_GRACE)
        task = send_pushes
        if grace:
            task = task.using(run_after=timezone.now() + grace)
        task.enqueue(pushes)
    if sends:
        send_emails.enqueue(sends)
