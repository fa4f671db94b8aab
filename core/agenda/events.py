"""Event kinds of the agenda.

- ``agenda.entry`` (published, changed, cancelled) on the ``user:`` stream
  of each member of the entry's audience (``audience.members``), never
  broader: a guardian in two schools hears each school's entries for them.
  A change that narrows the audience tells those it leaves ``removed``, with
  the entry as it was (what they already knew).
- ``agenda.booking`` (booked, cancelled) on the guardian's and the
  teacher's ``user:`` streams; ``Notice.child_id`` groups digests per child.
- ``agenda.reminder``: the meeting is soon, to the same two streams, once.
- ``agenda.slots`` on the ``class:`` streams of the evening's classes:
  which slots are taken, no names (guardian pages mark slots as they fill;
  not a notification).
"""

import datetime
from typing import Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel

from hub.events import HubEvent, Notice, local_when


class EntryData(BaseModel):
    id: int
    kind: str
    kind_label: str
    title: str
    location: str
    start: str
    end: str
    all_day: bool
    cancelled: bool


class EntryChanged(HubEvent):
    """An agenda entry was published, changed or cancelled."""

    kind = "agenda.entry"
    category = "agenda"
    op: Literal["published", "changed", "cancelled", "removed"]
    org_id: int
    entry: EntryData
    actor_id: int

    def notice(self, created_at: datetime.datetime) -> Notice:
        entry = self.entry
        values = {"title": entry.title, "when": local_when(entry.start)}
        if self.op == "cancelled":
            title = _("Cancelled: %(title)s (%(when)s)") % values
        elif self.op == "removed":
            title = _("No longer in your agenda: %(title)s (%(when)s)") % values
        elif self.op == "changed":
            title = _("Agenda changed: %(title)s (%(when)s)") % values
        else:
            title = _("In the agenda: %(title)s (%(when)s)") % values
        return Notice(
            title=title,
            body=entry.location,
            url="/agenda/",
            tag=f"agenda-{entry.id}",
            org_id=self.org_id,
            actor_id=self.actor_id,
        )


class BookingData(BaseModel):
    id: int
    evening_id: int
    slot_id: int
    start: str
    minutes: int
    room: str
    teacher_id: int
    teacher_name: str
    guardian_id: int
    guardian_name: str
    student_id: int
    student_name: str


class BookingChanged(HubEvent):
    """A guardian booked or cancelled a meeting slot (or the roster voided it)."""

    kind = "agenda.booking"
    category = "agenda"
    op: Literal["booked", "cancelled"]
    org_id: int
    booking: BookingData
    actor_id: int | None = None

    def notice(self, created_at: datetime.datetime) -> Notice:
        booking = self.booking
        values = {
            "teacher": booking.teacher_name,
            "child": booking.student_name,
            "when": local_when(booking.start),
        }
        if self.op == "cancelled":
            title = (
                _("Meeting cancelled: %(child)s with %(teacher)s, %(when)s") % values
            )
        else:
            title = _("Meeting booked: %(child)s with %(teacher)s, %(when)s") % values
        return Notice(
            title=title,
            body=booking.room,
            url=f"/agenda/evenings/{booking.evening_id}/",
            tag=f"agenda-booking-{booking.id}",
            child_id=booking.student_id,
            child_name=booking.student_name,
            org_id=self.org_id,
            actor_id=self.actor_id,
        )


class BookingReminder(HubEvent):
    """A booked meeting is soon (sent once per booking)."""

    kind = "agenda.reminder"
    category = "agenda"
    op: Literal["soon"]
    org_id: int
    booking: BookingData

    def notice(self, created_at: datetime.datetime) -> Notice:
        booking = self.booking
        title = _("Reminder: meeting about %(child)s with %(teacher)s, %(when)s") % {
            "teacher": booking.teacher_name,
            "child": booking.student_name,
            "when": local_when(booking.start),
        }
        return Notice(
            title=title,
            body=booking.room,
            url=f"/agenda/evenings/{booking.evening_id}/",
            tag=f"agenda-reminder-{booking.id}",
            child_id=booking.student_id,
            child_name=booking.student_name,
            org_id=self.org_id,
        )


class SlotsChanged(HubEvent):
    """Slots of an evening were opened, taken or freed (no names)."""

    kind = "agenda.slots"
    notify = False
    op: Literal["changed"]
    evening_id: int
    teacher_id: int
