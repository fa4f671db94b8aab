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
    assert [(e.stream, e.op) for e in events] == [
        (f"class:{school.class_4b.pk}", "room_changed")
    ]
    assert events[0].data["occurrence"]["reason"] == "Dégât des eaux en B12"


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
