"""Grades of the demo school (``core.demo.school`` calls :func:`seed_demo`):
the trimesters of the class's school year and a few maths evaluations, two
published (one with a skill of the socle commun), one still a draft."""

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from core.grades import actions
from core.grades.models import Evaluation, Period, Skill
from core.roster.access import students_of_class
from core.roster.models import SchoolClass, User


def seed_periods(school_class: SchoolClass) -> list[Period]:
    """The three trimesters of the class's school year (September to
    November, December to February, March to the end)."""
    session = school_class.session
    year = session.start_date.year
    bounds = [
        ("Trimestre 1", session.start_date, dt.date(year, 11, 30)),
        ("Trimestre 2", dt.date(year, 12, 1), dt.date(year + 1, 2, 28)),
        ("Trimestre 3", dt.date(year + 1, 3, 1), session.end_date),
    ]
    return [
        Period.objects.get_or_create(
            org=school_class.org,
            session=session,
            title=title,
            defaults={"start_date": start, "end_date": end},
        )[0]
        for title, start, end in bounds
    ]


def seed_demo(school_class: SchoolClass, teacher: User) -> list[Evaluation]:
    seed_periods(school_class)
    session = school_class.session
    today = min(max(timezone.localdate(), session.start_date), session.end_date)
    rng = random.Random(15)
    pupils = list(students_of_class(school_class))

    def day(days_ago: int) -> dt.date:
        return max(today - dt.timedelta(days=days_ago), session.start_date)

    def make(title, days_ago, out_of, coefficient, skills=(), publish=True):
        evaluation = actions.create_evaluation(
            teacher=teacher,
            school_class=school_class,
            subject="Mathématiques",
            title=title,
            date=day(days_ago),
            kind=Evaluation.Kind.TEST,
            coefficient=Decimal(coefficient),
            out_of=Decimal(out_of),
            period=None,
            skills=list(skills),
        )
        entries = {}
        for index, pupil in enumerate(pupils):
            mark = "abs" if index == 2 else str(rng.randint(out_of // 4, out_of))
            entries[pupil.pk] = actions.Entry(
                mark=mark,
                comment="Bon travail." if index == 0 else "",
                skills={s.pk: str(rng.randint(1, 4)) for s in skills},
            )
        actions.save_marks(evaluation=evaluation, teacher=teacher, entries=entries)
        if publish:
            actions.publish(evaluation=evaluation, teacher=teacher)
        return evaluation

    reasoning = Skill.objects.filter(org__isnull=True, code="D4").first()
    return [
        make("Contrôle : fractions", 17, 20, "2"),
        make(
            "Interrogation : proportionnalité",
            10,
            10,
            "1",
            skills=[reasoning] if reasoning else [],
        ),
        make("Devoir : équations", 3, 20, "1", publish=False),
    ]
