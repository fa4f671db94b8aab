"""``/api/v1/homework``: the homework notebook (cahier de textes).

A pupil's or a child's list with due dates and "fait", ticking "fait" as
the pupil, and a class's homework for its teachers and school-life staff.
Who reads what is ``core.homework.access``; ticking is
``core.homework.actions.set_done`` (its event and audit row as on the
site); an item reads as the notebook's JSON (``core.homework.views``).
"""

import datetime as dt

from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field, model_validator

from core.api.auth import READ, WRITE
from core.api.schemas import MAX_ID, answers, check_range
from core.homework import access, actions
from core.homework.events import HomeworkData

router = Router(tags=["homework"])

# The longest range one request reads, in days.
MAX_DAYS = 120


class HomeworkDays(Schema):
    start: dt.date | None = Field(None, description="Default: today.")
    end: dt.date | None = Field(None, description="Default: 8 weeks after start.")

    @model_validator(mode="after")
    def bounded(self):
        if self.start and self.end:
            check_range(self.start, self.end, MAX_DAYS)
        return self

    def range(self) -> tuple[dt.date, dt.date]:
        start = self.start or (
            self.end - access.HORIZON if self.end else timezone.localdate()
        )
        return start, self.end or start + access.HORIZON


class PupilDays(HomeworkDays):
    pupil_id: int | None = Field(
        None,
        ge=1,
        le=MAX_ID,
        description="A guardian's child (default: the first); a pupil's own.",
    )


class PupilItemOut(HomeworkData):
    done: bool = Field(description='The pupil ticked "fait".')
    handed_in: bool
    late: bool
    returned: bool


class PupilItemsOut(Schema):
    pupil_id: int
    start: dt.date
    end: dt.date
    items: list[PupilItemOut]


class DoneIn(Schema):
    done: bool


class DoneOut(Schema):
    id: int
    done: bool


class ClassItemOut(HomeworkData):
    published: bool
    manages: bool = Field(description="The user may change it (its subject's teacher).")


class ClassItemsOut(Schema):
    class_id: int
    start: dt.date
    end: dt.date
    items: list[ClassItemOut]


@router.get("/items", response=answers(PupilItemsOut), auth=READ)
def pupil_items(request, query: Query[PupilDays]):
    """A pupil's homework due from ``start`` to ``end`` (by due date; 120
    days at most), each with its "fait" and hand-in state: the pupil's own,
    or a guardian's child's (``pupil_id``). 404 for anyone else."""
    pupil = access.get_pupil(request.auth, query.pupil_id)
    start, end = query.range()
    return PupilItemsOut(
        pupil_id=pupil.pk,
        start=start,
        end=end,
        # The page's JSON of each item, validated into PupilItemOut by pydantic.
        items=[actions.item_json(i) for i in access.due_between(pupil, start, end)],  # type: ignore[misc]
    )


@router.post("/items/{homework_id}/done", response=answers(DoneOut), auth=WRITE)
def set_done(request, homework_id: int, payload: DoneIn):
    """The pupil ticks (``done: true``) or unticks "fait" (a guardian does
    not: 404, as for a homework not of the pupil's classes)."""
    homework = access.get_pupil_homework(request.auth, homework_id)
    actions.set_done(homework=homework, student=request.auth, done=payload.done)
    return DoneOut(id=homework.pk, done=payload.done)


@router.get("/classes/{class_id}/items", response=answers(ClassItemsOut), auth=READ)
def class_items(request, class_id: int, days: Query[HomeworkDays]):
    """A class's homework due from ``start`` to ``end``, for its teachers
    (their own planned ones too) and its school's school-life staff; 404
    for anyone else (pupils and guardians read ``/items``)."""
    user = request.auth
    school_class = access.get_class_for_team(user, class_id)
    start, end = days.range()
    rows = list(
        access.visible(user)
        .filter(school_class=school_class, due_date__gte=start, due_date__lte=end)
        .order_by("due_date", "subject", "pk")
    )
    managed = access.pairs_taught(
        user, {(hw.school_class_id, hw.subject) for hw in rows}
    )
    return ClassItemsOut(
        class_id=school_class.pk,
        start=start,
        end=end,
        items=[
            ClassItemOut(
                **actions.homework_data(hw).model_dump(),
                published=hw.published,
                manages=(hw.school_class_id, hw.subject) in managed,
            )
            for hw in rows
        ],
    )
