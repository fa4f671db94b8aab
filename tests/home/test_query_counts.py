"""Each home page runs as many queries for one child, class or item as for many.

The issue asks it: "queries per render constant in the number of children,
classes and items". Each test renders a role's home on a small case, then
adds children, classes and items of every card, renders again and compares.
"""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.attendance.models import Excuse, MissingRollCall
from core.homework.models import DoneMark, HandIn, Homework
from core.messaging import actions
from core.roster.models import Enrollment, GuardianLink, SchoolClass, User
from tests.conftest import make_occurrence, make_user
from tests.home.test_home import (
    TODAY,
    TOMORROW,
    absence,
    at,
    frozen,  # noqa: F401 (autouse: the home's clock)
    login,
)
from tests.messaging.helpers import key, send

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_send_limit(monkeypatch):
    """Many messages in a row: the send quota is not what is tested here."""
    monkeypatch.setattr(actions, "SEND_BURST", 10_000)


def queries(client) -> list[str]:
    """The queries of one render of the home page (after a warm-up render)."""
    client.get("/")
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/")
    assert response.status_code == 200
    return [q["sql"] for q in captured.captured_queries]


def assert_same(small: list[str], large: list[str]) -> None:
    assert len(small) == len(large), "\n\n".join(["small:", *small, "large:", *large])


def new_class(school, title: str, org=None) -> SchoolClass:
    org = org or school.org
    session = school.session if org == school.org else org.sessions.first()
    return SchoolClass.objects.create(org=org, session=session, title=title)


def lessons(school_class, count: int, teacher=None) -> list:
    """``count`` lessons today and tomorrow, some changed (cancelled, moved, room)."""
    made = []
    for i in range(count):
        day = TODAY if i % 2 else TOMORROW
        occurrence = make_occurrence(
            school_class,
            at(day, 10 + i % 8, 5 * (i // 8)),
            subject=f"Cours {i}",
            teachers=[teacher] if teacher else (),
        )
        if i % 3 == 0:
            occurrence.status = "cancelled"
        elif i % 3 == 1:
            occurrence.previous_start = occurrence.start - dt.timedelta(hours=1)
            occurrence.previous_room = "Z9"
        occurrence.save()
        made.append(occurrence)
    return made


def unread_messages(school, user, sender, count: int, org=None) -> None:
    """A conversation from ``sender`` to ``user`` with ``count`` unread messages."""
    conversation = actions.start_conversation(
        sender=sender,
        org=org or school.org,
        recipients=[user],
        body="m0",
        subject="Sortie",
        idempotency_key=key(),
    )
    for i in range(1, count):
        send(conversation, sender, body=f"m{i}")


def homework_due(school_class, teacher, pupil, count: int) -> list[Homework]:
    """``count`` homework due tomorrow, some ticked "fait", some handed in."""
    made = []
    for i in range(count):
        homework = Homework.objects.create(
            school_class=school_class,
            subject=f"Cours {i}",
            teacher=teacher,
            due_date=TOMORROW,
            title=f"Exercice {i}",
            handin_required=i % 2 == 0,
            publish_at=at(TODAY, 7),
            published=True,
        )
        if i % 3 == 0:
            DoneMark.objects.create(homework=homework, student=pupil)
        if homework.handin_required:
            HandIn.objects.create(
                homework=homework,
                student=pupil,
                file="handins/x",
                name="copie.pdf",
                mime="application/pdf",
                size=10,
                submitted_at=at(TODAY, 8),
                comment="",
            )
        made.append(homework)
    return made


def pupil_items(school, pupil, school_class, count: int) -> None:
    """Lessons, absences awaiting an excuse, homework due tomorrow and
    messages for ``pupil``."""
    here = school_class.org == school.org
    teacher = school.teacher if here else school.outsider
    for occurrence in lessons(school_class, count):
        if occurrence.status != "cancelled":
            absence(occurrence, pupil, teacher)
    homework_due(school_class, teacher, pupil, count)
    unread_messages(school, pupil, teacher, count, org=school_class.org)


def test_pupil_home_constant_in_classes_and_items(school):
    client = login(school.pupil)
    pupil_items(school, school.pupil, school.class_4b, 1)
    small = queries(client)
    for i in range(3):
        extra = new_class(school, f"Groupe {i}")
        Enrollment.objects.create(user=school.pupil, school_class=extra, role="student")
        pupil_items(school, school.pupil, extra, 3)
    pupil_items(school, school.pupil, school.class_4b, 9)
    assert_same(small, queries(client))


def test_guardian_home_constant_in_children_and_items(school):
    client = login(school.other_parent)  # one child: Hugo, in 4e B
    pupil_items(school, school.pupil2, school.class_4b, 1)
    small = queries(client)
    for i, org in enumerate((school.org, school.other_org)):
        child = make_user(f"kid{i}", User.Role.STUDENT, f"Enfant{i}", "Petit")
        GuardianLink.objects.create(guardian=school.other_parent, student=child)
        school_class = new_class(school, f"Classe {i}", org)
        Enrollment.objects.create(user=child, school_class=school_class, role="student")
        pupil_items(school, child, school_class, 10)
    pupil_items(school, school.pupil2, school.class_4b, 9)
    large = queries(client)
    assert_same(small, large)
    html = client.get("/").content.decode()
    assert html.count('class="home-section" data-pupil=') == 3
    assert html.count("data-homework=") == 3 * 8  # 10 each, 8 shown


def test_teacher_home_constant_in_classes_and_items(school):
    client = login(school.teacher)
    lessons(school.class_4b, 1)
    homework_due(school.class_4b, school.teacher, school.pupil, 2)
    unread_messages(school, school.teacher, school.cpe, 1)
    small = queries(client)
    for i in range(3):
        extra = new_class(school, f"Groupe {i}")
        Enrollment.objects.create(
            user=school.teacher, school_class=extra, role="teacher"
        )
        lessons(extra, 10)
        pupil = make_user(f"eleve{i}", User.Role.STUDENT, f"Élève{i}", "Nom")
        Enrollment.objects.create(user=pupil, school_class=extra, role="student")
        homework_due(extra, school.teacher, pupil, 10)
    lessons(school.class_3a, 10, teacher=school.teacher)  # named, not enrolled
    unread_messages(school, school.teacher, school.cpe, 9)
    large = queries(client)
    assert_same(small, large)
    html = client.get("/").content.decode()
    assert html.count("/absences/roll-call/") > 10
    assert html.count("data-handin=") == 8  # 1 + 15 waiting, 8 shown


def staff_items(school, school_class, pupils, count: int) -> None:
    """Today's absences, excuses to review and missing roll calls in a class."""
    for i, occurrence in enumerate(lessons(school_class, count)):
        start = at(TODAY, 8, i % 50)
        occurrence.start, occurrence.end = start, start + dt.timedelta(minutes=55)
        occurrence.status = "scheduled"
        occurrence.save()
        record = absence(occurrence, pupils[i % len(pupils)], school.teacher)
        Excuse.objects.create(
            record=record, submitted_by=school.parent, reason="illness", comment=""
        )
    for occurrence in lessons(school_class, count):
        occurrence.start = at(TODAY, 9, 0)
        occurrence.save()
        MissingRollCall.objects.create(occurrence=occurrence)


def test_cpe_home_constant_in_classes_and_items(school):
    client = login(school.cpe)
    staff_items(school, school.class_4b, [school.pupil], 1)
    small = queries(client)
    for i in range(3):
        extra = new_class(school, f"Groupe {i}")
        pupil = make_user(f"eleve{i}", User.Role.STUDENT, f"Élève{i}", "Nom")
        Enrollment.objects.create(user=pupil, school_class=extra, role="student")
        staff_items(school, extra, [pupil], 10)
    staff_items(school, school.class_4b, [school.pupil, school.pupil2], 9)
    large = queries(client)
    assert_same(small, large)
    html = client.get("/").content.decode()
    assert html.count("data-class=") == 4
