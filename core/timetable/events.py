"""Event kinds the timetable emits (on ``class:<id>`` streams)."""

from typing import Literal

from pydantic import BaseModel

from hub.events import HubEvent


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
    op: Literal[
        "added", "cancelled", "restored", "moved", "room_changed", "teacher_changed"
    ]
    changes: list[str]
    occurrence: OccurrenceData


class FeedImported(HubEvent):
    """A whole feed was (re)loaded: pages should reload the week."""

    kind = "timetable.feed"
    notify = False
    op: Literal["imported"]
    class_id: int
    occurrences: int
