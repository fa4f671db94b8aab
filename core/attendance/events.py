"""Event kinds attendance emits (on the ``user:<id>`` streams concerned)."""

import datetime
from typing import Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel

from hub.events import HubEvent, Notice, local_when


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

    def _notice(self, title: str, **extra) -> Notice:
        return Notice(
            title=title,
            body=f"{self.lesson.class_title} · {self.lesson.subject}",
            url="/absences/",
            tag=f"attendance-{self.record_id}",
            child_id=self.student_id,
            child_name=self.student_name,
            org_id=self.org_id,
            **extra,
        )

    def _values(self) -> dict:
        return {
            "name": self.student_name,
            "subject": self.lesson.subject,
            "when": local_when(self.lesson.start),
        }


class AttendanceRecorded(_PupilEvent):
    """A pupil was marked absent or late, or a mark was corrected.

    ``op`` is ``recorded`` for a new absence or lateness, ``updated`` when it
    changes, ``cleared`` when the pupil is finally marked present.
    """

    kind = "attendance.record"
    category = "absence"
    op: Literal["recorded", "updated", "cleared"]
    minutes_late: int | None

    def notice(self, created_at: datetime.datetime) -> Notice:
        """Absent/late/withdrawn, urgent when recorded before the lesson's day ends."""
        values = self._values()
        if self.op == "cleared":
            title = _(
                "Absence cancelled: %(name)s was present in %(subject)s (%(when)s)"
            )
        elif self.status == "late":
            values["minutes"] = self.minutes_late or "?"
            title = _("%(name)s: %(minutes)s min late in %(subject)s (%(when)s)")
        else:
            title = _("%(name)s: absent in %(subject)s (%(when)s)")
        title = title % values
        if self.op == "updated":
            title = _("Corrected: %(text)s") % {"text": title}
        end = datetime.datetime.fromisoformat(self.lesson.end)
        # An absence alert is urgent during the school day it happens in; a
        # correction typed at 22:00 about the morning can wait for 07:00.
        urgent = self.op == "recorded" and created_at <= end + datetime.timedelta(
            hours=2
        )
        return self._notice(title, urgent=urgent)


class ExcuseChanged(_PupilEvent):
    """A guardian submitted an excuse, or staff accepted or refused it.

    ``status`` is the excuse's (pending, accepted, refused). No free text
    (comment, note): the event log is not encrypted.
    """

    kind = "attendance.excuse"
    category = "excuse"
    op: Literal["submitted", "accepted", "refused"]
    excuse_id: int
    reason: str

    def notice(self, created_at: datetime.datetime) -> Notice:
        """Excuse submitted, accepted or refused."""
        titles = {
            "submitted": _("Excuse submitted for %(name)s, %(subject)s (%(when)s)"),
            "accepted": _("Excuse accepted for %(name)s, %(subject)s (%(when)s)"),
            "refused": _("Excuse refused for %(name)s, %(subject)s (%(when)s)"),
        }
        return self._notice(titles[self.op] % self._values())


class RollCallMissing(HubEvent):
    """No roll call 15 minutes after the lesson started."""

    kind = "attendance.roll_call"
    category = "roll_call"
    op: Literal["missing"]
    org_id: int
    lesson: LessonRef

    def notice(self, created_at: datetime.datetime) -> Notice:
        """Roll call not taken (urgent: the lesson is going on)."""
        title = _("Roll call not taken: %(class)s, %(subject)s, %(time)s") % {
            "class": self.lesson.class_title,
            "subject": self.lesson.subject,
            "time": local_when(self.lesson.start)[-5:],
        }
        return Notice(
            title=title,
            url=f"/absences/roll-call/{self.lesson.id}/",
            tag=f"roll-call-{self.lesson.id}",
            org_id=self.org_id,
            urgent=True,
        )
