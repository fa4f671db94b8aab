"""``/api/v1/timetable``: a class's lessons over a range of days, with their
changes (cancelled, moved, another room or teacher), as the timetable page
draws them (:class:`core.timetable.events.OccurrenceData`)."""

import datetime as dt

from ninja import Query, Router, Schema
from pydantic import model_validator

from core.api.auth import READ
from core.api.schemas import answers, check_range
from core.attendance.access import days_taught_by
from core.timetable.access import days_for_user
from core.timetable.actions import occurrence_data
from core.timetable.events import OccurrenceData

router = Router(tags=["timetable"])

# The longest range one request reads, in days.
MAX_DAYS = 62


class Days(Schema):
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def bounded(self):
        check_range(self.start, self.end, MAX_DAYS)
        return self


class LessonsOut(Schema):
    class_id: int
    start: dt.date
    end: dt.date
    lessons: list[OccurrenceData]


class TaughtLesson(OccurrenceData):
    class_title: str


class TaughtOut(Schema):
    start: dt.date
    end: dt.date
    lessons: list[TaughtLesson]


@router.get("/classes/{class_id}/lessons", response=answers(LessonsOut), auth=READ)
def class_lessons(request, class_id: int, days: Query[Days]):
    """The lessons of class ``class_id`` starting from ``start`` to ``end``
    (days, both included, in the school's time zone; at most 62 days),
    cancelled ones included, in start order. Readers: the class's pupils,
    their guardians, its teachers and the school-life staff of its school
    (``/me`` lists the classes); 404 for anyone else."""
    lessons = days_for_user(request.auth, class_id, days.start, days.end)
    return LessonsOut(
        class_id=class_id,
        start=days.start,
        end=days.end,
        lessons=[occurrence_data(o) for o in lessons],
    )


@router.get("/taught", response=answers(TaughtOut), auth=READ)
def taught_lessons(request, days: Query[Days]):
    """A teacher's lessons across all their classes (those whose roll call
    they take), from ``start`` to ``end`` (at most 62 days), cancelled ones
    included; empty for anyone who teaches nothing."""
    lessons = days_taught_by(request.auth, days.start, days.end)
    return TaughtOut(
        start=days.start,
        end=days.end,
        lessons=[
            TaughtLesson(
                **occurrence_data(o).model_dump(), class_title=o.school_class.title
            )
            for o in lessons
        ],
    )
