"""Event kinds attendance emits (on the ``user:<id>`` streams concerned)."""

from typing import Literal

from pydantic import BaseModel

from hub.events import HubEvent


class LessonRef(BaseModel):
    """The occurrence an attendance event is about (times ISO 8601)."""

    id: int
    class_id: int
    class_title: str
    subject: str
    start: str
    end: str


class _PupilEvent(HubEvent):
    """Fields every event about one pupil's attendance record carries."""

    record_id: int
    student_id: int
    student_name: str
    org_id: int
    status: str
    lesson: LessonRef


class AttendanceRecorded(_PupilEvent):
    """A pupil was marked absent or late, or a mark was corrected.

    ``op`` is ``recorded`` for a new absence or lateness, ``updated`` when it
    changes, ``cleared`` when the pupil is finally marked present.
    """

    kind = "attendance.record"
    op: Literal["recorded", "updated", "cleared"]
    minutes_late: int | None


class ExcuseChanged(_PupilEvent):
    """A guardian submitted an excuse, or staff accepted or refused it.

    ``status`` is the excuse's (pending, accepted, refused).
    """

    kind = "attendance.excuse"
    op: Literal["submitted", "accepted", "refused"]
    excuse_id: int
    reason: str
    note: str = ""


class RollCallMissing(HubEvent):
    """No roll call 15 minutes after the lesson started."""

    kind = "attendance.roll_call"
    op: Literal["missing"]
    org_id: int
    lesson: LessonRef
