import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.attendance.actions import (
    AttendanceError,
    flag_missing_roll_calls,
    review_excuse,
    submit_excuse,
    take_roll_call,
)
from core.attendance.models import AttendanceRecord, Excuse, MissingRollCall
from tests.conftest import capture_events, make_occurrence

NOW = dt.datetime(2026, 1, 19, 9, 5, tzinfo=dt.UTC)


@pytest.fixture
def lesson(school):
    return make_occurrence(
        school.class_4b, NOW - dt.timedelta(minutes=5), teachers=[school.teacher]
    )


def mark_pupil_absent(school, lesson):
    """The teacher's roll call of ``lesson``: ``school.pupil`` absent."""
    return take_roll_call(
        occurrence=lesson,
        teacher=school.teacher,
        marks={school.pupil.pk: ("absent", None)},
        now=NOW,
    )


def streams_of(envelopes):
    return sorted(e.stream for e in envelopes)


def test_absence_reaches_pupil_guardian_and_cpe_only(school, lesson):
    with capture_events() as events:
        mark_pupil_absent(school, lesson)
    assert {e.kind for e in events} == {"attendance.record"}
    assert streams_of(events) == sorted(
        f"user:{u.pk}" for u in (school.pupil, school.parent, school.cpe)
    )
    assert all(
        e.op == "recorded" and e.data["student_name"] == "Léa Dubois" for e in events
    )
    assert AttendanceRecord.objects.get(student=school.pupil2).status == "present"


def test_an_administrator_without_the_permission_is_not_told_of_absences(
    school, lesson
):
    """A head or counsellor an import made an administrator, but not given
    the school-life permissions, reads no absence on the pages: their
    stream must not carry them either (one rule, staff_orgs)."""
    from tests.conftest import make_user

    head = make_user("head", "administrator", "Marc", "Proviseur")
    head.orgs.add(school.org)
    with capture_events() as events:
        mark_pupil_absent(school, lesson)
    assert f"user:{head.pk}" not in streams_of(events)
    assert f"user:{school.cpe.pk}" in streams_of(events)


def test_present_pupils_emit_nothing(school, lesson):
    with capture_events() as events:
        take_roll_call(occurrence=lesson, teacher=school.teacher, marks={}, now=NOW)
    assert events == []
    assert AttendanceRecord.objects.filter(status="present").count() == 2


def test_correction_emits_updated_then_cleared(school, lesson):
    mark_pupil_absent(school, lesson)
    with capture_events() as events:
        take_roll_call(
            occurrence=lesson,
            teacher=school.teacher,
            marks={school.pupil.pk: ("late", 10)},
            now=NOW,
        )
    assert {e.op for e in events} == {"updated"}
    assert events[0].data["minutes_late"] == 10
    with capture_events() as events:
        take_roll_call(occurrence=lesson, teacher=school.teacher, marks={}, now=NOW)
    assert {e.op for e in events} == {"cleared"}
    with capture_events() as events:
        take_roll_call(occurrence=lesson, teacher=school.teacher, marks={}, now=NOW)
    assert events == []


@pytest.mark.parametrize(
    "mark",
    [("late", None), ("late", 0), ("late", 500), ("sleeping", None)],
)
def test_bad_marks_are_refused_and_nothing_is_written(school, lesson, mark):
    with pytest.raises(AttendanceError):
        take_roll_call(
            occurrence=lesson,
            teacher=school.teacher,
            marks={school.pupil.pk: mark},
            now=NOW,
        )
    assert not AttendanceRecord.objects.exists()


def test_pupil_of_another_class_is_refused(school, lesson):
    with pytest.raises(AttendanceError):
        take_roll_call(
            occurrence=lesson,
            teacher=school.teacher,
            marks={school.pupil3.pk: ("absent", None)},
            now=NOW,
        )
    assert not AttendanceRecord.objects.exists()


def test_roll_call_refused_for_cancelled_or_future_lesson(school, lesson):
    with pytest.raises(AttendanceError):
        take_roll_call(
            occurrence=lesson,
            teacher=school.teacher,
            marks={},
            now=NOW - dt.timedelta(hours=2),
        )
    lesson.status = "cancelled"
    lesson.save()
    with pytest.raises(AttendanceError):
        take_roll_call(occurrence=lesson, teacher=school.teacher, marks={}, now=NOW)


def pdf_upload(name="certificat.pdf"):
    return SimpleUploadedFile(
        name, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf"
    )


def test_excuse_flow_emits_each_step_to_the_family_and_cpe(
    school, lesson, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    mark_pupil_absent(school, lesson)
    record = AttendanceRecord.objects.get(student=school.pupil)
    with capture_events() as events:
        excuse = submit_excuse(
            record=record,
            guardian=school.parent,
            reason="illness",
            comment="Fièvre",
            document=pdf_upload(),
        )
    assert [e.op for e in events] == ["submitted"] * 2
    assert streams_of(events) == sorted(
        f"user:{u.pk}" for u in (school.pupil, school.cpe)
    )
    assert excuse.document.name.startswith("excuses/")
    with pytest.raises(AttendanceError):
        submit_excuse(record=record, guardian=school.parent, reason="illness")
    with capture_events() as events:
        review_excuse(excuse=excuse, reviewer=school.cpe, accept=True, note="Vu")
    assert streams_of(events) == sorted(
        f"user:{u.pk}" for u in (school.pupil, school.parent)
    )
    assert events[0].op == "accepted" and "note" not in events[0].data
    with pytest.raises(AttendanceError):
        review_excuse(excuse=excuse, reviewer=school.cpe, accept=False)
    assert Excuse.objects.get().status == "accepted"


def test_refused_excuse_can_be_submitted_again(school, lesson):
    take_roll_call(
        occurrence=lesson,
        teacher=school.teacher,
        marks={school.pupil.pk: ("late", 5)},
        now=NOW,
    )
    record = AttendanceRecord.objects.get(student=school.pupil)
    first = submit_excuse(record=record, guardian=school.parent, reason="transport")
    review_excuse(excuse=first, reviewer=school.cpe, accept=False)
    second = submit_excuse(
        record=record,
        guardian=school.parent,
        reason="transport",
        comment="Bus en panne, attestation jointe",
    )
    assert second.status == "pending"


def test_missing_roll_call_is_flagged_once_to_teacher_and_cpe(school, lesson):
    with capture_events() as events:
        assert flag_missing_roll_calls(now=NOW + dt.timedelta(minutes=5)) == 0
        assert flag_missing_roll_calls(now=NOW + dt.timedelta(minutes=11)) == 1
        assert flag_missing_roll_calls(now=NOW + dt.timedelta(minutes=30)) == 0
    assert streams_of(events) == sorted(
        f"user:{u.pk}" for u in (school.teacher, school.cpe)
    )
    assert events[0].kind == "attendance.roll_call"
    assert MissingRollCall.objects.count() == 1


def test_taken_roll_call_is_not_flagged(school, lesson):
    take_roll_call(occurrence=lesson, teacher=school.teacher, marks={}, now=NOW)
    assert flag_missing_roll_calls(now=NOW + dt.timedelta(minutes=30)) == 0


def test_old_lessons_are_not_flagged(school):
    make_occurrence(
        school.class_4b,
        timezone.now() - dt.timedelta(days=3),
        teachers=[school.teacher],
    )
    assert flag_missing_roll_calls() == 0


def test_roll_call_takes_the_school_life_streams_last(school, lesson):
    """Bench S3: every roll call of a school writes the CPE's stream; its row lock
    is taken after the families' (and so held only for the end of the transaction)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        take_roll_call(
            occurrence=lesson,
            teacher=school.teacher,
            marks={
                school.pupil.pk: ("absent", None),
                school.pupil2.pk: ("late", 10),
            },
            now=NOW,
        )
    cpe = f"'user:{school.cpe.pk}'"
    family = {f"'user:{u.pk}'" for u in (school.pupil, school.pupil2, school.parent)}
    touching = [
        q["sql"]
        for q in queries.captured_queries
        if "hub_stream" in q["sql"]
        and ("UPDATE" in q["sql"] or "FOR UPDATE" in q["sql"])
    ]
    first_cpe = next(i for i, sql in enumerate(touching) if cpe in sql)
    assert any(name in sql for sql in touching[:first_cpe] for name in family)
    assert not any(name in sql for sql in touching[first_cpe:] for name in family)


def test_staff_member_who_is_a_guardian_gets_the_absence_once(school, lesson):
    from core.roster.models import GuardianLink

    GuardianLink.objects.create(guardian=school.cpe, student=school.pupil)
    with capture_events() as events:
        mark_pupil_absent(school, lesson)
    assert streams_of(events) == sorted(
        f"user:{u.pk}" for u in (school.pupil, school.parent, school.cpe)
    )
