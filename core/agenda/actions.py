"""Agenda writes. Each action writes its rows inside ``transaction.atomic``,
records an audit entry and emits its events.

Rules (tested in tests/agenda):

- **Entries**: staff of the entry's org (``access.manages``) create, change
  and cancel them. The audience is validated through ``Audience`` (known
  roles and levels; every class of the entry's org). The end is not before
  the start; an all-day entry takes dates (first and last day). A change
  after publication counts in ``sequence`` (the iCalendar SEQUENCE) and is
  told to the members after the change (``changed``); the members it leaves
  out hear ``removed`` with the entry as they knew it, never the new one.
- **Evenings**: staff create them for classes of their org; the booking
  window closes before the evening starts.
- **Slots**: a teacher of a class concerned opens slots on the evening's
  day, in bulk ("17:00 to 19:00, 10 min each"), none overlapping another of
  their slots.
- **Bookings**: while the window is open, a guardian books a free slot for
  a child of theirs in a class concerned, with a teacher who teaches that
  child now; one per teacher per child per evening and one per slot (the
  database's partial unique constraints decide a race: the loser gets
  :class:`AgendaError` with a clear message). The guardian cancels until the
  window closes.
- **Roster**: a booking whose link or enrollment ended is void (see
  ``access``); :func:`cancel_void_bookings` (the scheduler, or the next
  booking of the slot) cancels it and tells the teacher.
- **Reminder**: from 17:00 (local) the day before, each live booking is
  reminded once (a conditional update of ``reminded_at``), to the guardian
  and the teacher.
"""

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import hub
from core.agenda import access
from core.agenda.events import (
    BookingChanged,
    BookingData,
    BookingReminder,
    EntryChanged,
    EntryData,
    SlotsChanged,
)
from core.agenda.models import AgendaEntry, Booking, MeetingEvening, MeetingSlot
from core.audit import log as audit
from core.roster import audience as audiences
from core.roster.audience import Audience, members
from core.roster.models import Org, User
from hub.streams import class_stream, user_stream

REMINDER_HOUR = 17
MIN_SLOT_MINUTES = 5
MAX_SLOT_MINUTES = 60
MAX_SLOTS = 60


class AgendaError(ValueError):
    """A request the rules refuse; ``str(error)`` is a message for the user."""


def zone_of(org: Org) -> ZoneInfo:
    return ZoneInfo(org.time_zone or "Europe/Paris")


def _audit(actor, action: str, target_type: str, target_id: int, org_id, **detail):
    audit.record(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        org_id=org_id,
        detail=detail,
    )


def _check_staff(actor: User, org: Org) -> None:
    if not access.manages(actor, org.pk):
        raise AgendaError(_("You do not manage this school's agenda."))


def clean_audience(org: Org, roles=(), levels=(), class_ids=()) -> Audience:
    """The audience of ``org`` for these roles, levels and classes
    (``audience.check``), or :class:`AgendaError`."""
    try:
        return audiences.check(org.pk, roles, levels, class_ids)
    except audiences.AudienceError as error:
        raise AgendaError(str(error)) from None


# Entries --------------------------------------------------------------------


def entry_data(entry: AgendaEntry) -> EntryData:
    zone = zone_of(entry.org)
    return EntryData(
        id=entry.pk,
        kind=entry.kind,
        kind_label=str(AgendaEntry.Kind(entry.kind).label),
        title=entry.title,
        location=entry.location,
        start=entry.start.astimezone(zone).isoformat(),
        end=entry.end.astimezone(zone).isoformat(),
        all_day=entry.all_day,
        cancelled=entry.cancelled_at is not None,
    )


def _entry_fields(org: Org, fields: dict) -> dict:
    title = (fields.get("title") or "").strip()
    if not title:
        raise AgendaError(_("Give the entry a title."))
    if fields.get("kind") not in AgendaEntry.Kind.values:
        raise AgendaError(_("Unknown kind of entry."))
    start, end, all_day = fields.get("start"), fields.get("end"), fields.get("all_day")
    if start is None or end is None:
        raise AgendaError(_("Give a start and an end."))
    if all_day:
        if isinstance(start, dt.datetime) or isinstance(end, dt.datetime):
            raise AgendaError(_("An all-day entry takes dates."))
        if end < start:
            raise AgendaError(_("The end is before the start."))
        zone = zone_of(org)
        start = dt.datetime.combine(start, dt.time(), zone)
        end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone)
    else:
        if not isinstance(start, dt.datetime) or timezone.is_naive(start):
            raise AgendaError(_("Give a start time."))
        if not isinstance(end, dt.datetime) or timezone.is_naive(end):
            raise AgendaError(_("Give an end time."))
        if end < start:
            raise AgendaError(_("The end is before the start."))
    audience = fields.get("audience")
    if not isinstance(audience, Audience) or audience.org_id != org.pk:
        raise AgendaError(_("Choose who the entry is for."))
    return {
        "kind": fields["kind"],
        "title": title[:200],
        "description": (fields.get("description") or "").strip()[:5000],
        "location": (fields.get("location") or "").strip()[:200],
        "start": start,
        "end": end,
        "all_day": bool(all_day),
        "audience": audience.to_json(),
    }


def _emit_entry(
    entry: AgendaEntry,
    op: Literal["published", "changed", "cancelled", "removed"],
    actor: User,
    reached: set[int] | None = None,
) -> None:
    """Tell the audience's members (``reached``: read now if not given)."""
    if reached is None:
        reached = set(members(access.audience_of(entry)))
    hub.send_event(
        [user_stream(pk) for pk in sorted(reached)],
        EntryChanged(
            op=op, org_id=entry.org_id, entry=entry_data(entry), actor_id=actor.pk
        ),
    )


def create_entry(*, actor: User, org: Org, **fields) -> AgendaEntry:
    """Publish an entry (see the module's rules)."""
    _check_staff(actor, org)
    values = _entry_fields(org, fields)
    with transaction.atomic():
        entry = AgendaEntry.objects.create(org=org, author=actor, **values)
        _audit(actor, "agenda.entry_created", "agenda_entry", entry.pk, org.pk)
        _emit_entry(entry, "published", actor)
    return entry


def change_entry(*, actor: User, entry: AgendaEntry, **fields) -> AgendaEntry:
    """Change an entry; members before and after hear of it."""
    _check_staff(actor, entry.org)
    if entry.cancelled_at:
        raise AgendaError(_("This entry is cancelled."))
    values = _entry_fields(entry.org, fields)
    with transaction.atomic():
        entry = AgendaEntry.objects.select_for_update().get(pk=entry.pk)
        before = set(members(access.audience_of(entry)))
        old = entry_data(entry)
        for name, value in values.items():
            setattr(entry, name, value)
        entry.edited_at = timezone.now()
        entry.sequence += 1
        entry.save()
        _audit(actor, "agenda.entry_changed", "agenda_entry", entry.pk, entry.org_id)
        after = set(members(access.audience_of(entry)))
        left = before - after
        # Two events: every stream locked first, in one order (no deadlock).
        hub.lock_streams(user_stream(pk) for pk in before | after)
        _emit_entry(entry, "changed", actor, after)
        if left:
            # Those the change leaves out hear it is gone, with what they knew.
            hub.send_event(
                [user_stream(pk) for pk in sorted(left)],
                EntryChanged(
                    op="removed", org_id=entry.org_id, entry=old, actor_id=actor.pk
                ),
            )
    return entry


def cancel_entry(*, actor: User, entry: AgendaEntry) -> AgendaEntry:
    """Cancel an entry (it stays, marked cancelled, in pages and feeds)."""
    _check_staff(actor, entry.org)
    with transaction.atomic():
        entry = AgendaEntry.objects.select_for_update().get(pk=entry.pk)
        if entry.cancelled_at:
            return entry
        entry.cancelled_at = timezone.now()
        entry.sequence += 1
        entry.save(update_fields=["cancelled_at", "sequence"])
        _audit(actor, "agenda.entry_cancelled", "agenda_entry", entry.pk, entry.org_id)
        _emit_entry(entry, "cancelled", actor)
    return entry


# Evenings and slots -----------------------------------------------------------


def create_evening(
    *,
    actor: User,
    org: Org,
    title: str,
    date: dt.date,
    class_ids,
    booking_opens: dt.datetime,
    booking_closes: dt.datetime,
) -> MeetingEvening:
    """Create a parent–teacher evening for classes of ``org``."""
    _check_staff(actor, org)
    title = (title or "").strip()
    if not title:
        raise AgendaError(_("Give the evening a title."))
    if not class_ids:
        raise AgendaError(_("Choose the classes concerned."))
    audience = clean_audience(org, class_ids=class_ids)
    if booking_closes <= booking_opens:
        raise AgendaError(_("Booking must close after it opens."))
    if booking_closes > dt.datetime.combine(date, dt.time(), zone_of(org)):
        raise AgendaError(_("Booking must close before the evening's day."))
    with transaction.atomic():
        evening = MeetingEvening.objects.create(
            org=org,
            title=title[:200],
            date=date,
            audience=audience.to_json(),
            booking_opens=booking_opens,
            booking_closes=booking_closes,
            author=actor,
        )
        _audit(actor, "agenda.evening_created", "meeting_evening", evening.pk, org.pk)
    return evening


def _slot_streams(evening: MeetingEvening) -> list[str]:
    return [class_stream(pk) for pk in access.evening_class_ids(evening)]


def _emit_slots(evening: MeetingEvening, teacher_id: int) -> None:
    hub.send_event(
        _slot_streams(evening),
        SlotsChanged(op="changed", evening_id=evening.pk, teacher_id=teacher_id),
    )


def open_slots(
    *,
    teacher: User,
    evening: MeetingEvening,
    start: dt.time,
    end: dt.time,
    minutes: int,
    room: str = "",
) -> list[MeetingSlot]:
    """Open ``teacher``'s slots from ``start`` to ``end`` (local times of the
    evening's day), ``minutes`` each."""
    if not access.teaches_in(teacher, evening):
        raise AgendaError(_("You teach no class concerned by this evening."))
    if not MIN_SLOT_MINUTES <= minutes <= MAX_SLOT_MINUTES:
        raise AgendaError(_("A slot lasts from 5 to 60 minutes."))
    zone = zone_of(evening.org)
    first = dt.datetime.combine(evening.date, start, zone)
    last = dt.datetime.combine(evening.date, end, zone)
    if last <= first:
        raise AgendaError(_("The end is before the start."))
    step = dt.timedelta(minutes=minutes)
    starts = []
    moment = first
    while moment + step <= last:
        starts.append(moment)
        moment += step
    if not starts:
        raise AgendaError(_("No slot fits between these times."))
    if len(starts) > MAX_SLOTS:
        raise AgendaError(_("At most 60 slots at once."))
    with transaction.atomic():
        # The teacher's row: two bulk openings at once do not both pass the check.
        User.objects.select_for_update().filter(pk=teacher.pk).first()
        for other in MeetingSlot.objects.filter(
            teacher=teacher,
            start__lt=last,
            start__gt=first - dt.timedelta(minutes=MAX_SLOT_MINUTES),
        ):
            if other.start < last and first < other.start + dt.timedelta(
                minutes=other.minutes
            ):
                raise AgendaError(_("These slots overlap slots you already opened."))
        slots = MeetingSlot.objects.bulk_create(
            [
                MeetingSlot(
                    evening=evening,
                    teacher=teacher,
                    start=moment,
                    minutes=minutes,
                    room=(room or "").strip()[:100],
                )
                for moment in starts
            ]
        )
        _audit(
            teacher,
            "agenda.slots_opened",
            "meeting_evening",
            evening.pk,
            evening.org_id,
            count=len(slots),
        )
        _emit_slots(evening, teacher.pk)
    return slots


def remove_slot(*, teacher: User, slot: MeetingSlot) -> None:
    """Remove a free slot of ``teacher``'s."""
    with transaction.atomic():
        slot = MeetingSlot.objects.select_for_update().get(pk=slot.pk)
        if slot.teacher_id != teacher.pk:
            raise AgendaError(_("This slot is not yours."))
        if access.live_bookings().filter(slot=slot).exists():
            raise AgendaError(_("This slot is booked."))
        evening = slot.evening
        Booking.objects.filter(slot=slot).delete()
        slot.delete()
        _audit(
            teacher,
            "agenda.slot_removed",
            "meeting_evening",
            evening.pk,
            evening.org_id,
        )
        _emit_slots(evening, teacher.pk)


# Bookings -------------------------------------------------------------------


def booking_data(booking: Booking) -> BookingData:
    zone = zone_of(booking.evening.org)
    return BookingData(
        id=booking.pk,
        evening_id=booking.evening_id,
        slot_id=booking.slot_id,
        start=booking.slot.start.astimezone(zone).isoformat(),
        minutes=booking.slot.minutes,
        room=booking.slot.room,
        teacher_id=booking.teacher_id,
        teacher_name=booking.teacher.get_full_name() or str(booking.teacher),
        guardian_id=booking.guardian_id,
        guardian_name=booking.guardian.get_full_name() or str(booking.guardian),
        student_id=booking.student_id,
        student_name=booking.student.get_full_name() or str(booking.student),
    )


def _emit_booking(
    booking: Booking, op: Literal["booked", "cancelled"], actor, streams=None
) -> None:
    if streams is None:
        streams = [user_stream(booking.guardian_id), user_stream(booking.teacher_id)]
    hub.send_event(
        streams,
        BookingChanged(
            op=op,
            org_id=booking.evening.org_id,
            booking=booking_data(booking),
            actor_id=actor.pk if actor else None,
        ),
    )


def _void(booking: Booking, now: dt.datetime) -> None:
    """Cancel a void booking (inside the caller's transaction): the teacher hears."""
    booking.cancelled_at = now
    booking.save(update_fields=["cancelled_at"])
    _audit(
        None,
        "agenda.booking_voided",
        "booking",
        booking.pk,
        booking.evening.org_id,
        student=booking.student_id,
    )
    _emit_booking(booking, "cancelled", None, [user_stream(booking.teacher_id)])


def book(*, guardian: User, slot: MeetingSlot, student: User | None) -> Booking:
    """Book ``slot`` for ``student`` (see the module's rules). ``None`` (an id
    that names no one) is refused as another family's child is, so the
    answer never tells which ids exist."""
    evening = slot.evening
    now = timezone.now()
    if not evening.booking_is_open(now):
        raise AgendaError(_("Booking for this evening is closed."))
    if student is None or student not in access.children_for(guardian, evening):
        raise AgendaError(_("This child is not concerned by this evening."))
    if slot.teacher not in access.teachers_of_child(student, evening):
        raise AgendaError(_("This teacher does not teach this child."))
    taken = _("This slot has just been taken. Please choose another one.")
    try:
        with transaction.atomic():
            slot = MeetingSlot.objects.select_for_update().get(pk=slot.pk)
            # Several events: every stream locked first, in one order.
            hub.lock_streams(
                [user_stream(guardian.pk), user_stream(slot.teacher_id)]
                + _slot_streams(evening)
            )
            for void in (
                access.void_bookings()
                .filter(slot=slot)
                .select_related(
                    "slot", "evening__org", "teacher", "guardian", "student"
                )
            ):
                _void(void, now)
            if Booking.objects.filter(slot=slot, cancelled_at__isnull=True).exists():
                raise AgendaError(taken)
            if Booking.objects.filter(
                evening=evening,
                teacher=slot.teacher,
                student=student,
                cancelled_at__isnull=True,
            ).exists():
                raise AgendaError(_("You already booked a slot with this teacher."))
            booking = Booking.objects.create(
                slot=slot,
                evening=evening,
                teacher=slot.teacher,
                guardian=guardian,
                student=student,
            )
            _audit(
                guardian,
                "agenda.booked",
                "booking",
                booking.pk,
                evening.org_id,
                slot=slot.pk,
                student=student.pk,
            )
            _emit_booking(booking, "booked", guardian)
            _emit_slots(evening, slot.teacher_id)
    except IntegrityError:
        # The other click committed between our check and our insert.
        raise AgendaError(taken) from None
    return booking


def cancel_booking(*, guardian: User, booking: Booking) -> Booking:
    """The guardian cancels their booking while booking is open."""
    if booking.guardian_id != guardian.pk:
        raise AgendaError(_("This booking is not yours."))
    if timezone.now() >= booking.evening.booking_closes:
        raise AgendaError(_("Booking for this evening is closed."))
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update()
            .select_related("slot", "evening__org", "teacher", "guardian", "student")
            .get(pk=booking.pk)
        )
        if booking.cancelled_at:
            return booking
        hub.lock_streams(
            [user_stream(booking.guardian_id), user_stream(booking.teacher_id)]
            + _slot_streams(booking.evening)
        )
        booking.cancelled_at = timezone.now()
        booking.save(update_fields=["cancelled_at"])
        _audit(
            guardian,
            "agenda.booking_cancelled",
            "booking",
            booking.pk,
            booking.evening.org_id,
            student=booking.student_id,
        )
        _emit_booking(booking, "cancelled", guardian)
        _emit_slots(booking.evening, booking.teacher_id)
    return booking


# Scheduled jobs -------------------------------------------------------------


def cancel_void_bookings(now: dt.datetime | None = None) -> int:
    """Cancel the void bookings of meetings still to come; the teachers hear."""
    now = now or timezone.now()
    done = 0
    for pk in (
        access.void_bookings().filter(slot__start__gt=now).values_list("pk", flat=True)
    ):
        with transaction.atomic():
            booking = (
                access.void_bookings()
                .select_for_update(of=("self",))
                .select_related(
                    "slot", "evening__org", "teacher", "guardian", "student"
                )
                .filter(pk=pk)
                .first()
            )
            if booking is None:
                continue
            hub.lock_streams(
                [user_stream(booking.teacher_id)] + _slot_streams(booking.evening)
            )
            _void(booking, now)
            _emit_slots(booking.evening, booking.teacher_id)
            done += 1
    return done


def reminder_time(booking: Booking) -> dt.datetime:
    """17:00 (local) the day before the meeting."""
    zone = zone_of(booking.evening.org)
    day = booking.slot.start.astimezone(zone).date() - dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(REMINDER_HOUR), zone)


def send_reminders(now: dt.datetime | None = None) -> int:
    """Remind each live booking due (see the module) once; return how many."""
    now = now or timezone.now()
    sent = 0
    due = (
        access.live_bookings()
        .filter(
            reminded_at__isnull=True,
            slot__start__gt=now,
            slot__start__lte=now + dt.timedelta(days=2),
        )
        .select_related("slot", "evening__org", "teacher", "guardian", "student")
    )
    for booking in due:
        if now < reminder_time(booking):
            continue
        with transaction.atomic():
            claimed = Booking.objects.filter(
                pk=booking.pk, reminded_at__isnull=True, cancelled_at__isnull=True
            ).update(reminded_at=now)
            if not claimed:
                continue
            _audit(
                None,
                "agenda.booking_reminded",
                "booking",
                booking.pk,
                booking.evening.org_id,
            )
            hub.send_event(
                [user_stream(booking.guardian_id), user_stream(booking.teacher_id)],
                BookingReminder(
                    op="soon",
                    org_id=booking.evening.org_id,
                    booking=booking_data(booking),
                ),
            )
            sent += 1
    return sent


def scheduled_jobs(now: dt.datetime | None = None) -> dict:
    """The agenda jobs of the scheduler: void bookings, then reminders."""
    return {"voided": cancel_void_bookings(now), "reminded": send_reminders(now)}
