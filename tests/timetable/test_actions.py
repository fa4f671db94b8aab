"""Importing a feed again, and changing one lesson by hand: rows, log, events."""

import datetime as dt
from collections import Counter

import pytest

from core.timetable.actions import change_occurrence, import_feed, occurrence_data
from core.timetable.models import Lesson, Occurrence, OccurrenceChange
from tests.conftest import capture_events
from tests.timetable.conftest import (
    FLOP_AFTER,
    FLOP_BEFORE,
    FLOP_UID,
    calendar,
    capture_updates,
    event,
)

UTC = dt.UTC
NOW = dt.datetime(2025, 12, 15, 7, 0, tzinfo=UTC)


def import_bytes(school_class, data: bytes, **kwargs):
    kwargs.setdefault("now", NOW)
    return import_feed(school_class=school_class, data=data, name="edt.ics", **kwargs)


def ops(events):
    return Counter(e.op for e in events)


def weekly(**overrides) -> bytes:
    """A Monday 10:00 French lesson from 6 October 2025, 3 weeks, in S12 with AM."""
    props = {
        "SUMMARY": "Français",
        "LOCATION": "S12",
        "RRULE": "FREQ=WEEKLY;COUNT=3",
        "ORGANIZER;CN=AM": "mailto:alice@example.org",
    }
    extra = overrides.pop("extra", ())
    props.update(overrides)
    master = event(
        "fr-4b",
        ";TZID=Europe/Paris:20251006T100000",
        ";TZID=Europe/Paris:20251006T110000",
        **{k: v for k, v in props.items() if v is not None and ";" not in k},
    )
    for name, value in props.items():
        if ";" in name and value is not None:
            master = master.replace("END:VEVENT", f"{name}:{value}\nEND:VEVENT")
    return calendar(master, *extra)


def the(key: str) -> Occurrence:
    return Occurrence.objects.get(lesson__uid="fr-4b", recurrence_key=key)


OCT13 = "20251013T080000Z"  # second Monday, 10:00 Paris


def override(
    start: str, end: str, *, room: str = "S12", cancelled: bool = False
) -> str:
    """The 13 October instance of ``weekly()`` moved to ``start``-``end`` (Paris)."""
    status = "STATUS:CANCELLED\n" if cancelled else ""
    return (
        "BEGIN:VEVENT\nUID:fr-4b\nRECURRENCE-ID;TZID=Europe/Paris:20251013T100000\n"
        f"{status}DTSTART;TZID=Europe/Paris:{start}\nDTEND;TZID=Europe/Paris:{end}\n"
        f"SUMMARY:Français\nLOCATION:{room}\nORGANIZER;CN=AM:mailto:a@x\nEND:VEVENT"
    )


# First import.


def test_first_import_sends_one_feed_imported_event(school):
    with capture_events() as events:
        result = import_bytes(school.class_4b, weekly())
    assert [(e.stream, e.kind, e.op) for e in events] == [
        (f"class:{school.class_4b.pk}", "timetable.feed", "imported")
    ]
    assert events[0].data == {"class_id": school.class_4b.pk, "occurrences": 3}
    assert (result.first_import, result.created, result.changed) == (True, 3, 0)
    assert not OccurrenceChange.objects.exists()
    assert list(the(OCT13).teachers.all()) == [school.teacher]


def test_reimporting_the_same_file_changes_nothing_and_sends_nothing(school):
    import_bytes(school.class_4b, FLOP_BEFORE.read_bytes())
    rows = list(Occurrence.objects.values())
    with capture_updates() as events:
        result = import_bytes(school.class_4b, FLOP_BEFORE.read_bytes())
    assert events == []
    assert result.changed == 0 and result.unchanged == len(rows) > 0
    assert list(Occurrence.objects.values()) == rows
    assert not OccurrenceChange.objects.exists()


def test_reordered_export_with_new_dtstamp_is_unchanged(school):
    import_bytes(school.class_4b, weekly())
    data = weekly().replace(b"DTSTAMP:20250901T000000Z", b"DTSTAMP:20251201T101010Z")
    with capture_updates() as events:
        result = import_bytes(school.class_4b, data)
    assert events == [] and result.unchanged == 3


# The real flop!EDT pair (14 then 15 December 2025).


def test_flop_reimport_cancels_one_lesson_and_moves_six(school):
    import_bytes(school.class_4b, FLOP_BEFORE.read_bytes())
    with capture_updates() as events:
        result = import_bytes(
            school.class_4b, FLOP_AFTER.read_bytes(), reason="flop 15/12"
        )
    assert ops(events) == {"cancelled": 1, "moved": 6}
    assert {e.stream for e in events} == {f"class:{school.class_4b.pk}"}
    (cancel,) = [e for e in events if e.op == "cancelled"]
    td = Occurrence.objects.get(lesson__uid=FLOP_UID + "550969")
    assert cancel.data["occurrence"]["id"] == td.pk
    assert (td.subject, td.status) == ("R111 TD", "cancelled")
    assert td.start.date() == dt.date(2026, 1, 20)
    assert (result.cancelled, result.moved, result.changed) == (1, 6, 7)
    assert OccurrenceChange.objects.filter(reason="flop 15/12").count() == 7


def test_flop_moved_exam_keeps_its_initial_time_and_room(school):
    import_bytes(school.class_4b, FLOP_BEFORE.read_bytes())
    with capture_updates() as events:
        import_bytes(school.class_4b, FLOP_AFTER.read_bytes())
    exam = Occurrence.objects.get(lesson__uid=FLOP_UID + "550972")
    assert exam.start == dt.datetime(2026, 1, 20, 8, 30, tzinfo=UTC)  # 09:30 Paris
    assert exam.previous_start == dt.datetime(2026, 1, 20, 13, 15, tzinfo=UTC)
    assert (exam.room, exam.previous_room) == ("Amphi2", "A011")
    (sent,) = [e for e in events if e.data["occurrence"]["id"] == exam.pk]
    assert sent.op == "moved" and sent.data["changes"] == ["moved", "room_changed"]
    assert sent.data["occurrence"]["start"] == "2026-01-20T09:30:00+01:00"
    assert sent.data["occurrence"]["previous_start"] == "2026-01-20T14:15:00+01:00"
    change = exam.changes.get()
    assert change.before["room"] == "A011" and change.after["room"] == "Amphi2"


# Each kind of change.


def test_moving_twice_keeps_the_first_start_as_previous(school):
    import_bytes(school.class_4b, weekly())
    import_bytes(
        school.class_4b, weekly(extra=[override("20251013T140000", "20251013T150000")])
    )
    with capture_updates() as events:
        import_bytes(
            school.class_4b,
            weekly(extra=[override("20251013T160000", "20251013T170000")]),
        )
    occurrence = the(OCT13)
    assert occurrence.start == dt.datetime(2025, 10, 13, 14, 0, tzinfo=UTC)  # 16:00
    assert occurrence.previous_start == dt.datetime(2025, 10, 13, 8, 0, tzinfo=UTC)
    assert ops(events) == {"moved": 1}
    assert occurrence.changes.count() == 2


def test_moving_back_to_the_initial_time_clears_previous(school):
    import_bytes(school.class_4b, weekly())
    import_bytes(
        school.class_4b, weekly(extra=[override("20251013T140000", "20251013T150000")])
    )
    import_bytes(school.class_4b, weekly())
    occurrence = the(OCT13)
    assert occurrence.start == dt.datetime(2025, 10, 13, 8, 0, tzinfo=UTC)
    assert occurrence.previous_start is None and occurrence.previous_end is None


def test_exdate_cancels_the_instance_and_keeps_the_row(school):
    import_bytes(school.class_4b, weekly())
    with capture_updates() as events:
        result = import_bytes(
            school.class_4b, weekly(EXDATE=OCT13), reason="sortie scolaire"
        )
    assert ops(events) == {"cancelled": 1}
    occurrence = the(OCT13)
    assert (
        occurrence.status == "cancelled"
        and occurrence.change_reason == "sortie scolaire"
    )
    assert events[0].data["occurrence"]["reason"] == "sortie scolaire"
    assert result.cancelled == 1 and result.unchanged == 2


def test_status_cancelled_override_cancels_then_its_removal_restores(school):
    import_bytes(school.class_4b, weekly())
    cancelled = override("20251013T100000", "20251013T110000", cancelled=True)
    with capture_updates() as events:
        import_bytes(school.class_4b, weekly(extra=[cancelled]))
    assert ops(events) == {"cancelled": 1}
    with capture_updates() as events:
        result = import_bytes(school.class_4b, weekly())
    assert ops(events) == {"restored": 1} and result.restored == 1
    assert the(OCT13).status == "scheduled"


def test_new_lesson_in_the_export_is_added(school):
    import_bytes(school.class_4b, weekly())
    extra = event(
        "club", ":20251015T120000Z", ":20251015T130000Z", SUMMARY="Club théâtre"
    )
    with capture_updates() as events:
        result = import_bytes(school.class_4b, weekly(extra=[extra]))
    assert ops(events) == {"added": 1} and result.added == 1
    assert events[0].data["changes"] == ["added"]
    assert events[0].data["occurrence"]["subject"] == "Club théâtre"
    assert Lesson.objects.filter(uid="club").exists()


def test_room_change_alone_is_room_changed(school):
    import_bytes(school.class_4b, weekly())
    with capture_updates() as events:
        result = import_bytes(school.class_4b, weekly(LOCATION="CDI"))
    assert ops(events) == {"room_changed": 3} and result.room_changed == 3
    assert the(OCT13).previous_room == "S12"


def test_substitute_teacher_is_teacher_changed_and_linked(school):
    from tests.conftest import make_user

    substitute = make_user("bruno", "teacher", "Bruno", "Roux", timetable_code="BR")
    substitute.orgs.add(school.org)
    import_bytes(school.class_4b, weekly())
    with capture_updates() as events:
        import_bytes(
            school.class_4b,
            weekly(**{"ORGANIZER;CN=AM": None, "ORGANIZER;CN=BR": "mailto:b@x"}),
        )
    assert ops(events) == {"teacher_changed": 3}
    occurrence = the(OCT13)
    assert (occurrence.teacher_names, occurrence.previous_teacher_names) == ("BR", "AM")
    assert list(occurrence.teachers.all()) == [substitute]


def test_subject_change_alone_is_recorded_without_an_event(school):
    import_bytes(school.class_4b, weekly())
    with capture_updates() as events:
        result = import_bytes(school.class_4b, weekly(SUMMARY="Français (LCA)"))
    assert events == [] and result.subject_changed == 3
    assert the(OCT13).subject == "Français (LCA)"
    assert the(OCT13).changes.get().kinds == ["subject_changed"]


def test_cancelled_and_moved_together_is_sent_as_cancelled(school):
    import_bytes(school.class_4b, weekly())
    moved = override("20251013T150000", "20251013T160000", room="B2", cancelled=True)
    with capture_updates() as events:
        import_bytes(school.class_4b, weekly(extra=[moved]))
    (sent,) = events
    assert sent.op == "cancelled"
    assert sent.data["changes"] == ["cancelled", "moved", "room_changed"]


def test_occurrences_outside_an_explicit_window_are_left_alone(school):
    import_bytes(school.class_4b, weekly())
    with capture_updates() as events:
        result = import_bytes(
            school.class_4b,
            weekly(),
            window=(dt.date(2025, 10, 10), dt.date(2025, 10, 15)),
        )
    assert events == [] and result.unchanged == 1
    assert not Occurrence.objects.filter(status="cancelled").exists()


# A staff member's manual change.


def test_staff_cancels_one_lesson_with_a_reason(school):
    import_bytes(school.class_4b, weekly())
    occurrence = the(OCT13)
    with capture_updates() as events:
        change_occurrence(
            occurrence=occurrence,
            actor=school.cpe,
            reason="Enseignante absente",
            cancelled=True,
        )
    assert [(e.stream, e.op) for e in events] == [
        (f"class:{school.class_4b.pk}", "cancelled")
    ]
    assert events[0].data["occurrence"]["reason"] == "Enseignante absente"
    change = OccurrenceChange.objects.get()
    assert (change.kinds, change.changed_by, change.reason) == (
        ["cancelled"],
        school.cpe,
        "Enseignante absente",
    )
    assert the(OCT13).status == "cancelled"


def test_staff_moves_a_lesson_keeping_its_duration(school):
    import_bytes(school.class_4b, weekly())
    new_start = dt.datetime(2025, 10, 14, 13, 0, tzinfo=UTC)
    with capture_updates() as events:
        saved = change_occurrence(
            occurrence=the(OCT13),
            actor=school.cpe,
            reason="échange",
            start=new_start,
            room="B4",
        )
    assert saved.end - saved.start == dt.timedelta(hours=1)
    assert (saved.previous_start, saved.previous_room) == (
        dt.datetime(2025, 10, 13, 8, 0, tzinfo=UTC),
        "S12",
    )
    assert events[0].op == "moved" and events[0].data["changes"] == [
        "moved",
        "room_changed",
    ]


def test_staff_replaces_the_teacher_by_timetable_code(school):
    from tests.conftest import make_user

    substitute = make_user("bruno", "teacher", "Bruno", "Roux", timetable_code="BR")
    substitute.orgs.add(school.org)
    import_bytes(school.class_4b, weekly())
    saved = change_occurrence(
        occurrence=the(OCT13),
        actor=school.cpe,
        reason="remplacement",
        teacher_names="br",
    )
    assert list(saved.teachers.all()) == [substitute]
    assert (saved.teacher_names, saved.previous_teacher_names) == ("br", "AM")


def test_manual_change_to_the_same_values_writes_and_sends_nothing(school):
    import_bytes(school.class_4b, weekly())
    with capture_updates() as events:
        change_occurrence(
            occurrence=the(OCT13), actor=school.cpe, reason="", room="S12"
        )
    assert events == [] and not OccurrenceChange.objects.exists()


def test_manual_change_rejects_an_end_before_the_start(school):
    import_bytes(school.class_4b, weekly())
    occurrence = the(OCT13)
    with pytest.raises(ValueError, match="before start"):
        change_occurrence(
            occurrence=occurrence,
            actor=school.cpe,
            reason="",
            end=occurrence.start - dt.timedelta(minutes=1),
        )


def test_occurrence_data_gives_paris_times_with_offset(school):
    import_bytes(school.class_4b, FLOP_BEFORE.read_bytes())
    exam = Occurrence.objects.get(lesson__uid=FLOP_UID + "550972")
    data = occurrence_data(exam)
    assert (data.start, data.end) == (
        "2026-01-20T14:15:00+01:00",
        "2026-01-20T15:45:00+01:00",
    )
    assert data.class_id == school.class_4b.pk and data.teachers == "OM"
    assert data.previous_start is None and data.status == "scheduled"
