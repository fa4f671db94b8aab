"""Fixtures of the grades tests: the personas' school (tests/conftest.py:
Alice teaches 4e B, Léa and Hugo are in it, Karim is the guardian of Léa and
of Inès in the other school's 5e C taught by Oscar) with three trimesters
in each school, and helpers to make evaluations with marks."""

import datetime as dt
from decimal import Decimal

import pytest

from core.grades import actions
from core.grades.models import Period


def trimesters(org, session) -> list[Period]:
    return [
        Period.objects.create(
            org=org, session=session, title=title, start_date=start, end_date=end
        )
        for title, start, end in [
            ("Trimestre 1", dt.date(2025, 9, 1), dt.date(2025, 11, 30)),
            ("Trimestre 2", dt.date(2025, 12, 1), dt.date(2026, 2, 28)),
            ("Trimestre 3", dt.date(2026, 3, 1), dt.date(2026, 7, 4)),
        ]
    ]


@pytest.fixture
def periods(school):
    school.periods = trimesters(school.org, school.session)
    other_session = school.other_class.session
    school.other_periods = trimesters(school.other_org, other_session)
    return school


def evaluation(
    school_class,
    teacher,
    marks=None,
    *,
    subject="Mathématiques",
    title="Contrôle",
    date=dt.date(2026, 1, 12),
    out_of="20",
    coefficient="1",
    skills=(),
    publish=False,
):
    """An evaluation with ``marks`` ({pupil: cell text}) saved; published
    if asked."""
    made = actions.create_evaluation(
        teacher=teacher,
        school_class=school_class,
        subject=subject,
        title=title,
        date=date,
        kind="test",
        coefficient=Decimal(coefficient),
        out_of=None if out_of is None else Decimal(out_of),
        period=None,
        skills=list(skills),
    )
    if marks:
        actions.save_marks(
            evaluation=made,
            teacher=teacher,
            entries={
                pupil.pk: actions.Entry(mark=text) for pupil, text in marks.items()
            },
        )
    if publish:
        actions.publish(evaluation=made, teacher=teacher)
    made.refresh_from_db()
    return made


def classmates(s, count: int) -> list:
    """``count`` more pupils of 4e B (no guardian)."""
    from core.roster.models import Enrollment, User
    from tests.conftest import make_user

    pupils = []
    for index in range(count):
        pupil = make_user(f"mate{index}", User.Role.STUDENT, "Camarade", str(index))
        Enrollment.objects.create(user=pupil, school_class=s.class_4b, role="student")
        pupils.append(pupil)
    return pupils
