"""Who reads the delivery log: school-life staff of the notification's own
school, holding the permission (issue 13, findings 1 and 2).

The family: karim is guardian of Léa (4e B, school A "Victor Hugo") and of
Inès (5e C, school B "Jules Verne"). Paul is the CPE of school A; a CPE of
school B is made here.
"""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client

from core.attendance.actions import take_roll_call
from core.messaging import actions as messaging
from core.roster.access import SCHOOL_LIFE_GROUP, staff_orgs
from core.roster.actions import grant_school_life_staff
from core.roster.models import Org, User
from hub.delivery.models import Delivery, Notification
from tests.conftest import login_verified, make_occurrence, make_user
from tests.delivery.helpers import run_tasks

PARIS = ZoneInfo("Europe/Paris")
MONDAY_8H05 = dt.datetime(2026, 1, 19, 8, 5, tzinfo=PARIS)
LOG_URL = "/delivery/log/"


def login(user) -> Client:
    client = Client()
    login_verified(client, user)
    return client


def absent(school_class, teacher, pupil, when=MONDAY_8H05):
    occurrence = make_occurrence(
        school_class,
        when - dt.timedelta(minutes=5),
        teachers=[teacher],
        subject=f"Cours de {teacher.first_name}",
    )
    take_roll_call(
        occurrence=occurrence,
        teacher=teacher,
        marks={pupil.pk: ("absent", None)},
        now=when,
    )
    return occurrence


def cpe_of(org: Org, username: str) -> User:
    cpe = make_user(username, User.Role.ADMINISTRATOR, username.title(), "Cpe")
    cpe.orgs.add(org)
    grant_school_life_staff(cpe)
    return cpe


@pytest.fixture
def family_in_two_schools(school):
    """An absence and a message for karim at each school, a timetable change at B."""
    from core.timetable.actions import change_occurrence

    with time_machine.travel(MONDAY_8H05, tick=False):
        absent(school.class_4b, school.teacher, school.pupil)
        absent(school.other_class, school.outsider, school.other_child)
        for sender, org, subject in [
            (school.teacher, school.org, "Sortie au musée"),
            (school.outsider, school.other_org, "Conseil de classe de Inès"),
        ]:
            messaging.start_conversation(
                sender=sender,
                org=org,
                subject=subject,
                recipients=[school.parent],
                body="Bonjour",
                idempotency_key=uuid.uuid4().hex,
            )
        lesson = make_occurrence(
            school.other_class, MONDAY_8H05 + dt.timedelta(hours=3), subject="SVT"
        )
        change_occurrence(
            occurrence=lesson, actor=school.outsider, reason="", room="Labo 2"
        )
        run_tasks()
    return school


def test_every_notification_knows_its_school(family_in_two_schools):
    school = family_in_two_schools
    notes = Notification.objects.filter(user=school.parent)
    by_category = {}
    for note in notes:
        by_category.setdefault(note.category, set()).add(note.org_id)

    assert by_category == {
        "absence": {school.org.pk, school.other_org.pk},
        "message": {school.org.pk, school.other_org.pk},
        "timetable": {school.other_org.pk},
    }
    assert not Notification.objects.filter(org__isnull=True).exists()


def test_the_cpe_of_school_a_reads_nothing_of_school_b(family_in_two_schools):
    school = family_in_two_schools

    response = login(school.cpe).get(LOG_URL, {"user": school.parent.pk})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Léa Dubois" in html
    assert "Alice Martin" in html
    assert "Inès" not in html
    assert "Oscar Lenoir" not in html
    assert "Labo 2" not in html
    assert "Cours de Oscar" not in html


def test_the_cpe_of_school_b_reads_only_school_b(family_in_two_schools):
    school = family_in_two_schools
    cpe_b = cpe_of(school.other_org, "berenice")

    response = login(cpe_b).get(LOG_URL, {"user": school.parent.pk})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Inès Dubois" in html
    assert "Oscar Lenoir" in html
    assert "Labo 2" in html
    assert "Léa" not in html
    assert "Alice Martin" not in html


def test_a_cpe_of_school_a_cannot_open_a_member_of_school_b_only(school):
    cpe_b = cpe_of(school.other_org, "berenice")

    assert login(cpe_b).get(LOG_URL, {"user": school.pupil.pk}).status_code == 404
    assert login(school.cpe).get(LOG_URL, {"user": cpe_b.pk}).status_code == 404


def test_a_teacher_given_is_staff_does_not_read_the_log(family_in_two_schools):
    school = family_in_two_schools
    school.teacher.is_staff = True
    school.teacher.save()

    client = login(school.teacher)

    assert client.get(LOG_URL, {"user": school.parent.pk}).status_code == 404
    assert client.get(LOG_URL, {"q": "dubois"}).status_code == 404


def test_a_teacher_with_the_permission_still_does_not_read_the_log(
    family_in_two_schools,
):
    school = family_in_two_schools
    school.teacher.is_staff = True
    school.teacher.save()
    school.teacher.groups.add(Group.objects.get(name=SCHOOL_LIFE_GROUP))

    response = login(school.teacher).get(LOG_URL, {"user": school.parent.pk})

    assert response.status_code == 404


def test_a_cpe_without_the_permission_does_not_read_the_log(family_in_two_schools):
    school = family_in_two_schools
    school.cpe.groups.clear()

    response = login(school.cpe).get(LOG_URL, {"user": school.parent.pk})

    assert response.status_code == 404
    assert 'href="/delivery/log/"' not in login(school.cpe).get("/").content.decode()


def test_a_superuser_reads_every_school(family_in_two_schools):
    school = family_in_two_schools
    root = User.objects.create_superuser("root", "root@example.org", "pw", role="")

    html = login(root).get(LOG_URL, {"user": school.parent.pk}).content.decode()

    assert "Léa Dubois" in html and "Inès Dubois" in html


def test_staff_orgs_is_role_and_permission_per_org(school):
    perm = "delivery.view_delivery"
    cpe_b = cpe_of(school.other_org, "berenice")
    school.teacher.is_staff = True
    school.teacher.save()

    assert list(staff_orgs(school.cpe, perm)) == [school.org]
    assert list(staff_orgs(cpe_b, perm)) == [school.other_org]
    assert not staff_orgs(school.teacher, perm).exists()
    assert not staff_orgs(school.parent, perm).exists()
    assert not staff_orgs(school.cpe, "roster.add_rosterimport").exists()
    school.cpe.is_active = False
    assert not staff_orgs(school.cpe, perm).exists()


def test_deliveries_are_scoped_through_their_notification(family_in_two_schools):
    school = family_in_two_schools
    mine = Delivery.objects.filter(notification__org=school.org)
    theirs = Delivery.objects.filter(notification__org=school.other_org)

    assert mine.exists() and theirs.exists()
    assert not mine.filter(pk__in=theirs).exists()


# Notification texts encrypted at rest (issue 13, finding 5) ------------------


def test_notification_texts_are_encrypted_at_rest(family_in_two_schools):
    from django.db import connection

    from core import crypto

    school = family_in_two_schools
    note = Notification.objects.filter(
        user=school.parent, category="absence", org=school.org
    ).get()
    assert "Léa Dubois" in note.title and note.child_name == "Léa Dubois"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT title, body, child_name FROM delivery_notification WHERE id = %s",
            [note.pk],
        )
        raw = [bytes(value) for value in cursor.fetchone()]
    for value in raw:
        assert b"L\xc3\xa9a" not in value and b"Dubois" not in value
    assert crypto.decrypt(raw[0]).decode() == note.title
    assert crypto.decrypt(raw[2]).decode() == "Léa Dubois"
    fields = {(model._meta.label, name) for model, name in crypto.token_fields()}
    assert {
        ("delivery.Notification", "title"),
        ("delivery.Notification", "body"),
        ("delivery.Notification", "child_name"),
    } <= fields
