"""The API tests' world: two schools and a family with a child in each
(``tests.conftest.build_school``, as tests/test_access_matrix.py), each
school with a lesson where its pupils were absent and a conversation
between its teacher and Karim, the father of Léa (school A) and Inès (B)."""

import datetime as dt
import uuid
from types import SimpleNamespace

import pytest
from django.utils import timezone

from core.attendance import actions as attendance
from core.messaging import actions as messaging
from core.roster.actions import grant_school_life_staff
from core.roster.models import User
from tests.conftest import build_school, make_occurrence, make_user


@pytest.fixture
def world(db):
    school = build_school()
    berthe = make_user("berthe", User.Role.ADMINISTRATOR, "Berthe", "Morel")
    berthe.orgs.add(school.other_org)
    grant_school_life_staff(berthe)
    now = timezone.now()
    w = SimpleNamespace(school=school, berthe=berthe)
    for key, org, school_class, teacher, pupils in [
        (
            "A",
            school.org,
            school.class_4b,
            school.teacher,
            [school.pupil, school.pupil2],
        ),
        (
            "B",
            school.other_org,
            school.other_class,
            school.outsider,
            [school.other_child],
        ),
    ]:
        occurrence = make_occurrence(
            school_class, now - dt.timedelta(minutes=10), teachers=[teacher]
        )
        roll_call = attendance.take_roll_call(
            occurrence=occurrence,
            teacher=teacher,
            marks={pupil.pk: ("absent", None) for pupil in pupils},
        )
        setattr(w, f"occ{key}", occurrence)
        setattr(w, f"rec{key}", roll_call.records.get(student=pupils[0]))
        setattr(
            w,
            f"conv{key}",
            messaging.start_conversation(
                sender=teacher,
                org=org,
                subject=f"Sortie {key}",
                recipients=[school.parent],
                body=f"Bonjour de {key}",
                idempotency_key=uuid.uuid4().hex,
            ),
        )
    w.recHugo = w.recA.roll_call.records.get(student=school.pupil2)
    return w
