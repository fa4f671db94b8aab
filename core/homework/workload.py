"""The workload of a class: how much is due per day, across subjects.

For the teachers of a class, each day from ``first`` to ``last``: the
homework due (published and planned, not removed), counted by subject and
kind. A day with two tests ("contrôles") or more is flagged: ENTs warn when
a class already has two tests on one day.
"""

import datetime as dt
from dataclasses import dataclass, field

from core.homework.models import Homework
from core.roster.models import SchoolClass

MAX_TESTS_PER_DAY = 2
DAYS_SHOWN = 21


@dataclass
class Day:
    day: dt.date
    items: list[Homework] = field(default_factory=list)

    @property
    def tests(self) -> int:
        return sum(1 for item in self.items if item.kind == Homework.Kind.TEST)

    @property
    def warning(self) -> bool:
        return self.tests >= MAX_TESTS_PER_DAY

    @property
    def by_subject(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.subject] = counts.get(item.subject, 0) + 1
        return sorted(counts.items())


def workload(school_class: SchoolClass, first: dt.date, last: dt.date) -> list[Day]:
    """Return the school days (Monday-Saturday) of [first, last] with their
    homework (one query)."""
    days = {}
    day = first
    while day <= last:
        if day.weekday() < 6:
            days[day] = Day(day)
        day += dt.timedelta(days=1)
    for item in Homework.objects.filter(
        school_class=school_class,
        deleted_at__isnull=True,
        due_date__gte=first,
        due_date__lte=last,
    ).order_by("due_date", "subject"):
        if item.due_date in days:
            days[item.due_date].items.append(item)
    return list(days.values())


def as_json(days: list[Day]) -> list[dict]:
    """The workload as the form's JSON endpoint gives it."""
    return [
        {
            "day": d.day.isoformat(),
            "count": len(d.items),
            "tests": d.tests,
            "warning": d.warning,
            "subjects": [{"subject": s, "count": n} for s, n in d.by_subject],
        }
        for d in days
    ]
