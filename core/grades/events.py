"""Event kinds of grades.

- ``grades.mark`` (published, changed, removed) on the ``user:`` streams of
  one pupil and of that pupil's guardians, never on a class stream: its
  payload is that pupil's own result (mark, status, skill levels) and the
  evaluation's title, subject and date, with the class average, lowest and
  highest only where the school's policy shows them to families
  (``GradesPolicy``). No comment (encrypted at rest, read on the page).
  ``removed`` (the evaluation was withdrawn) carries no result and stays
  in-app.
"""

import datetime
from typing import Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel

from hub.events import HubEvent, Notice


class SkillResult(BaseModel):
    """One skill's level for the pupil (1 to 4, the French scale)."""

    code: str
    title: str
    level: int
    label: str


class MarkData(BaseModel):
    """One pupil's result in one evaluation, as the Notes page draws it."""

    evaluation_id: int
    class_id: int
    subject: str
    title: str
    date: str
    period_id: int
    coefficient: str
    out_of: str | None
    value: str | None = None  # in the evaluation's scale, e.g. "15.5"
    on_twenty: str | None = None  # the same brought to /20
    status: str = ""
    status_label: str = ""
    class_average: str | None = None
    class_min: str | None = None
    class_max: str | None = None
    skills: list[SkillResult] = []


class MarkChanged(HubEvent):
    """A pupil's result was published, changed after publication, or its
    evaluation removed."""

    kind = "grades.mark"
    category = "grades"
    op: Literal["published", "changed", "removed"]
    org_id: int
    student_id: int
    student_name: str
    mark: MarkData
    actor_id: int | None = None

    def notice(self, created_at: datetime.datetime) -> Notice | None:
        """ "Nouvelle note en Mathématiques : Contrôle (15/20)", per child."""
        if self.op == "removed":
            return None
        mark = self.mark
        if mark.value is not None and mark.out_of is not None:
            result = f"{_number(mark.value)}/{_number(mark.out_of)}"
        elif mark.status_label:
            result = mark.status_label
        else:
            result = _("skills assessed")
        values = {"subject": mark.subject, "title": mark.title, "result": result}
        if self.op == "changed":
            title = _("Mark changed in %(subject)s: %(title)s (%(result)s)") % values
        else:
            title = _("New mark in %(subject)s: %(title)s (%(result)s)") % values
        return Notice(
            title=title,
            body=self.student_name,
            url=f"/grades/?child={self.student_id}&period={mark.period_id}",
            tag=f"grades-{mark.evaluation_id}-{self.student_id}",
            child_id=self.student_id,
            child_name=self.student_name,
            org_id=self.org_id,
            actor_id=self.actor_id,
        )


def _number(text: str) -> str:
    """ "15.50" → "15,5" (French decimal comma, no trailing zeros)."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")
