"""One notice per action: what ``timetable.changes`` says, in French.

Every lesson an action changes goes out live (``timetable.occurrence``, not a
notification); the action's one ``timetable.changes`` is the notification.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import translation

from core.timetable.actions import change_occurrence, import_feed, occurrence_data
from core.timetable.events import ChangeData, OccurrenceChanged, TimetableChanges
from core.timetable.models import OccurrenceChange
from hub.delivery import inbox
from hub.events import notifying_kinds
from tests.conftest import capture_events, make_occurrence
from tests.timetable.conftest import FLOP_AFTER, FLOP_BEFORE

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 1, 19, 7, 0, tzinfo=dt.UTC)


def notice(envelope):
    with translation.override("fr"):
        return TimetableChanges(op=envelope.op, **envelope.data).notice(NOW)


def test_only_the_summary_is_a_notification():
    kinds = notifying_kinds()
    assert "timetable.changes" in kinds
    assert "timetable.occurrence" not in kinds
    assert (TimetableChanges.category, OccurrenceChanged.category) == ("timetable", "")


def test_a_reimport_of_seven_changes_sends_seven_updates_and_one_notice(school):
    import_feed(school_class=school.class_3a, data=FLOP_BEFORE.read_bytes(), name="a")
    with capture_events() as events:
        import_feed(
            school_class=school.class_3a,
            data=FLOP_AFTER.read_bytes(),
            name="a",
            reason="Nouvel export",
        )
    *updates, summary = events
    assert [e.kind for e in updates] == ["timetable.occurrence"] * 7
    assert summary.kind == "timetable.changes" and summary.op == "changed"
    assert {e.stream for e in events} == {f"class:{school.class_3a.pk}"}
    assert summary.offset == updates[-1].offset + 1
    data = summary.data
    assert (data["count"], data["class_title"], data["week"]) == (
        7,
        "3e A",
        "2026-01-19",
    )
    assert data["batch"] == OccurrenceChange.objects.order_by("pk").first().pk
    # The three earliest lessons, by start, with their whole state.
    starts = sorted(e.data["occurrence"]["start"] for e in updates)[:3]
    assert [c["occurrence"]["start"] for c in data["first"]] == starts
    by_id = {e.data["occurrence"]["id"]: e for e in updates}
    for change in data["first"]:
        sent = by_id[change["occurrence"]["id"]]
        assert (change["op"], change["changes"], change["occurrence"]) == (
            sent.op,
            sent.data["changes"],
            sent.data["occurrence"],
        )

    told = notice(summary)
    assert told.title == "7 changements dans l'emploi du temps de 3e A"
    assert told.body == (
        "R113 Examen déplacé au mar. 20/01 08:00, "
        "R114 Examen déplacé au mar. 20/01 09:30, "
        "R111 TD mar. 20/01 11:05 annulé, …\n"
        "Nouvel export"
    )
    assert told.url == f"/timetable/?class={school.class_3a.pk}&week=2026-01-19"
    assert told.tag == f"timetable-{data['batch']}"
    assert told.org_id == school.org.pk

    # The notification centre counts the import once.
    assert inbox.unread_count(school.pupil3) == 1
    assert [e.kind for e in inbox.recent(school.pupil3)] == ["timetable.changes"]


def test_one_change_reads_as_the_single_change_notice(school):
    lesson = make_occurrence(school.class_3a, dt.datetime(2026, 1, 19, 8, tzinfo=PARIS))
    with capture_events() as events:
        change_occurrence(
            occurrence=lesson, actor=school.cpe, reason="Enseignante absente", room="C3"
        )
    update, summary = events
    assert (update.kind, summary.kind) == ("timetable.occurrence", "timetable.changes")
    assert summary.data["count"] == 1
    told = notice(summary)
    assert told.title == (
        "Changement de salle\u00a0: Mathématiques, lun. 19/01 08:00, B12 → C3"
    )
    assert (told.body, told.tag) == ("Enseignante absente", f"occurrence-{lesson.pk}")
    assert told.url == f"/timetable/?class={school.class_3a.pk}&week=2026-01-19"
    assert inbox.unread_count(school.pupil3) == 1


def test_every_kind_of_change_has_its_short_french_wording(school):
    monday = dt.datetime(2026, 1, 19, 8, tzinfo=PARIS)
    ops = ["cancelled", "moved", "room_changed", "teacher_changed", "added", "restored"]
    first = []
    for day, op in enumerate(ops):
        lesson = make_occurrence(
            school.class_3a,
            monday + dt.timedelta(days=day),
            subject="Maths",
            room="B4",
            teachers=[school.teacher],
        )
        lesson.teacher_names = "AM"
        first.append(
            ChangeData(op=op, changes=[op], occurrence=occurrence_data(lesson))
        )
    summary = TimetableChanges(
        op="changed",
        batch=1,
        class_id=school.class_3a.pk,
        class_title="3e A",
        org_id=school.org.pk,
        count=6,
        week="2026-01-19",
        first=first,
    )
    with translation.override("fr"):
        told = summary.notice(NOW)
    assert told.title == "6 changements dans l'emploi du temps de 3e A"
    assert told.body.split(", ") == [
        "Maths lun. 19/01 08:00 annulé",
        "Maths déplacé au mar. 20/01 08:00",
        "Maths mer. 21/01 08:00 en salle B4",
        "Maths jeu. 22/01 08:00 avec AM",
        "Maths ven. 23/01 08:00 ajouté",
        "Maths sam. 24/01 08:00 rétabli",
    ]
    with translation.override("en"):
        assert summary.notice(NOW).title == "6 changes in the timetable of 3e A"


def test_an_action_that_changes_nothing_announces_nothing(school):
    lesson = make_occurrence(school.class_3a, dt.datetime(2026, 1, 19, 8, tzinfo=PARIS))
    with capture_events() as events:
        change_occurrence(occurrence=lesson, actor=school.cpe, reason="", room="B12")
    assert events == []
    assert inbox.unread_count(school.pupil3) == 0
