"""Event kinds the timetable emits (on ``class:<id>`` streams)."""

import datetime
from typing import Literal

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from pydantic import BaseModel

from hub.events import HubEvent, Notice, local_when


class OccurrenceData(BaseModel):
    """An occurrence as pages draw it; datetimes in ISO 8601 with offset."""

    id: int
    class_id: int
    subject: str
    start: str
    end: str
    room: str
    teachers: str
    status: str
    previous_start: str | None = None
    previous_end: str | None = None
    previous_room: str = ""
    previous_teachers: str = ""
    reason: str = ""


Op = Literal[
    "added", "cancelled", "restored", "moved", "room_changed", "teacher_changed"
]


class OccurrenceChanged(HubEvent):
    """One lesson changed: ``changes`` lists every kind that applies.

    A live update for open pages, not a notification: the action that made
    the change also sends one :class:`TimetableChanges` for all the lessons
    it changed, and that one is the notification (push, e-mail, digest,
    notification centre).
    """

    kind = "timetable.occurrence"
    notify = False
    op: Op
    changes: list[str]
    occurrence: OccurrenceData
    org_id: int | None = None  # the class's school (None: older events)


class ChangeData(BaseModel):
    """One lesson's change as a :class:`TimetableChanges` lists it."""

    op: Op
    changes: list[str]
    occurrence: OccurrenceData


# How many changes a TimetableChanges lists (its notice names them).
LISTED = 3


class TimetableChanges(HubEvent):
    """The changes one action made to a class's lessons, told once.

    An import that changes seven lessons, or a staff member's change of one,
    sends its ``timetable.occurrence`` updates and then one of these: it is
    the notification of them all. ``count`` changes in all; ``first`` lists
    the earliest lessons (at most :data:`LISTED`, by start); ``week`` is the
    Monday of the earliest (``YYYY-MM-DD``); ``batch`` is the id of the first
    change recorded (``OccurrenceChange``), which names the batch.
    """

    kind = "timetable.changes"
    category = "timetable"
    op: Literal["changed"]
    batch: int
    class_id: int
    class_title: str
    org_id: int
    count: int
    week: str
    first: list[ChangeData]
    reason: str = ""

    def notice(self, created_at: datetime.datetime) -> Notice:
        """One change as the timetable page says it; several as their count.

        "7 changes in the timetable of 3e A", the first few listed in the
        body ("Maths Mon. 19/01 08:00 cancelled, …"), a link to the week of
        the earliest change.
        """
        url = f"/timetable/?class={self.class_id}&week={self.week}"
        if self.count == 1:
            change = self.first[0]
            return Notice(
                title=_single_title(change.op, change.occurrence),
                body=change.occurrence.reason,
                url=url,
                tag=f"occurrence-{change.occurrence.id}",
                org_id=self.org_id,
            )
        title = ngettext(
            "%(count)s change in the timetable of %(class)s",
            "%(count)s changes in the timetable of %(class)s",
            self.count,
        ) % {"count": self.count, "class": self.class_title}
        listed = ", ".join(_short(change) for change in self.first)
        if self.count > len(self.first):
            listed += ", …"
        body = f"{listed}\n{self.reason}" if self.reason else listed
        return Notice(
            title=title,
            body=body,
            url=url,
            tag=f"timetable-{self.batch}",
            org_id=self.org_id,
        )


def _values(occ: OccurrenceData) -> dict:
    return {
        "subject": occ.subject,
        "when": local_when(occ.start),
        "old": local_when(occ.previous_start),
        "room": occ.room,
        "old_room": occ.previous_room,
        "teachers": occ.teachers,
    }


def _single_title(op: str, occ: OccurrenceData) -> str:
    """Cancelled, moved, room or teacher change, as the timetable page says it."""
    titles = {
        "cancelled": _("Cancelled: %(subject)s, %(when)s"),
        "moved": _("Moved: %(subject)s, %(old)s → %(when)s")
        if occ.previous_start
        else _("Moved: %(subject)s, now %(when)s"),
        "room_changed": _("Room change: %(subject)s, %(when)s, %(old_room)s → %(room)s")
        if occ.previous_room
        else _("Room change: %(subject)s, %(when)s, room %(room)s"),
        "teacher_changed": _(
            "Teacher change: %(subject)s, %(when)s, with %(teachers)s"
        ),
        "added": _("Lesson added: %(subject)s, %(when)s"),
        "restored": _("Lesson restored: %(subject)s, %(when)s"),
    }
    return titles[op] % _values(occ)


def _short(change: ChangeData) -> str:
    """One change in a list: "Maths Mon. 19/01 08:00 cancelled"."""
    texts = {
        "cancelled": _("%(subject)s %(when)s cancelled"),
        "moved": _("%(subject)s moved to %(when)s"),
        "room_changed": _("%(subject)s %(when)s in room %(room)s"),
        "teacher_changed": _("%(subject)s %(when)s with %(teachers)s"),
        "added": _("%(subject)s %(when)s added"),
        "restored": _("%(subject)s %(when)s restored"),
    }
    return texts[change.op] % _values(change.occurrence)


class FeedImported(HubEvent):
    """A whole feed was (re)loaded: pages should reload the week."""

    kind = "timetable.feed"
    notify = False
    op: Literal["imported"]
    class_id: int
    occurrences: int
