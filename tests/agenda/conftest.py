"""Fixtures of the agenda tests: the personas' schools (tests/conftest.py),
a second teacher of 4e B (Bruno), time frozen on Monday 2026-01-19 10:00
(Paris), and a parent–teacher evening of 4e B on Thursday 2026-01-29 whose
booking is open until Wednesday 28th at noon.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.agenda import actions
from core.roster.audience import Audience
from core.roster.models import Enrollment, User
from tests.conftest import make_user

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 1, 19, 10, 0, tzinfo=PARIS)
EVENING = dt.date(2026, 1, 29)


def paris(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def bruno(school):
    teacher = make_user("bruno", User.Role.TEACHER, "Bruno", "Roux")
    teacher.orgs.add(school.org)
    Enrollment.objects.create(
        user=teacher, school_class=school.class_4b, role="teacher"
    )
    return teacher


def add_entry(school, org=None, **fields):
    org = org or school.org
    values = {
        "kind": "class_council",
        "title": "Conseil de classe",
        "start": paris(2026, 1, 22, 17),
        "end": paris(2026, 1, 22, 18),
        "audience": Audience(org_id=org.pk),
        "location": "Salle 12",
    }
    values.update(fields)
    actor = values.pop("actor", school.cpe)
    return actions.create_entry(actor=actor, org=org, **values)


@pytest.fixture
def evening(school, clock):
    return actions.create_evening(
        actor=school.cpe,
        org=school.org,
        title="Rencontres parents-professeurs 4e",
        date=EVENING,
        class_ids=[school.class_4b.pk],
        booking_opens=paris(2026, 1, 15, 8),
        booking_closes=paris(2026, 1, 28, 12),
    )


def open_slots(teacher, evening, start=(17, 0), end=(18, 0), minutes=10, room="B12"):
    return actions.open_slots(
        teacher=teacher,
        evening=evening,
        start=dt.time(*start),
        end=dt.time(*end),
        minutes=minutes,
        room=room,
    )
