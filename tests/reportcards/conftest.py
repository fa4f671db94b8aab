"""Fixtures of the report card tests: the personas' two schools with a
first term each, hand-made marks, and the staff of the second school.

4e B (school A), "1er trimestre" (2025-09-01 … 2025-11-30):

- Mathématiques (Alice): E1 coef 1 /20: Léa 12, Hugo 8; E2 coef 2 /10:
  Léa 7 (14/20), Hugo absent. Léa 13.33 ((12 + 2 × 14) / 3), Hugo 8.00;
  class 10.67 (10.665 half up), min 8.00, max 13.33.
- Français (Bruno): E3 coef 1 /20: Léa 15.5, Hugo 10. Class 12.75.
- Léa's overall average: (13.33 + 15.50) / 2 = 14.415 → 14.42; Hugo's 9.00.
- A skills assessment in maths: Léa D1.3 at 3 and 4 → 3.5 → 4 (half up).

5e C (school B): Inès 16/20 in maths (Oscar); Berthe is its school-life
staff.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core.grades.models import Evaluation, Mark, Period, Skill, SkillLevel
from core.roster.actions import grant_school_life_staff
from core.roster.models import AcademicSession, Enrollment, User
from tests.conftest import make_occurrence, make_user

LONG_APPRAISAL = "Œuvre remarquable : l’élève progresse, Zoë l’aide. " * 6


def evaluation(school_class, subject, teacher, period, *, coefficient=1, out_of=20):
    return Evaluation.objects.create(
        school_class=school_class,
        subject=subject,
        teacher=teacher,
        period=period,
        title=f"Contrôle de {subject}",
        date=period.start_date + dt.timedelta(days=20),
        coefficient=Decimal(coefficient),
        out_of=None if out_of is None else Decimal(out_of),
        published_at=timezone.now(),
    )


def mark(evaluation, student, value=None, status=""):
    return Mark.objects.create(
        evaluation=evaluation,
        student=student,
        value=None if value is None else Decimal(str(value)),
        status=status,
    )


@pytest.fixture
def term(school, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    s = school
    bruno = make_user("bruno", User.Role.TEACHER, "Bruno", "Leroy")
    bruno.orgs.add(s.org)
    Enrollment.objects.create(user=bruno, school_class=s.class_4b, role="teacher")
    start = timezone.now() - dt.timedelta(days=30)
    make_occurrence(s.class_4b, start, teachers=[s.teacher])
    make_occurrence(s.class_4b, start, subject="Français", teachers=[bruno])
    period = Period.objects.create(
        org=s.org,
        session=s.session,
        title="1er trimestre",
        start_date=dt.date(2025, 9, 1),
        end_date=dt.date(2025, 11, 30),
    )
    e1 = evaluation(s.class_4b, "Mathématiques", s.teacher, period)
    e2 = evaluation(
        s.class_4b, "Mathématiques", s.teacher, period, coefficient=2, out_of=10
    )
    e3 = evaluation(s.class_4b, "Français", bruno, period)
    mark(e1, s.pupil, 12)
    mark(e1, s.pupil2, 8)
    mark(e2, s.pupil, 7)
    mark(e2, s.pupil2, status=Mark.Status.ABSENT)
    mark(e3, s.pupil, "15.5")
    mark(e3, s.pupil2, 10)
    skills = evaluation(s.class_4b, "Mathématiques", s.teacher, period, out_of=None)
    d13 = Skill.objects.get(org=None, code="D1.3")
    skills.skills.add(d13)
    SkillLevel.objects.create(evaluation=skills, student=s.pupil, skill=d13, level=3)
    skills2 = evaluation(s.class_4b, "Mathématiques", s.teacher, period, out_of=None)
    SkillLevel.objects.create(evaluation=skills2, student=s.pupil, skill=d13, level=4)

    other_session = AcademicSession.objects.get(org=s.other_org)
    other_period = Period.objects.create(
        org=s.other_org,
        session=other_session,
        title="1er trimestre",
        start_date=dt.date(2025, 9, 1),
        end_date=dt.date(2025, 11, 30),
    )
    e4 = evaluation(s.other_class, "Mathématiques", s.outsider, other_period)
    mark(e4, s.other_child, 16)
    berthe = make_user("berthe", User.Role.ADMINISTRATOR, "Berthe", "Morel")
    berthe.orgs.add(s.other_org)
    grant_school_life_staff(berthe)
    s.bruno = bruno
    s.berthe = berthe
    s.period = period
    s.other_period = other_period
    return s
