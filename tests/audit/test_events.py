"""Finding 8: logins, roll calls, excuse reviews, document downloads and
staff reads of a pupil's data each leave an entry in the audit log."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.attendance.actions import review_excuse, submit_excuse, take_roll_call
from core.attendance.models import AttendanceRecord
from core.audit.models import AuditEntry
from tests.conftest import login_verified, make_occurrence

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
IP = "203.0.113.9"


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


@pytest.fixture
def lesson(school):
    return make_occurrence(
        school.class_4b,
        timezone.now() - dt.timedelta(minutes=10),
        teachers=[school.teacher],
    )


@pytest.fixture
def absence(school, lesson):
    take_roll_call(
        occurrence=lesson,
        teacher=school.teacher,
        marks={school.pupil.pk: ("absent", None)},
    )
    return AttendanceRecord.objects.get(student=school.pupil)


@pytest.fixture
def excuse(school, absence):
    return submit_excuse(
        record=absence,
        guardian=school.parent,
        reason="illness",
        comment="fièvre",
        document=SimpleUploadedFile("ordonnance.pdf", PDF),
    )


def test_a_login_is_recorded_with_the_address(client, school):
    response = client.post(
        "/login/",
        {"username": "lea", "password": "pw-lea"},
        REMOTE_ADDR=IP,
    )
    assert response.status_code == 302
    (entry,) = entries("login.succeeded")
    assert (entry.actor_id, entry.subject_id, entry.ip) == (
        school.pupil.pk,
        school.pupil.pk,
        IP,
    )


def test_a_failed_login_is_recorded_without_the_password(client, school):
    client.post(
        "/login/",
        {"username": "lea", "password": "secret-guess-123"},
        REMOTE_ADDR=IP,
    )
    client.post("/login/", {"username": "nobody", "password": "x"}, REMOTE_ADDR=IP)
    first, second = entries("login.failed")
    assert (first.actor_id, first.subject_id, first.ip) == (None, school.pupil.pk, IP)
    assert first.detail == {"login": "lea", "locked_out": False}
    assert first.actor_name == "anonymous"
    # An unknown login is not written down (it may be a password typed in
    # the wrong field).
    assert (second.subject_id, second.detail) == (
        None,
        {"login": "", "locked_out": False},
    )
    stored = str(list(AuditEntry.objects.values()))
    assert "secret-guess-123" not in stored


def test_the_admin_login_is_recorded_too(client, school):
    client.post(
        "/admin/login/?next=/admin/",
        {"username": "paul", "password": "wrong"},
        REMOTE_ADDR=IP,
    )
    (entry,) = entries("login.failed")
    assert entry.detail == {"login": "paul", "locked_out": False}


def test_a_roll_call_records_the_call_and_each_pupil_marked(school, lesson):
    take_roll_call(
        occurrence=lesson,
        teacher=school.teacher,
        marks={school.pupil.pk: ("absent", None), school.pupil2.pk: ("late", 5)},
    )
    (call,) = entries("roll_call.taken")
    assert (call.actor_id, call.org_id) == (school.teacher.pk, school.org.pk)
    marked = entries("attendance.recorded")
    assert sorted(e.subject_id for e in marked) == sorted(
        [school.pupil.pk, school.pupil2.pk]
    )
    assert {e.org_id for e in marked} == {school.org.pk}


def test_submitting_and_reviewing_an_excuse_are_recorded(school, excuse):
    review_excuse(excuse=excuse, reviewer=school.cpe, accept=False, note="non")
    (submitted,) = entries("excuse.submitted")
    (refused,) = entries("excuse.refused")
    assert (submitted.actor_id, submitted.subject_id) == (
        school.parent.pk,
        school.pupil.pk,
    )
    assert (refused.actor_id, refused.target_id, refused.org_id) == (
        school.cpe.pk,
        excuse.pk,
        school.org.pk,
    )
    assert "fièvre" not in str(submitted.detail)


def test_downloading_an_excuse_document_is_recorded(client, school, excuse):
    login_verified(client, school.cpe)
    response = client.get(f"/absences/excuses/{excuse.pk}/document/", REMOTE_ADDR=IP)
    assert response.status_code == 200
    (entry,) = entries("excuse.document_downloaded")
    assert (entry.actor_id, entry.subject_id, entry.org_id, entry.ip) == (
        school.cpe.pk,
        school.pupil.pk,
        school.org.pk,
        IP,
    )


def test_downloading_a_message_attachment_is_recorded(client, school):
    from tests.messaging.helpers import send, start, upload

    conversation = start(school, school.teacher, [school.parent])
    message = send(conversation, school.teacher, "Bulletin", uploads=[upload("b.pdf")])
    (attachment,) = message.attachments.all()
    login_verified(client, school.parent)
    response = client.get(f"/messages/files/{attachment.pk}/")
    assert response.status_code == 200
    (entry,) = entries("attachment.downloaded")
    assert (entry.actor_id, entry.target_id, entry.org_id) == (
        school.parent.pk,
        attachment.pk,
        school.org.pk,
    )


def test_staff_reading_a_pupils_absences_is_recorded(client, school, absence):
    login_verified(client, school.cpe)
    assert client.get(f"/absences/?student={school.pupil.pk}").status_code == 200
    (entry,) = entries("attendance.viewed")
    assert (entry.actor_id, entry.subject_id, entry.org_id) == (
        school.cpe.pk,
        school.pupil.pk,
        school.org.pk,
    )


def test_a_read_is_filed_under_the_pupils_school_not_all_the_readers(
    client, school, absence
):
    """A CPE of two schools reading a pupil of school A: the entry is A's,
    for A's readers; a pupil the CPE sees nothing of is no read at all."""
    school.cpe.orgs.add(school.other_org)
    login_verified(client, school.cpe)
    assert client.get(f"/absences/?student={school.pupil.pk}").status_code == 200
    assert client.get(f"/absences/?student={school.other_child.pk}").status_code == 200
    assert [(e.subject_id, e.org_id) for e in entries("attendance.viewed")] == [
        (school.pupil.pk, school.org.pk)
    ]


def test_a_family_reading_its_own_absences_is_not_a_staff_read(client, school, absence):
    login_verified(client, school.parent)
    assert client.get("/absences/").status_code == 200
    assert entries("attendance.viewed") == []


def test_opening_a_roll_call_is_recorded(client, school, lesson):
    login_verified(client, school.teacher)
    assert client.get(f"/absences/roll-call/{lesson.pk}/").status_code == 200
    (entry,) = entries("roll_call.viewed")
    assert (entry.actor_id, entry.target_id) == (school.teacher.pk, lesson.pk)


def test_staff_reading_a_members_delivery_log_is_recorded(client, school):
    login_verified(client, school.cpe)
    response = client.get(f"/delivery/log/?user={school.pupil.pk}")
    assert response.status_code == 200
    (entry,) = entries("delivery_log.viewed")
    assert (entry.actor_id, entry.subject_id, entry.org_id) == (
        school.cpe.pk,
        school.pupil.pk,
        school.org.pk,
    )


def test_delivery_settings_changes_are_recorded(school):
    from hub.delivery import actions

    actions.mute(
        school.parent, "conversation:1", timezone.now() + dt.timedelta(hours=1)
    )
    actions.unmute(school.parent, "conversation:1")
    assert [e.action for e in AuditEntry.objects.order_by("pk")] == [
        "delivery.muted",
        "delivery.unmuted",
    ]


def test_a_timetable_change_by_hand_is_recorded(school, lesson):
    from core.timetable.actions import change_occurrence

    change_occurrence(occurrence=lesson, actor=school.cpe, reason="", room="C3")
    (entry,) = entries("occurrence.changed")
    assert (entry.actor_id, entry.org_id, entry.detail) == (
        school.cpe.pk,
        school.org.pk,
        {"changes": ["room_changed"]},
    )
