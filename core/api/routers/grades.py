"""``/api/v1/grades``: a pupil's published marks and averages per period,
exactly as the Notes page shows them (``core.grades.notes.pupil_notes``).

The reader is the pupil or a current guardian (``core.grades.access``:
``get_pupil``), and only that pupil's own marks are read. A class's
average, lowest and highest come through
``core.grades.averages.for_families``: none over fewer than ``MIN_RESULTS``
results, and each only when the school's policy shows it (``null``
otherwise). Figures are rounded half up to 2 decimals, as on the page.
"""

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from django.http import Http404
from ninja import Query, Router, Schema
from pydantic import Field

from core.api.auth import READ
from core.api.schemas import MAX_ID, answers
from core.grades import access, averages
from core.grades.models import Evaluation, Mark
from core.grades.notes import pupil_notes

router = Router(tags=["grades"])

# As literals: a model's ``Status``/``Kind`` enum would share its schema
# name with another module's.
# mypy sees plain strings: it cannot read a Literal built from the values.
if TYPE_CHECKING:
    MarkStatus = str
    EvaluationKind = str
else:
    MarkStatus = Literal[tuple(Mark.Status.values)]
    EvaluationKind = Literal[tuple(Evaluation.Kind.values)]


class NotesQuery(Schema):
    pupil_id: int | None = Field(
        None,
        ge=1,
        le=MAX_ID,
        description="A guardian's child (default: the first); a pupil's own.",
    )
    period_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="Default: today's period, as the page."
    )


class PeriodOut(Schema):
    id: int
    title: str
    start_date: dt.date
    end_date: dt.date


class ClassFigures(Schema):
    """A class's figures as families may see them (``null``: hidden)."""

    class_average: float | None
    class_minimum: float | None
    class_maximum: float | None


class MarkOut(Schema):
    value: float | None = Field(description="In the evaluation's scale (out_of).")
    status: MarkStatus = Field(description='"": graded.')
    comment: str


class SkillLevelOut(Schema):
    code: str
    title: str
    level: int
    label: str


class EvaluationOut(ClassFigures):
    id: int
    title: str
    date: dt.date
    kind: EvaluationKind
    coefficient: float
    out_of: float | None = Field(description="null: skills only.")
    mark: MarkOut | None = Field(description="null: skills only, no mark.")
    skills: list[SkillLevelOut]


class SubjectOut(ClassFigures):
    subject: str
    average: float | None = Field(description="The pupil's, out of 20.")
    evaluations: list[EvaluationOut]


class NotesOut(Schema):
    pupil_id: int
    periods: list[PeriodOut]
    period_id: int | None
    not_submitted_counts_zero: bool | None = Field(
        description="The school's rule for “not handed in” (null: no period)."
    )
    overall: float | None = Field(description="The overall average, out of 20.")
    subjects: list[SubjectOut]


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(averages.rounded(value))


def _figures(found: averages.Stats | None) -> dict:
    found = found or averages.NO_STATS
    return {
        "class_average": _number(found.average),
        "class_minimum": _number(found.minimum),
        "class_maximum": _number(found.maximum),
    }


def _evaluation(item: dict) -> EvaluationOut:
    evaluation, mark = item["evaluation"], item.get("mark")
    return EvaluationOut(
        id=evaluation.pk,
        title=evaluation.title,
        date=evaluation.date,
        kind=evaluation.kind,
        coefficient=float(evaluation.coefficient),
        out_of=None if evaluation.out_of is None else float(evaluation.out_of),
        mark=MarkOut(
            value=None if mark.value is None else float(mark.value),
            status=mark.status,
            comment=mark.comment or "",
        )
        if mark
        else None,
        skills=[
            SkillLevelOut(
                code=level.skill.code,
                title=level.skill.title,
                level=level.level,
                label=str(level.get_level_display()),
            )
            for level in item.get("levels", [])
        ],
        **_figures(item.get("stats")),
    )


@router.get("/notes", response=answers(NotesOut), auth=READ)
def notes(request, query: Query[NotesQuery]):
    """A pupil's published marks of a period per subject, with their
    averages, the overall average and the class's figures the school shows
    families (over at least 5 results): the pupil's own, or a guardian's
    child's (``pupil_id``). 404 for anyone else, and for a period that is
    not one of the pupil's school years (``periods`` lists them)."""
    pupil = access.get_pupil(request.auth, query.pupil_id)
    found = pupil_notes(pupil, query.period_id)
    period = found["period"]
    if query.period_id is not None and (period is None or period.pk != query.period_id):
        raise Http404("no such period")
    policy = found.get("policy")
    return NotesOut(
        pupil_id=pupil.pk,
        periods=[
            PeriodOut(
                id=p.pk, title=p.title, start_date=p.start_date, end_date=p.end_date
            )
            for p in found["periods"]
        ],
        period_id=period.pk if period else None,
        not_submitted_counts_zero=policy.not_submitted_counts_zero if policy else None,
        overall=_number(found.get("overall")),
        subjects=[
            SubjectOut(
                subject=row["subject"],
                average=_number(row["average"]),
                evaluations=[_evaluation(item) for item in row["items"]],
                **_figures(row["class"]),
            )
            for row in found["subjects"]
        ],
    )
