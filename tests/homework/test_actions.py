"""Homework writes: due dates, scheduled publication, changes, removal,
"fait" ticks, hand-ins (deadlines, lateness, replacement), reminders, and
the events each one sends (and to whom)."""

import datetime as dt

import pytest

from core import crypto
from core.audit.models import AuditEntry
from core.homework import actions, workload
from core.homework.actions import HomeworkError
from core.homework.models import DoneMark, HandIn, Homework, Reminder
from core.roster.models import GuardianLink
from hub.models import Event
from tests.conftest import capture_events
from tests.homework.conftest import MONDAY, at, pdf, set_maths

pytestmark = pytest.mark.django_db


def streams_of(envelopes, kind):
    return sorted(e.stream for e in envelopes if e.kind == kind)


def test_the_due_date_is_by_default_the_next_maths_lesson(week):
    homework = set_maths(week, set_in=week.maths[0])
    assert homework.due_date == MONDAY + dt.timedelta(days=2)
    assert homework.due_occurrence == week.maths[1]


def test_the_next_lesson_is_on_a_later_day_and_skips_other_subjects(week):
    due, lesson = actions.default_due(week.class_4b, "Français", at(0, 10))
    assert (due, lesson) == (MONDAY + dt.timedelta(days=1), week.french)
    # No lesson in that subject: the next weekday.
    due, lesson = actions.default_due(week.class_4b, "Latin", at(4, 10))
    assert (due, lesson) == (MONDAY + dt.timedelta(days=7), None)


def test_publishing_tells_the_class_stream_with_the_payload_and_logs_it(week):
    with capture_events() as events:
        homework = set_maths(week, kind="test")
    assert streams_of(events, "homework.item") == [f"class:{week.class_4b.pk}"]
    (event,) = events
    assert event.op == "published"
    data = event.data["homework"]
    assert data["subject"] == "Mathématiques"
    assert data["teacher_name"] == "Alice Martin"
    assert data["kind"] == "test"
    assert data["due_date"] == "2026-01-21"
    assert AuditEntry.objects.filter(
        action="homework.set", target_id=homework.pk, actor_id=week.teacher.pk
    ).exists()


def test_a_teacher_of_another_subject_or_class_may_not_set_it(week):
    with pytest.raises(HomeworkError):
        set_maths(week, teacher=week.bruno)
    with pytest.raises(HomeworkError):
        set_maths(week, teacher=week.outsider)
    with pytest.raises(HomeworkError):
        set_maths(week, school_class=week.class_3a)  # Alice does not teach 3e A
    assert not Homework.objects.exists()
    # Bruno may in French.
    set_maths(week, teacher=week.bruno, subject="Français")


def test_bad_input_is_refused_and_nothing_is_written(week):
    with pytest.raises(HomeworkError, match="passé"):
        set_maths(week, due_date=MONDAY - dt.timedelta(days=1))
    with pytest.raises(HomeworkError):
        set_maths(week, links=["javascript:alert(1)"])
    with pytest.raises(HomeworkError):
        set_maths(week, title="   ")
    with pytest.raises(HomeworkError):
        set_maths(week, attachments=[pdf()] * 6)
    assert not Homework.objects.exists()
    assert not Event.objects.filter(kind="homework.item").exists()


def test_a_planned_homework_is_published_once_at_its_time(week, clock):
    with capture_events() as events:
        homework = set_maths(week, publish_at=at(0, 18))
    assert events == [] and not homework.published
    assert actions.publish_due() == 0
    clock.move_to(at(0, 18, 1))
    with capture_events() as events:
        assert actions.publish_due() == 1
        assert actions.publish_due() == 0
    assert [e.op for e in events] == ["published"]
    homework.refresh_from_db()
    assert homework.published


def test_a_change_after_publication_is_marked_and_announced(week, clock):
    homework = set_maths(week)
    clock.move_to(at(0, 11))
    with capture_events() as events:
        actions.change_homework(
            homework=homework, teacher=week.teacher, title="Exercice 5 seulement"
        )
    homework.refresh_from_db()
    assert homework.edited_at == at(0, 11)
    assert [e.op for e in events] == ["changed"]
    assert events[0].data["homework"]["edited_at"].startswith("2026-01-19T11:00")


def test_a_change_before_publication_is_silent(week):
    homework = set_maths(week, publish_at=at(1, 7))
    with capture_events() as events:
        actions.change_homework(homework=homework, teacher=week.teacher, title="Autre")
    assert events == []
    homework.refresh_from_db()
    assert homework.edited_at is None


def test_removal_is_soft_and_announced_if_published(week):
    homework = set_maths(week)
    planned = set_maths(week, publish_at=at(1, 7))
    with capture_events() as events:
        actions.remove_homework(homework=homework, teacher=week.teacher)
        actions.remove_homework(homework=planned, teacher=week.teacher)
    assert [e.op for e in events] == ["removed"]
    homework.refresh_from_db()
    assert homework.deleted_at is not None
    with pytest.raises(HomeworkError):
        actions.change_homework(homework=homework, teacher=week.teacher, title="x")


def test_done_goes_to_the_pupil_and_guardians_never_the_class(week):
    homework = set_maths(week)
    with capture_events() as events:
        assert actions.set_done(homework=homework, student=week.pupil, done=True)
        assert not actions.set_done(homework=homework, student=week.pupil, done=True)
    assert streams_of(events, "homework.done") == sorted(
        [f"user:{week.pupil.pk}", f"user:{week.parent.pk}"]
    )
    assert DoneMark.objects.filter(student=week.pupil).count() == 1
    with capture_events() as events:
        assert actions.set_done(homework=homework, student=week.pupil, done=False)
    assert [e.op for e in events] == ["undone", "undone"]
    assert not DoneMark.objects.exists()


def test_a_guardian_whose_link_ended_hears_nothing_more(week):
    homework = set_maths(week)
    GuardianLink.objects.filter(guardian=week.parent, student=week.pupil).delete()
    with capture_events() as events:
        actions.set_done(homework=homework, student=week.pupil, done=True)
    assert streams_of(events, "homework.done") == [f"user:{week.pupil.pk}"]


def test_a_hand_in_before_the_deadline_is_on_time_and_told(week):
    homework = set_maths(week, handin_required=True, handin_deadline=at(1, 20))
    with capture_events() as events:
        handin = actions.hand_in(homework=homework, student=week.pupil, upload=pdf())
    assert not handin.late
    assert streams_of(events, "homework.handin") == sorted(
        [
            f"user:{week.pupil.pk}",
            f"user:{week.parent.pk}",
            f"user:{week.teacher.pk}",
        ]
    )
    assert events[0].data["late"] is False
    # Encrypted at rest.
    stored = handin.file.open("rb").read()
    assert b"%PDF" not in stored and crypto.decrypt(stored).startswith(b"%PDF")


def test_the_default_deadline_is_8_on_the_due_day(week):
    homework = set_maths(week, handin_required=True)
    assert homework.handin_deadline == at(2, 8)


def test_a_late_hand_in_is_accepted_and_marked_late(week, clock):
    homework = set_maths(week, handin_required=True, handin_deadline=at(1, 20))
    clock.move_to(at(1, 20, 1))
    handin = actions.hand_in(homework=homework, student=week.pupil, upload=pdf())
    assert handin.late


def test_a_late_hand_in_is_refused_when_the_teacher_said_so(week, clock):
    homework = set_maths(
        week, handin_required=True, handin_deadline=at(1, 20), late_allowed=False
    )
    clock.move_to(at(1, 20, 1))
    with pytest.raises(HomeworkError, match="date limite"):
        actions.hand_in(homework=homework, student=week.pupil, upload=pdf())
    assert not HandIn.objects.exists()


def test_a_hand_in_where_none_was_asked_is_refused(week):
    homework = set_maths(week)
    with pytest.raises(HomeworkError):
        actions.hand_in(homework=homework, student=week.pupil, upload=pdf())


def test_a_new_hand_in_replaces_the_previous_until_it_is_returned(
    week, clock, django_capture_on_commit_callbacks
):
    homework = set_maths(week, handin_required=True, handin_deadline=at(1, 20))
    first = actions.hand_in(homework=homework, student=week.pupil, upload=pdf())
    old_name = first.file.name
    clock.move_to(at(1, 21))
    with django_capture_on_commit_callbacks(execute=True):
        second = actions.hand_in(
            homework=homework, student=week.pupil, upload=pdf("v2.pdf")
        )
    assert second.file.storage.exists(second.file.name)
    assert second.pk == first.pk and second.late and second.name == "v2.pdf"
    assert not first.file.storage.exists(old_name)
    with capture_events() as events:
        actions.return_handin(handin=second, teacher=week.teacher, comment="Bien.")
    assert streams_of(events, "homework.handin") == sorted(
        [f"user:{week.pupil.pk}", f"user:{week.parent.pk}"]
    )
    assert "Bien" not in str(events[0].data)
    with pytest.raises(HomeworkError):
        actions.hand_in(homework=homework, student=week.pupil, upload=pdf())


def test_the_evening_reminder_is_sent_once_per_class_and_day(week, clock):
    set_maths(week, due_date=MONDAY + dt.timedelta(days=1), kind="test")
    set_maths(
        week,
        teacher=week.bruno,
        subject="Français",
        title="Rédaction",
        due_date=MONDAY + dt.timedelta(days=1),
    )
    set_maths(week, title="Plus tard", due_date=MONDAY + dt.timedelta(days=3))
    assert actions.send_reminders() == 0  # 10:00: too early
    clock.move_to(at(0, 17, 5))
    with capture_events() as events:
        assert actions.send_reminders() == 1
        assert actions.send_reminders() == 0
    (event,) = events
    assert event.stream == f"class:{week.class_4b.pk}"
    assert event.data["count"] == 2
    assert event.data["subjects"] == ["Français", "Mathématiques"]
    assert Reminder.objects.count() == 1
    clock.move_to(at(0, 21, 30))
    assert actions.send_reminders() == 0


def test_the_workload_warns_of_two_tests_on_one_day(week):
    wednesday = MONDAY + dt.timedelta(days=2)
    set_maths(week, due_date=wednesday, kind="test")
    set_maths(week, teacher=week.bruno, subject="Français", due_date=wednesday)
    days = {
        d.day: d
        for d in workload.workload(
            week.class_4b, MONDAY, MONDAY + dt.timedelta(days=6), week.teacher
        )
    }
    assert len(days[wednesday].items) == 2 and not days[wednesday].warning
    set_maths(
        week, teacher=week.bruno, subject="Français", due_date=wednesday, kind="test"
    )
    days = {
        d.day: d
        for d in workload.workload(
            week.class_4b, MONDAY, MONDAY + dt.timedelta(days=6), week.teacher
        )
    }
    assert days[wednesday].warning and days[wednesday].tests == 2
    assert days[wednesday].by_subject == [("Français", 2), ("Mathématiques", 1)]


@pytest.mark.django_db(transaction=True)
def test_a_resubmission_racing_a_return_does_not_wipe_it(week, monkeypatch):
    """The pupil's re-submission has read the hand-in when the teacher
    returns it: the return waits for the re-submission (locks), then
    returns the new work; it is not lost. Needs row locks (PostgreSQL)."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks need a server database (DATABASE_URL=postgres://)")
    homework = set_maths(week, handin_required=True)
    first = actions.hand_in(homework=homework, student=week.pupil, upload=pdf())
    read, go = threading.Event(), threading.Event()
    encrypted = actions.files.encrypted

    def slow_encrypted(data):
        read.set()  # the hand-in row has been read
        go.wait(10)
        return encrypted(data)

    monkeypatch.setattr(actions.files, "encrypted", slow_encrypted)
    errors = []

    def run(job):
        try:
            job()
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    pupil = threading.Thread(
        target=run,
        args=(
            lambda: actions.hand_in(
                homework=homework, student=week.pupil, upload=pdf("v2.pdf")
            ),
        ),
    )
    teacher = threading.Thread(
        target=run,
        args=(
            lambda: actions.return_handin(
                handin=first, teacher=week.teacher, comment="Vu."
            ),
        ),
    )
    pupil.start()
    assert read.wait(10)
    teacher.start()
    teacher.join(1)  # without the locks, the return is done by now
    go.set()
    pupil.join(10)
    teacher.join(10)
    assert errors == []
    handin = HandIn.objects.get(pk=first.pk)
    assert handin.returned_at is not None and handin.comment == "Vu."
    assert handin.name == "v2.pdf"


def test_a_planned_homework_removed_while_publishing_is_not_announced(
    week, clock, monkeypatch
):
    """Removed between the scheduler's listing and its update: not
    published, no event."""
    import contextlib

    planned = set_maths(week, publish_at=at(0, 11))
    clock.move_to(at(0, 11, 1))
    atomic = actions.transaction.atomic

    @contextlib.contextmanager
    def removed_first(*args, **kwargs):
        Homework.objects.filter(pk=planned.pk).update(deleted_at=at(0, 11, 1))
        with atomic(*args, **kwargs):
            yield

    monkeypatch.setattr(actions.transaction, "atomic", removed_first)
    with capture_events() as events:
        assert actions.publish_due() == 0
    assert events == []
    assert not Homework.objects.get(pk=planned.pk).published


def test_planned_homework_counts_only_for_the_teachers_who_may_manage_it(week):
    wednesday = MONDAY + dt.timedelta(days=2)
    set_maths(week, due_date=wednesday, kind="test", publish_at=at(1, 18))
    set_maths(week, teacher=week.bruno, subject="Français", due_date=wednesday)

    def on_wednesday(viewer):
        days = workload.workload(
            week.class_4b, MONDAY, MONDAY + dt.timedelta(days=6), viewer
        )
        return next(d for d in days if d.day == wednesday).by_subject

    assert on_wednesday(week.teacher) == [("Français", 1), ("Mathématiques", 1)]
    assert on_wednesday(week.bruno) == [("Français", 1)]
    assert on_wednesday(week.cpe) == [("Français", 1)]
