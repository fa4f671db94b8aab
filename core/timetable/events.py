"""Event kinds the timetable emits (on ``class:<id>`` streams)."""

import datetime
from typing import Literal

from django.utils.translation import gettext as _
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


class OccurrenceChanged(HubEvent):
    """One lesson changed: ``changes`` lists every kind that applies."""

    kind = "timetable.occurrence"
    category = "timetable"
    op: Literal[
        "added", "cancelled", "restored", "moved", "room_changed", "teacher_changed"
    ]
    changes: list[str]
    occurrence: OccurrenceData
    org_id: int | None = None  # the class's school (None: older events)

    def notice(self, created_at: datetime.datetime) -> Notice:
        """Cancelled, moved, room or teacher change, as the timetable page says it."""
        occ = self.occurrence
        values = {
            "subject": occ.subject,
            "when": local_when(occ.start),
            "old": local_when(occ.previous_start),
            "room": occ.room,
            "old_room": occ.previous_room,
            "teachers": occ.teachers,
        }
        titles = {
            "cancelled": _("Cancelled: %(subject)s, %(when)s"),
            "moved": _("Moved: %(subject)s, %(old)s → %(when)s")
            if occ.previous_start
            else _("Moved: %(subject)s, now %(when)s"),
            "room_changed": _(
                "Room change: %(subject)s, %(when)s, %(old_room)s → %(room)s"
            )
            if occ.previous_room
            else _("Room change: %(subject)s, %(when)s, room %(room)s"),
            "teacher_changed": _(
                "Teacher change: %(subject)s, %(when)s, with %(teachers)s"
            ),
            "added": _("Lesson added: %(subject)s, %(when)s"),
            "restored": _("Lesson restored: %(subject)s, %(when)s"),
        }
        monday = datetime.datetime.fromisoformat(occ.start).date()
        monday -= datetime.timedelta(days=monday.weekday())
        return Notice(
            title=titles[self.op] % values,
            body=occ.reason,
            url=f"/timetable/?week={monday:%Y-%m-%d}",
            tag=f"occurrence-{occ.id}",
            org_id=self.org_id,
        )


class FeedImported(HubEvent):
    """A whole feed was (re)loaded: pages should reload the week."""

    kind = "timetable.feed"
    notify = False
    op: Literal["imported"]
    class_id: int
    occurrences: int
