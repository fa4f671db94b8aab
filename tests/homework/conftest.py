"""Fixtures of the homework tests: the personas' school with a week of
lessons (Europe/Paris), a second teacher of another subject in 4e B, and
time frozen on Monday 2026-01-19 10:00.

4e B: Mathématiques (Alice) Monday 08:00, Wednesday 09:00, Friday 08:00;
Français (Bruno) Tuesday 10:00. 3e A: Mathématiques (nobody named)
Thursday 08:00.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.homework import actions
from core.homework.uploads import CheckedFile
from core.roster.models import Enrollment, User
from tests.conftest import make_occurrence, make_user
from tests.delivery.conftest import push_endpoint  # noqa: F401 (fixture)

PARIS = ZoneInfo("Europe/Paris")
MONDAY = dt.date(2026, 1, 19)
NOW = dt.datetime(2026, 1, 19, 10, 0, tzinfo=PARIS)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """Monday + ``day`` days at ``hour``:``minute`` in Paris."""
    return dt.datetime.combine(
        MONDAY + dt.timedelta(days=day), dt.time(hour, minute), PARIS
    )


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def week(school, clock, settings, tmp_path):
    """The lessons; returns a namespace with them and the French teacher."""
    settings.MEDIA_ROOT = tmp_path
    bruno = make_user("bruno", User.Role.TEACHER, "Bruno", "Leroy")
    bruno.orgs.add(school.org)
    Enrollment.objects.create(user=bruno, school_class=school.class_4b, role="teacher")
    maths = [
        make_occurrence(school.class_4b, at(d, h), teachers=[school.teacher])
        for d, h in [(0, 8), (2, 9), (4, 8), (7, 8)]
    ]
    french = make_occurrence(
        school.class_4b, at(1, 10), subject="Français", teachers=[bruno]
    )
    other = make_occurrence(school.class_3a, at(3, 8))
    school.bruno = bruno
    school.maths = maths
    school.french = french
    school.maths_3a = other
    return school


def pdf(name="devoir.pdf", data=PDF) -> CheckedFile:
    return CheckedFile(name=name, mime="application/pdf", data=data)


def set_maths(school, **extra):
    """Alice sets a maths homework in 4e B (now)."""
    values = {
        "teacher": school.teacher,
        "school_class": school.class_4b,
        "subject": "Mathématiques",
        "title": "Exercices 3 et 4 p. 52",
        "text": "Voir https://example.org/aide",
    }
    values.update(extra)
    return actions.set_homework(**values)
