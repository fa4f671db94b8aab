"""The Django admin: roster management, lesson changes that go out live,
attendance that is read-only (its changes must reach families)."""

import datetime as dt

import pytest
from django.utils import timezone

from core.attendance.actions import take_roll_call
from core.attendance.models import AttendanceRecord
from core.timetable.models import Occurrence
from tests.conftest import capture_events, login_verified, make_occurrence


@pytest.fixture
def staff_client(client, school):
    school.cpe.is_staff = school.cpe.is_superuser = True
    school.cpe.save()
    login_verified(client, school.cpe)
    return client


def test_admin_lists_the_roster(staff_client, school):
    for url in (
        "/admin/roster/user/",
        "/admin/roster/schoolclass/",
        "/admin/roster/org/",
    ):
        assert staff_client.get(url).status_code == 200
    page = staff_client.get(f"/admin/roster/user/{school.parent.pk}/change/")
    assert "Léa" in page.content.decode()


def test_changing_a_lesson_in_the_admin_records_it_and_tells_the_class(
    staff_client, school
):
    start = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    lesson = make_occurrence(school.class_4b, start)
    with capture_events() as events:
        response = staff_client.post(
            f"/admin/timetable/occurrence/{lesson.pk}/change/",
            {
                "start_0": start.strftime("%d/%m/%Y"),
                "start_1": "10:00:00",
                "end_0": start.strftime("%d/%m/%Y"),
                "end_1": "10:55:00",
                "room": "Salle polyvalente",
                "teacher_names": "",
                "status": "scheduled",
                "reason": "Dégât des eaux en B12",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    lesson.refresh_from_db()
    assert lesson.room == "Salle polyvalente" and lesson.previous_room == "B12"
    # The lesson's live update, then the change's one notification.
    assert [(e.stream, e.kind, e.op) for e in events] == [
        (f"class:{school.class_4b.pk}", "timetable.occurrence", "room_changed"),
        (f"class:{school.class_4b.pk}", "timetable.changes", "changed"),
    ]
    assert events[0].data["occurrence"]["reason"] == "Dégât des eaux en B12"
    assert events[1].data["count"] == 1


def test_attendance_is_read_only_in_the_admin(staff_client, school):
    lesson = make_occurrence(
        school.class_4b,
        timezone.now() - dt.timedelta(minutes=5),
        teachers=[school.teacher],
    )
    take_roll_call(
        occurrence=lesson, teacher=school.teacher, marks={school.pupil.pk: ("late", 5)}
    )
    roll_call = lesson.roll_call
    url = f"/admin/attendance/rollcall/{roll_call.pk}/change/"
    assert staff_client.get(url).status_code == 200
    staff_client.post(url, {"records-TOTAL_FORMS": "0"})
    assert AttendanceRecord.objects.get(student=school.pupil).status == "late"
    assert staff_client.get("/admin/attendance/rollcall/add/").status_code == 403
    assert Occurrence.objects.count() == 1


# The admin of a school's data is the school's (issue 13, finding 2) ----------


def admin_staff(school, *perms, role="administrator", org=None):
    """A non-superuser admin of ``org`` (the school's by default) with ``perms``."""
    from django.contrib.auth.models import Permission

    from tests.conftest import make_user

    user = make_user("nadia", role, "Nadia", "Admin", is_staff=True)
    user.orgs.add(org or school.org)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


ROSTER_VIEW = (
    "roster.view_user",
    "roster.change_user",
    "roster.view_schoolclass",
    "roster.view_org",
    "roster.view_guardianlink",
)


def test_a_school_admin_lists_only_their_schools_people_and_classes(client, school):
    login_verified(client, admin_staff(school, *ROSTER_VIEW))

    users = client.get("/admin/roster/user/").content.decode()
    classes = client.get("/admin/roster/schoolclass/").content.decode()
    orgs = client.get("/admin/roster/org/").content.decode()

    assert f"/admin/roster/user/{school.pupil.pk}/change/" in users
    assert f"/admin/roster/user/{school.parent.pk}/change/" in users
    assert f"/admin/roster/user/{school.other_child.pk}/change/" not in users
    assert f"/admin/roster/user/{school.outsider.pk}/change/" not in users
    assert "4e B" in classes and "5e C" not in classes
    assert "Victor Hugo" in orgs and "Jules Verne" not in orgs
    for url in (
        f"/admin/roster/user/{school.other_child.pk}/change/",
        f"/admin/roster/schoolclass/{school.other_class.pk}/change/",
        f"/admin/roster/org/{school.other_org.pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 302  # "does not exist": back to the index
        assert response["Location"] == "/admin/"


def test_a_school_admin_cannot_change_someone_of_another_school(client, school):
    login_verified(client, admin_staff(school, *ROSTER_VIEW))

    response = client.post(
        f"/admin/roster/user/{school.outsider.pk}/change/",
        {"username": "hacked", "role": "teacher"},
    )

    school.outsider.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert school.outsider.username == "oscar"


def test_a_school_admin_cannot_make_anyone_superuser(client, school):
    staff = admin_staff(school, *ROSTER_VIEW)
    login_verified(client, staff)

    page = client.get(f"/admin/roster/user/{school.teacher.pk}/change/")

    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="is_superuser"' not in html
    assert 'name="groups"' not in html and 'name="orgs"' not in html


def test_a_teacher_given_is_staff_and_permissions_sees_no_school_data(
    client, school, lesson_absence
):
    teacher = school.teacher
    teacher.is_staff = True
    teacher.save()
    from django.contrib.auth.models import Group, Permission

    from core.roster.access import SCHOOL_LIFE_GROUP

    teacher.groups.add(Group.objects.get(name=SCHOOL_LIFE_GROUP))
    teacher.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "view_schoolclass"])
    )
    login_verified(client, teacher)

    for url in (
        "/admin/roster/user/",
        "/admin/delivery/notification/",
        "/admin/delivery/delivery/",
        "/admin/attendance/excuse/",
        "/admin/attendance/rollcall/",
    ):
        assert client.get(url).status_code == 403, url


@pytest.fixture
def lesson_absence(school):
    lesson = make_occurrence(
        school.class_4b,
        timezone.now() - dt.timedelta(minutes=10),
        teachers=[school.teacher],
    )
    take_roll_call(
        occurrence=lesson,
        teacher=school.teacher,
        marks={school.pupil.pk: ("absent", None)},
    )
    other = make_occurrence(
        school.other_class,
        timezone.now() - dt.timedelta(minutes=10),
        teachers=[school.outsider],
    )
    take_roll_call(
        occurrence=other,
        teacher=school.outsider,
        marks={school.other_child.pk: ("absent", None)},
    )
    return lesson, other


def test_the_cpe_of_the_other_school_lists_only_their_roll_calls_and_notifications(
    client, school, lesson_absence
):
    from core.roster.actions import grant_school_life_staff
    from hub.delivery.models import Notification
    from tests.delivery.helpers import run_tasks

    run_tasks()
    lesson, other = lesson_absence
    cpe_b = admin_staff(school, org=school.other_org)
    grant_school_life_staff(cpe_b)
    login_verified(client, cpe_b)

    rollcalls = client.get("/admin/attendance/rollcall/").content.decode()
    notes = client.get("/admin/delivery/notification/").content.decode()
    mine = Notification.objects.filter(org=school.other_org).first()
    theirs = Notification.objects.filter(org=school.org).first()

    assert f"/admin/attendance/rollcall/{other.roll_call.pk}/change/" in rollcalls
    assert f"/admin/attendance/rollcall/{lesson.roll_call.pk}/change/" not in rollcalls
    assert f"/admin/delivery/notification/{mine.pk}/change/" in notes
    assert f"/admin/delivery/notification/{theirs.pk}/change/" not in notes
    assert (
        client.get(f"/admin/delivery/notification/{theirs.pk}/change/").status_code
        == 302
    )
    assert (
        client.get(f"/admin/delivery/notification/{mine.pk}/change/").status_code == 200
    )


def test_staff_reading_school_data_in_the_admin_is_audited(client, school):
    """A list and a pupil's page in the admin are staff reads of a minor's
    data: each is in the audit log of the reader's school (not the other's)."""
    from core.audit.models import AuditEntry

    staff = admin_staff(school, *ROSTER_VIEW)
    login_verified(client, staff)
    AuditEntry.objects.all().delete()

    assert client.get("/admin/roster/user/").status_code == 200
    assert (
        client.get(f"/admin/roster/user/{school.pupil.pk}/change/").status_code == 200
    )

    reads = AuditEntry.objects.filter(action="admin.viewed", actor_id=staff.pk)
    assert sorted((e.target_type, e.target_id, e.org_id) for e in reads) == [
        ("roster.user", 0, school.org.pk),
        ("roster.user", school.pupil.pk, school.org.pk),
    ]


def test_columns_encrypted_at_rest_are_not_offered_for_sorting(rf, school):
    """Sorting an encrypted column would order by its token, silently wrong."""
    from django.contrib import admin as django_admin

    from core.messaging.models import Report, WriteSuspension
    from hub.delivery.models import Notification

    request = rf.get("/admin/")
    request.user = school.cpe
    for model, column in (
        (Notification, "title"),
        (Report, "reason"),
        (WriteSuspension, "reason"),
    ):
        model_admin = django_admin.site._registry[model]
        assert column in model_admin.get_list_display(request)
        assert column not in model_admin.get_sortable_by(request)
