"""The agenda's part of each user's iCalendar feed (``core.timetable.feed``).

- Entries: those the user reads now (``access.entries_for``) whose start is
  in the feed's window; UID ``agenda-<id>@<host>``; an all-day entry is
  written with VALUE=DATE days; ``STATUS:CANCELLED`` once cancelled;
  SEQUENCE is the entry's ``sequence``; DTSTAMP and LAST-MODIFIED the last
  change (cancel, edit, creation).
- Meetings: the user's bookings (``access.bookings_for``: a guardian's own,
  a teacher's slots', while the roster holds) in the window; UID
  ``booking-<id>@<host>``; a cancelled booking stays, ``STATUS:CANCELLED``,
  SEQUENCE 1.

:func:`read` reads the rows once per fetch; :func:`version_part` takes
exactly what :func:`events` writes, without rendering: the feed's ETag
changes whenever an entry or a booking does.
"""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from icalendar import Event

from core.agenda import access
from core.agenda.models import AgendaEntry, Booking
from core.roster.models import User


@dataclass(frozen=True)
class Rows:
    """The user's entries and bookings of a feed's window."""

    entries: list[AgendaEntry]
    bookings: list[Booking]


def read(user: User, window) -> Rows:
    """The entries and bookings of ``user``'s feed in ``window`` (read once
    per fetch, for the version and the rendering)."""
    start, end = window
    return Rows(
        entries=[e for e in access.entries_for(user, since=start) if e.start < end],
        bookings=list(
            access.bookings_for(user)
            .filter(slot__start__gte=start, slot__start__lt=end)
            .order_by("slot__start", "pk")
        ),
    )


def _stamp(entry: AgendaEntry) -> dt.datetime:
    return max(filter(None, [entry.created_at, entry.edited_at, entry.cancelled_at]))


def _name(person: User) -> str:
    return person.get_full_name() or str(person)


def version_part(rows: Rows) -> tuple:
    """What the agenda adds to the feed's version (see module)."""
    entries = tuple(
        (
            e.pk,
            e.sequence,
            _stamp(e).isoformat(),
            e.title,
            e.location,
            e.description,
            e.start.isoformat(),
            e.end.isoformat(),
            e.all_day,
            e.org.time_zone,
        )
        for e in rows.entries
    )
    bookings = tuple(
        (
            b.pk,
            b.sequence,
            b.slot.start.isoformat(),
            b.slot.minutes,
            b.slot.room,
            _name(b.teacher),
            _name(b.guardian),
            _name(b.student),
        )
        for b in rows.bookings
    )
    return ("agenda", entries, bookings)


def _entry_event(entry: AgendaEntry, host: str) -> Event:
    zone = ZoneInfo(entry.org.time_zone or "Europe/Paris")
    event = Event()
    event.add("uid", f"agenda-{entry.pk}@{host}")
    stamp = _stamp(entry).astimezone(dt.UTC)
    event.add("dtstamp", stamp)
    if entry.all_day:
        event.add("dtstart", entry.start.astimezone(zone).date())
        event.add("dtend", entry.end.astimezone(zone).date())
    else:
        event.add("dtstart", entry.start.astimezone(zone))
        event.add("dtend", entry.end.astimezone(zone))
    event.add("summary", entry.title)
    if entry.location:
        event.add("location", entry.location)
    lines = [str(AgendaEntry.Kind(entry.kind).label).capitalize()]
    if entry.description:
        lines.append(entry.description)
    event.add("description", "\n".join(lines))
    event.add("status", "CANCELLED" if entry.cancelled_at else "CONFIRMED")
    event.add("sequence", entry.sequence)
    event.add("last-modified", stamp)
    return event


def _booking_event(booking: Booking, user: User, host: str) -> Event:
    zone = ZoneInfo(booking.evening.org.time_zone or "Europe/Paris")
    slot = booking.slot
    event = Event()
    event.add("uid", f"booking-{booking.pk}@{host}")
    stamp = (booking.cancelled_at or booking.created_at).astimezone(dt.UTC)
    event.add("dtstamp", stamp)
    event.add("dtstart", slot.start.astimezone(zone))
    event.add(
        "dtend", (slot.start + dt.timedelta(minutes=slot.minutes)).astimezone(zone)
    )
    values = {
        "teacher": _name(booking.teacher),
        "guardian": _name(booking.guardian),
        "child": _name(booking.student),
    }
    if user.role == User.Role.TEACHER:
        summary = _("Meeting: %(guardian)s (%(child)s)") % values
    else:
        summary = _("Meeting: %(child)s with %(teacher)s") % values
    event.add("summary", summary)
    if slot.room:
        event.add("location", slot.room)
    event.add("description", booking.evening.title)
    event.add("status", "CANCELLED" if booking.cancelled_at else "CONFIRMED")
    event.add("sequence", booking.sequence)
    event.add("last-modified", stamp)
    return event


def events(user: User, rows: Rows, host: str) -> list[Event]:
    """The VEVENTs of ``user``'s entries and meetings (:func:`read`)."""
    return [_entry_event(entry, host) for entry in rows.entries] + [
        _booking_event(booking, user, host) for booking in rows.bookings
    ]
