"""Event kinds of the homework notebook.

- ``homework.item`` (published, changed, removed) on ``class:<id>``: every
  reader of the class hears it; its text is the teacher's.
- ``homework.reminder`` on ``class:<id>``: the evening list of what is due
  tomorrow (in-app and digest, never pushed).
- ``homework.done`` on the pupil's and guardians' ``user:`` streams: a
  "fait" tick (never on the class stream: classmates must not see who did
  what); not a notification.
- ``homework.handin`` (submitted, returned) on the pupil's, the guardians'
  and the homework teacher's ``user:`` streams. No free text: the teacher's
  comment is encrypted at rest and read on the page.

Push rule (``Notice.push``): a homework is pushed only when it is due the
next day and was published, changed or removed from 17:00 (local) the day
before; otherwise it goes to the notification centre and the digest, as the
recipient's preferences say.
"""

import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from pydantic import BaseModel

from hub.events import HubEvent, Notice

TIME_ZONE = "Europe/Paris"
# From this local hour, homework for the next day is worth a push.
LATE_HOUR = 17


class HomeworkData(BaseModel):
    """A homework as pages draw it (dates ISO 8601)."""

    id: int
    class_id: int
    class_title: str
    subject: str
    teacher_name: str
    kind: str
    kind_label: str
    title: str
    text: str
    links: list[str]
    attachments: list[dict]
    due_date: str
    handin_required: bool
    handin_deadline: str | None
    edited_at: str | None


def _due_label(due: datetime.date, created_at: datetime.datetime) -> tuple[str, bool]:
    """("demain" or "jeu. 10/12", whether it is tomorrow) as of ``created_at``."""
    from django.utils.dates import WEEKDAYS_ABBR

    today = created_at.astimezone(ZoneInfo(TIME_ZONE)).date()
    if due == today + datetime.timedelta(days=1):
        return _("tomorrow"), True
    return f"{WEEKDAYS_ABBR[due.weekday()]}. {due:%d/%m}", False


def pushed(due: datetime.date, created_at: datetime.datetime) -> bool:
    """Whether a homework notice is pushed: due tomorrow, set from 17:00."""
    local = created_at.astimezone(ZoneInfo(TIME_ZONE))
    return due == local.date() + datetime.timedelta(days=1) and local.hour >= LATE_HOUR


class HomeworkChanged(HubEvent):
    """A homework was published, changed after publication, or removed."""

    kind = "homework.item"
    category = "homework"
    op: Literal["published", "changed", "removed"]
    org_id: int
    homework: HomeworkData
    actor_id: int | None = None  # None: published by the scheduler

    def notice(self, created_at: datetime.datetime) -> Notice:
        """ "Devoir pour demain en Maths : …", changed or removed likewise."""
        hw = self.homework
        due = datetime.date.fromisoformat(hw.due_date)
        when, tomorrow = _due_label(due, created_at)
        values = {"subject": hw.subject, "title": hw.title, "when": when}
        if self.op == "removed":
            title = _("Homework removed in %(subject)s: %(title)s") % values
        elif tomorrow:
            title = _("Homework for tomorrow in %(subject)s: %(title)s") % values
        else:
            title = _("Homework in %(subject)s for %(when)s: %(title)s") % values
        if self.op == "changed":
            title = _("Changed: %(text)s") % {"text": title}
        return Notice(
            title=title,
            body=f"{hw.class_title} · {hw.teacher_name}",
            url=f"/homework/?day={hw.due_date}",
            tag=f"homework-{hw.id}",
            org_id=self.org_id,
            actor_id=self.actor_id,
            push=pushed(due, created_at),
        )


class HomeworkReminder(HubEvent):
    """The evening reminder: what the class has due tomorrow."""

    kind = "homework.reminder"
    category = "homework"
    op: Literal["due_tomorrow"]
    org_id: int
    class_id: int
    class_title: str
    due_date: str
    count: int
    subjects: list[str]

    def notice(self, created_at: datetime.datetime) -> Notice:
        """ "3 devoirs pour demain en 4e B : Maths, Français…" (never pushed)."""
        title = ngettext(
            "%(count)s homework for tomorrow in %(class)s: %(subjects)s",
            "%(count)s homework for tomorrow in %(class)s: %(subjects)s",
            self.count,
        ) % {
            "count": self.count,
            "class": self.class_title,
            "subjects": ", ".join(self.subjects),
        }
        return Notice(
            title=title,
            url=f"/homework/?day={self.due_date}",
            tag=f"homework-reminder-{self.class_id}",
            org_id=self.org_id,
            push=False,
        )


class DoneChanged(HubEvent):
    """A pupil ticked or unticked "fait" (their tabs and guardians follow)."""

    kind = "homework.done"
    notify = False
    op: Literal["done", "undone"]
    homework_id: int
    student_id: int


class HandInChanged(HubEvent):
    """A pupil handed work in (or replaced it), or the teacher returned it."""

    kind = "homework.handin"
    category = "homework"
    op: Literal["submitted", "returned"]
    handin_id: int
    homework_id: int
    student_id: int
    student_name: str
    org_id: int
    subject: str
    title: str
    late: bool
    submitted_at: str
    returned: bool
    actor_id: int

    def notice(self, created_at: datetime.datetime) -> Notice:
        """Handed in (to the teacher and guardians) or returned with a comment."""
        values = {"name": self.student_name, "subject": self.subject}
        if self.op == "returned":
            title = _("Work returned with a comment: %(name)s, %(subject)s") % values
        elif self.late:
            title = _("Handed in late: %(name)s, %(subject)s") % values
        else:
            title = _("Handed in: %(name)s, %(subject)s") % values
        return Notice(
            title=title,
            body=self.title,
            url="/homework/",
            tag=f"handin-{self.handin_id}",
            child_id=self.student_id,
            child_name=self.student_name,
            org_id=self.org_id,
            actor_id=self.actor_id,
            push=False,
        )
