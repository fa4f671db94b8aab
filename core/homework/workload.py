"""The workload of a class: how much is due per day, across subjects.

For the readers of a class's page, each day from ``first`` to ``last``: the
homework due (not removed), counted by subject and kind: the published
ones, and the planned ones only for a viewer who may manage them
(``access.pairs_taught``): staff and teachers of other subjects do not see
what is not published yet. A day with two tests ("contrôles") or more is flagged: ENTs warn when
a class already has two tests on one day.
"""

import datetime as dt
from dataclasses import dataclass, field

from core.homework import access
from core.homework.models import Homework
from core.roster.models import SchoolClass, User

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


def workload(
    school_class: SchoolClass, first: dt.date, last: dt.date, viewer: User
) -> list[Day]:
    """Return the school days (Monday-Saturday) of [first, last] with their
    homework as ``viewer`` may see it (see the module's rule; a constant
    number of queries)."""
    days = {}
    day = first
    while day <= last:
        if day.weekday() < 6:
            days[day] = Day(day)
        day += dt.timedelta(days=1)
    rows = list(
        Homework.objects.filter(
            school_class=school_class,
            deleted_at__isnull=True,
            due_date__gte=first,
            due_date__lte=last,
        ).order_by("due_date", "subject")
    )
    planned = {(h.school_class_id, h.subject) for h in rows if not h.published}
    managed = access.pairs_taught(viewer, planned) if planned else set()
    for item in rows:
        if not item.published and (item.school_class_id, item.subject) not in managed:
            continue
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
