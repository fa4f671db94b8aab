import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.attendance.actions import take_roll_call
from core.attendance.models import AttendanceRecord, Excuse
from tests.conftest import login_verified, make_occurrence

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


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


def login(client, user):
    login_verified(client, user)
    return client


def test_teacher_takes_roll_call_through_the_form(client, school, lesson):
    login(client, school.teacher)
    page = client.get(f"/absences/roll-call/{lesson.pk}/")
    assert page.status_code == 200
    assert "Dubois Léa" in page.content.decode()
    response = client.post(
        f"/absences/roll-call/{lesson.pk}/",
        {
            f"status-{school.pupil.pk}": "absent",
            f"status-{school.pupil2.pk}": "late",
            f"minutes-{school.pupil2.pk}": "12",
        },
    )
    assert response.status_code == 302
    marks = dict(AttendanceRecord.objects.values_list("student__username", "status"))
    assert marks == {"lea": "absent", "hugo": "late"}


def test_late_without_minutes_is_refused_with_a_message(client, school, lesson):
    login(client, school.teacher)
    response = client.post(
        f"/absences/roll-call/{lesson.pk}/",
        {f"status-{school.pupil.pk}": "late"},
        follow=True,
    )
    assert "minutes" in response.content.decode()
    assert not AttendanceRecord.objects.exists()


@pytest.mark.parametrize("persona", ["outsider", "parent", "pupil", "cpe"])
def test_only_the_lessons_teacher_can_open_its_roll_call(
    client, school, lesson, persona
):
    login(client, getattr(school, persona))
    assert client.get(f"/absences/roll-call/{lesson.pk}/").status_code == 404
    assert client.post(f"/absences/roll-call/{lesson.pk}/", {}).status_code == 404
    assert client.get("/absences/roll-call/999999/").status_code == 404


def test_guardian_sees_own_child_absence_only(client, school, absence):
    login(client, school.other_parent)
    assert "Léa Dubois" not in client.get("/absences/").content.decode()
    assert client.get("/absences/api/records/").json() == {"records": []}
    login(client, school.parent)
    records = client.get("/absences/api/records/").json()["records"]
    assert [r["student_name"] for r in records] == ["Léa Dubois"]


def test_guardian_excuses_with_a_pdf_and_cpe_accepts(
    client, school, absence, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    login(client, school.parent)
    response = client.post(
        f"/absences/{absence.pk}/excuse/",
        {
            "reason": "illness",
            "comment": "<script>alert(1)</script>",
            "document": SimpleUploadedFile("ordonnance.pdf", PDF, "application/pdf"),
        },
    )
    assert response.status_code == 302
    excuse = Excuse.objects.get()
    assert excuse.document.name.startswith("excuses/")
    login(client, school.cpe)
    queue = client.get("/absences/").content.decode()
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in queue
        and "<script>alert(1)" not in queue
    )
    download = client.get(f"/absences/excuses/{excuse.pk}/document/")
    assert download.status_code == 200
    assert download.content == PDF
    response = client.post(
        f"/absences/excuses/{excuse.pk}/review/", {"decision": "accept"}
    )
    assert response.status_code == 302
    excuse.refresh_from_db()
    assert excuse.status == "accepted" and excuse.reviewed_by == school.cpe


def test_documents_are_refused_to_other_families_and_teachers(
    client, school, absence, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    login(client, school.parent)
    client.post(
        f"/absences/{absence.pk}/excuse/",
        {
            "reason": "medical",
            "document": SimpleUploadedFile("x.png", PNG, "image/png"),
        },
    )
    excuse = Excuse.objects.get()
    for persona in ("other_parent", "outsider", "teacher"):
        login(client, getattr(school, persona))
        assert client.get(f"/absences/excuses/{excuse.pk}/document/").status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("certificat.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "PDF"),
        ("photo.png", b"<html><script>alert(1)</script></html>", "PDF"),
        ("gros.pdf", b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024), "5"),
    ],
)
def test_bad_documents_are_refused_and_nothing_is_stored(
    client, school, absence, name, content, error
):
    login(client, school.parent)
    response = client.post(
        f"/absences/{absence.pk}/excuse/",
        {"reason": "illness", "document": SimpleUploadedFile(name, content)},
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Excuse.objects.exists()


def test_guardian_cannot_excuse_another_familys_absence(client, school, absence):
    login(client, school.other_parent)
    response = client.post(f"/absences/{absence.pk}/excuse/", {"reason": "illness"})
    assert response.status_code == 404
    assert not Excuse.objects.exists()


def test_unknown_reason_is_refused(client, school, absence):
    login(client, school.parent)
    response = client.post(f"/absences/{absence.pk}/excuse/", {"reason": "vacances"})
    assert response.status_code == 200
    assert not Excuse.objects.exists()


def test_cpe_of_another_school_cannot_review(client, school, absence):
    from tests.conftest import make_user

    other_cpe = make_user("zoe", "administrator", "Zoé", "Roux")
    other_cpe.orgs.add(school.other_org)
    login(client, school.parent)
    client.post(f"/absences/{absence.pk}/excuse/", {"reason": "illness"})
    excuse = Excuse.objects.get()
    login(client, other_cpe)
    assert (
        client.post(
            f"/absences/excuses/{excuse.pk}/review/", {"decision": "refuse"}
        ).status_code
        == 404
    )
    excuse.refresh_from_db()
    assert excuse.status == "pending"


def test_pages_need_login(client, school, lesson):
    assert client.get("/absences/").status_code == 302
    assert client.get(f"/absences/roll-call/{lesson.pk}/").status_code == 302


def test_teacher_day_list_tells_a_taken_roll_call_apart(client, school, lesson):
    login(client, school.teacher)
    before = client.get("/absences/").content.decode()
    take_roll_call(occurrence=lesson, teacher=school.teacher, marks={})
    after = client.get("/absences/").content.decode()
    assert before.count(f"/absences/roll-call/{lesson.pk}/") == 1
    assert 'class="tag"' not in before and 'class="tag"' in after


def test_cpe_page_lists_todays_missing_roll_calls(client, school, lesson):
    from core.attendance.actions import flag_missing_roll_calls

    assert flag_missing_roll_calls(now=lesson.start + dt.timedelta(minutes=20)) == 1
    login(client, school.cpe)
    page = client.get("/absences/").content.decode()
    section = page.split('id="missing-roll-calls"', 1)[1].split("</ul>", 1)[0]
    assert (
        "Mathématiques" in section and "4e B" in section and "Alice Martin" in section
    )
    take_roll_call(occurrence=lesson, teacher=school.teacher, marks={})
    page = client.get("/absences/").content.decode()
    section = page.split('id="missing-roll-calls"', 1)[1].split("</ul>", 1)[0]
    assert "Mathématiques" not in section


def test_excuse_form_of_an_absence_already_excused_sends_back_to_the_list(
    client, school, absence
):
    login(client, school.parent)
    client.post(f"/absences/{absence.pk}/excuse/", {"reason": "illness"})
    response = client.get(f"/absences/{absence.pk}/excuse/")
    assert response.status_code == 302
    assert Excuse.objects.count() == 1


def test_absences_page_filters_one_child(client, school, absence):
    login(client, school.parent)
    assert (
        "Léa Dubois"
        in client.get(f"/absences/?student={school.pupil.pk}").content.decode()
    )
    other = client.get(f"/absences/?student={school.other_child.pk}").content.decode()
    assert "Léa Dubois" not in other.split('id="records"', 1)[1]


def test_absences_page_queries_do_not_grow_with_records(client, school):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add_absence_with_excuse(minutes):
        occurrence = make_occurrence(
            school.class_4b,
            timezone.now() - dt.timedelta(minutes=minutes),
            teachers=[school.teacher],
        )
        take_roll_call(
            occurrence=occurrence,
            teacher=school.teacher,
            marks={school.pupil.pk: ("absent", None)},
        )
        record = AttendanceRecord.objects.get(
            roll_call__occurrence=occurrence, student=school.pupil
        )
        Excuse.objects.create(
            record=record, submitted_by=school.parent, reason="illness"
        )

    def queries(url):
        client.get(url)  # first render creates the user's streams
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        return len(captured)

    login(client, school.parent)
    add_absence_with_excuse(20)
    one = (queries("/absences/"), queries("/absences/api/records/"))
    for minutes in (80, 140, 200):
        add_absence_with_excuse(minutes)
    assert client.get("/absences/").content.decode().count("data-record-id=") == 4
    assert (queries("/absences/"), queries("/absences/api/records/")) == one


# Staff views: role and explicit permission, per org (issue 13, finding 2) ----


def excused(client, school, absence):
    login(client, school.parent)
    client.post(f"/absences/{absence.pk}/excuse/", {"reason": "illness"})
    return Excuse.objects.get()


def test_a_cpe_without_the_school_life_permissions_sees_no_queue(
    client, school, absence
):
    from core.attendance.actions import flag_missing_roll_calls

    excuse = excused(client, school, absence)
    other_lesson = make_occurrence(
        school.class_3a, timezone.now() - dt.timedelta(minutes=30)
    )
    flag_missing_roll_calls(now=other_lesson.start + dt.timedelta(minutes=20))
    school.cpe.groups.clear()
    login(client, school.cpe)

    page = client.get("/absences/").content.decode()

    assert "Léa Dubois" not in page
    assert 'id="missing-roll-calls"' not in page or "3e A" not in page
    review = client.post(
        f"/absences/excuses/{excuse.pk}/review/", {"decision": "accept"}
    )
    assert review.status_code == 404
    assert client.get(f"/absences/excuses/{excuse.pk}/document/").status_code == 404
    assert client.get("/absences/api/records/").json()["records"] == []
    excuse.refresh_from_db()
    assert excuse.status == "pending"


def test_a_teacher_given_is_staff_and_the_group_reviews_nothing(
    client, school, absence
):
    from django.contrib.auth.models import Group

    from core.roster.access import SCHOOL_LIFE_GROUP

    excuse = excused(client, school, absence)
    school.teacher.is_staff = True
    school.teacher.save()
    school.teacher.groups.add(Group.objects.get(name=SCHOOL_LIFE_GROUP))
    login(client, school.teacher)

    review = client.post(
        f"/absences/excuses/{excuse.pk}/review/", {"decision": "accept"}
    )

    assert review.status_code == 404
    excuse.refresh_from_db()
    assert excuse.status == "pending"


def test_the_cpe_of_the_other_school_sees_none_of_this_one(client, school, absence):
    from core.roster.actions import grant_school_life_staff
    from tests.conftest import make_user

    excused(client, school, absence)
    other_cpe = make_user("zoe", "administrator", "Zoé", "Roux")
    other_cpe.orgs.add(school.other_org)
    grant_school_life_staff(other_cpe)
    login(client, other_cpe)

    page = client.get("/absences/").content.decode()

    assert "Léa Dubois" not in page
    assert client.get("/absences/api/records/").json()["records"] == []
