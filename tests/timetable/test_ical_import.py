"""Reading real iCalendar exports: time zones, recurrences, teachers, errors."""

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from core.timetable.actions import import_feed
from core.timetable.holidays import load_holidays
from core.timetable.ical_import import IcalImportError, parse_calendar
from core.timetable.models import Feed, Holiday, Lesson, Occurrence
from tests.conftest import capture_events, make_user
from tests.timetable.conftest import (
    FLOP_BEFORE,
    FLOP_UID,
    HOLIDAYS_CSV,
    ICAL_DIR,
    calendar,
    event,
)

UTC = dt.UTC
SAMPLES = sorted(ICAL_DIR.glob("*.ics"))
# Files whose only events are all-day (not lessons).
ALL_DAY_ONLY = {"one_day_event_repeat_every_day.ics"}


def first_event_day(data: bytes) -> dt.date:
    """Return the earliest DTSTART date of the file's VEVENTs."""
    days = re.findall(
        rb"BEGIN:VEVENT(?:(?!END:VEVENT).)*?DTSTART[^:\n]*:(\d{8})", data, re.S
    )
    return dt.datetime.strptime(min(days).decode(), "%Y%m%d").date()


def import_bytes(school_class, data: bytes, **kwargs):
    return import_feed(school_class=school_class, data=data, name="test.ics", **kwargs)


def occurrences(school_class):
    return list(Occurrence.objects.filter(school_class=school_class).order_by("start"))


# Every real export imports.


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_export_imports_and_reimports_without_change(school, path):
    data = path.read_bytes()
    first = first_event_day(data)
    result = import_bytes(
        school.class_4b, data, window=(first, first + dt.timedelta(days=365))
    )
    rows = occurrences(school.class_4b)
    assert result.created == len(rows)
    if path.name in ALL_DAY_ONLY:
        assert rows == [] and result.skipped_all_day > 0
    else:
        assert rows, "a file with timed events gives occurrences"
        assert all(
            o.end >= o.start and o.start.utcoffset() == dt.timedelta(0) for o in rows
        )
    with capture_events() as events:
        again = import_bytes(
            school.class_4b, data, window=(first, first + dt.timedelta(days=365))
        )
    assert events == [] and again.changed == 0 and again.unchanged == len(rows)


def test_occurrences_outside_the_class_session_are_not_imported(school):
    result = import_bytes(school.class_4b, FLOP_BEFORE.read_bytes())
    rows = occurrences(school.class_4b)
    session_start = dt.datetime(2025, 8, 31, 22, 0, tzinfo=UTC)  # 2025-09-01 in Paris
    assert rows and all(o.start >= session_start for o in rows)
    assert result.created == len(rows) < 750  # the file goes back to 2024-09


# Time zones.


def test_floating_times_with_x_wr_timezone_are_read_in_that_zone(school):
    import_bytes(school.class_4b, FLOP_BEFORE.read_bytes())
    exam = Occurrence.objects.get(lesson__uid=FLOP_UID + "550972")
    # DTSTART;VALUE=DATE-TIME:20260120T141500 with X-WR-TIMEZONE:Europe/Paris
    assert exam.start == dt.datetime(2026, 1, 20, 13, 15, tzinfo=UTC)
    assert exam.end == dt.datetime(2026, 1, 20, 14, 45, tzinfo=UTC)
    assert exam.recurrence_key == ""


def test_floating_times_without_x_wr_timezone_use_the_feed_zone(school):
    data = calendar(
        event("float-1", ":20251006T080000", ":20251006T090000", SUMMARY="Maths")
    )
    import_bytes(school.class_4b, data)
    (lesson,) = occurrences(school.class_4b)
    assert lesson.start == dt.datetime(2025, 10, 6, 6, 0, tzinfo=UTC)  # 08:00 CEST


def test_utc_times_keep_their_instant_whatever_x_wr_timezone(school):
    data = (ICAL_DIR / "x_wr_timezone_simple_events_issue_59.ics").read_bytes()
    import_bytes(
        school.class_4b, data, window=(dt.date(2021, 12, 1), dt.date(2021, 12, 31))
    )
    starts = [o.start for o in occurrences(school.class_4b)]
    assert starts == [
        dt.datetime(2021, 12, 22, 17, 0, tzinfo=UTC),
        dt.datetime(2021, 12, 23, 2, 0, tzinfo=UTC),
    ]


def test_custom_tzid_defined_by_vtimezone_and_spaced_rrule_are_understood(school):
    # Exchange: TZID "GMT +0100 (Standard) / GMT +0200 (Daylight)", BYDAY=MO, TU, ...
    data = (ICAL_DIR / "issue_165_missing_event.ics").read_bytes()
    import_bytes(
        school.class_4b, data, window=(dt.date(2015, 7, 1), dt.date(2015, 7, 31))
    )
    rows = occurrences(school.class_4b)
    assert len(rows) == 14  # weekdays from 3 to 22 July 2015
    assert rows[0].start == dt.datetime(2015, 7, 3, 8, 0, tzinfo=UTC)  # 10:00 +02:00
    assert rows[0].recurrence_key == "20150703T080000Z"
    assert {o.start.weekday() for o in rows} == {0, 1, 2, 3, 4}


def test_non_olson_tzid_with_fixed_offset(school):
    data = (ICAL_DIR / "issue_218_bad_tzid.ics").read_bytes()
    import_bytes(
        school.class_4b, data, window=(dt.date(2017, 2, 1), dt.date(2017, 3, 31))
    )
    (row,) = occurrences(school.class_4b)
    assert row.start == dt.datetime(2017, 2, 28, 12, 0, tzinfo=UTC)  # 23:00 UTC+11


# Recurrences (RFC 5545 §3.8.5, §3.8.4.4) and status (§3.8.1.11).


def test_rrule_expansion_leaves_out_every_exdate(school):
    data = (
        ICAL_DIR / "event_with_recurrence_exdates_on_different_lines.ics"
    ).read_bytes()
    import_bytes(
        school.class_4b, data, window=(dt.date(2012, 3, 1), dt.date(2012, 7, 31))
    )
    days = [o.start.date() for o in occurrences(school.class_4b)]
    assert len(days) == 10
    for excluded in (
        "2012-04-03",
        "2012-04-10",
        "2012-04-17",
        "2012-05-01",
        "2012-05-29",
    ):
        assert dt.date.fromisoformat(excluded) not in days


def test_utc_exdate_removes_a_tzid_instance(school):
    data = (ICAL_DIR / "each_week_but_one_deleted.ics").read_bytes()
    import_bytes(
        school.class_4b, data, window=(dt.date(2019, 3, 1), dt.date(2019, 5, 31))
    )
    rows = occurrences(school.class_4b)
    assert len(rows) == 7  # COUNT=8, one EXDATE
    assert dt.datetime(2019, 3, 10, 23, 30, tzinfo=UTC) not in [o.start for o in rows]


def test_recurrence_id_override_replaces_its_instance_even_before_the_master(school):
    data = (ICAL_DIR / "issue_62_moved_event.ics").read_bytes()
    import_bytes(
        school.class_4b, data, window=(dt.date(2021, 11, 1), dt.date(2022, 1, 31))
    )
    rows = occurrences(school.class_4b)
    by_key = {o.recurrence_key: o for o in rows}
    assert set(by_key) == {"20211126T203000Z", "20211231T203000Z", "20220128T203000Z"}
    # The 31 December instance was moved to the 17th.
    assert by_key["20211231T203000Z"].start == dt.datetime(
        2021, 12, 17, 20, 30, tzinfo=UTC
    )
    assert (
        by_key["20211231T203000Z"].end == by_key["20211231T203000Z"].start
    )  # no DTEND


def test_moved_instances_keep_their_original_start_as_key(school):
    data = (ICAL_DIR / "recurring_events_moved.ics").read_bytes()
    import_bytes(
        school.class_4b, data, window=(dt.date(2019, 3, 1), dt.date(2019, 3, 31))
    )
    rows = Occurrence.objects.filter(lesson__uid="a0c78729-30b1-4ba3-a86e-6aedd995d788")
    moved = rows.get(recurrence_key="20190309T010000Z")
    assert moved.start == dt.datetime(2019, 3, 9, 2, 0, tzinfo=UTC)
    edited = Occurrence.objects.get(recurrence_key="20190319T030000Z")
    assert edited.subject == "test7 - edited" and edited.room == "location"


def test_status_cancelled_instance_is_stored_cancelled(school):
    data = (ICAL_DIR / "issue_18_cancel_status.ics").read_bytes()
    result = import_bytes(
        school.class_4b, data, window=(dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    )
    rows = occurrences(school.class_4b)
    assert [o.status for o in rows] == ["scheduled", "cancelled", "scheduled"]
    assert rows[1].recurrence_key == "20200129T210000Z"
    assert result.created == 3


def test_single_event_has_an_empty_recurrence_key(school):
    import_bytes(
        school.class_4b, calendar(event("one", ":20251006T080000Z", SUMMARY="x"))
    )
    assert occurrences(school.class_4b)[0].recurrence_key == ""


def test_weekly_series_skips_the_11_november_holiday(school, holidays):
    data = calendar(
        event(
            "tuesday-maths",
            ";TZID=Europe/Paris:20251104T100000",
            ";TZID=Europe/Paris:20251104T110000",
            RRULE="FREQ=WEEKLY;COUNT=3",
            SUMMARY="Mathématiques",
        )
    )
    result = import_bytes(school.class_4b, data)
    days = [o.start.date() for o in occurrences(school.class_4b)]
    assert days == [dt.date(2025, 11, 4), dt.date(2025, 11, 18)]
    assert result.skipped_holidays == 1


# What real exports contain.


def test_bare_vevent_with_accents_is_wrapped_and_imported(school):
    data = (ICAL_DIR / "event_with_unicode_fields.ics").read_bytes()
    import_bytes(
        school.class_4b, data, window=(dt.date(2010, 10, 1), dt.date(2010, 10, 31))
    )
    (row,) = occurrences(school.class_4b)
    assert row.subject == "Non-ASCII Test: ÄÖÜ äöü €"
    assert row.room == "Tribstrül"


def test_escaped_comma_in_location_is_unescaped(school):
    data = (ICAL_DIR / "timezoned.ics").read_bytes()
    import_bytes(
        school.class_4b, data, window=(dt.date(2012, 2, 1), dt.date(2012, 2, 29))
    )
    assert occurrences(school.class_4b)[0].room == "aka bild, wien"


def test_folded_lines_are_joined(school):
    data = calendar(
        "BEGIN:VEVENT\nUID:folded\nDTSTART:20251006T080000Z\nDTEND:20251006T090000Z\n"
        "SUMMARY:Histoire-\n géographie\nLOCATION:Salle\n\t12\nEND:VEVENT"
    )
    import_bytes(school.class_4b, data)
    (row,) = occurrences(school.class_4b)
    assert (row.subject, row.room) == ("Histoire-géographie", "Salle12")


def test_all_day_events_are_skipped_not_stored(school):
    data = calendar(
        event("day", ";VALUE=DATE:20251006", ";VALUE=DATE:20251007", SUMMARY="Sortie"),
        event("lesson", ":20251006T080000Z", ":20251006T090000Z", SUMMARY="Anglais"),
    )
    result = import_bytes(school.class_4b, data)
    assert [o.subject for o in occurrences(school.class_4b)] == ["Anglais"]
    assert result.skipped_all_day == 1


def test_missing_dtend_uses_duration_or_else_the_start(school):
    data = calendar(
        event(
            "with-duration", ":20251006T080000Z", None, DURATION="PT55M", SUMMARY="A"
        ),
        event("no-end", ":20251007T080000Z", None, SUMMARY="B"),
    )
    import_bytes(school.class_4b, data)
    a, b = occurrences(school.class_4b)
    assert a.end - a.start == dt.timedelta(minutes=55)
    assert b.end == b.start


def test_event_without_uid_gets_a_stable_one(school):
    data = calendar(
        "BEGIN:VEVENT\nDTSTART:20251006T080000Z\nSUMMARY:Sans UID\nEND:VEVENT"
    )
    import_bytes(school.class_4b, data)
    first = Lesson.objects.get().uid
    import_bytes(school.class_4b, data)
    assert Lesson.objects.get().uid == first and first.startswith("no-uid-")


# Teachers and subjects.


def test_flop_initials_give_teacher_names_subject_and_linked_teacher(school):
    om = make_user("olivier", "teacher", "Olivier", "Maurel", timetable_code="om")
    om.orgs.add(school.org)
    elsewhere = make_user("omar", "teacher", "Omar", "M", timetable_code="OM")
    elsewhere.orgs.add(school.other_org)
    import_bytes(school.class_4b, FLOP_BEFORE.read_bytes())
    exam = Occurrence.objects.get(lesson__uid=FLOP_UID + "550972")
    assert exam.subject == "R114 Examen"  # "R114 Examen - OM " in SUMMARY
    assert exam.teacher_names == "OM"
    assert exam.room == "A011"
    assert list(exam.teachers.all()) == [om]  # case-insensitive, same org only


def test_flop_none_teacher_gives_no_teacher_and_strips_the_x(school):
    import_bytes(school.class_4b, FLOP_BEFORE.read_bytes())
    sae = Occurrence.objects.get(lesson__uid=FLOP_UID + "551011")
    assert (sae.subject, sae.teacher_names) == ("SAE15 TP240", "")
    assert not sae.teachers.exists()


def test_generic_export_takes_teachers_from_organizer_and_attendee_cn(school):
    data = calendar(
        "BEGIN:VEVENT\nUID:cn\nDTSTART:20251006T080000Z\nDTEND:20251006T090000Z\n"
        "SUMMARY: Physique - AM \n"
        "ORGANIZER;CN=AM:mailto:alice@example.org\n"
        'ATTENDEE;CN="Bob Durand";ROLE=REQ-PARTICIPANT:mailto:bob@example.org\n'
        "END:VEVENT",
        event("none", ":20251007T080000Z", SUMMARY="Étude"),
    )
    import_bytes(school.class_4b, data)
    physics, study = occurrences(school.class_4b)
    assert physics.subject == "Physique - AM"  # only flop!EDT suffixes are stripped
    assert physics.teacher_names == "AM, Bob Durand"
    assert list(physics.teachers.all()) == [school.teacher]
    assert study.teacher_names == ""


# Files that cannot be read.

GOOD = calendar(
    event("a", ":20251006T080000Z", ":20251006T090000Z", SUMMARY="Maths"),
    event("b", ":20251007T080000Z", ":20251007T090000Z", SUMMARY="Français"),
)


def with_line(data: bytes, after: bytes, line: bytes) -> bytes:
    return data.replace(after + b"\r\n", after + b"\r\n" + line + b"\r\n", 1)


BAD_FILES = {
    # name: (bytes, line the error names, words of the message)
    "truncated mid-VEVENT": (GOOD[: GOOD.index(b"SUMMARY:Fran")], 15, "truncated"),
    "garbage line": (
        with_line(GOOD, b"SUMMARY:Maths", b"<html>oops</html>"),
        10,
        "content line",
    ),
    "empty file": (b"", 1, "empty"),
    "blank file": (b"\r\n  \r\n", 1, "empty"),
    "non-UTF-8 bytes": (GOOD.replace(b"Fran\xc3\xa7ais", b"Fran\xe7ais"), 16, "UTF-8"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "UTF-8"),
    "NUL byte": (GOOD.replace(b"SUMMARY:Maths", b"SUMMARY:Ma\x00ths"), 9, "control"),
    "END mismatch": (
        GOOD.replace(b"END:VEVENT", b"END:VTODO", 1),
        10,
        "does not close",
    ),
    "bad DTSTART": (
        GOOD.replace(b"20251007T080000Z", b"2025-10-07 08:00"),
        14,
        "DTSTART",
    ),
    "unknown TZID": (
        GOOD.replace(
            b"DTSTART:20251007T080000Z", b"DTSTART;TZID=Mars/Base:20251007T080000"
        ),
        14,
        "Mars/Base",
    ),
    "bad RRULE": (
        with_line(GOOD, b"SUMMARY:Maths", b"RRULE:FREQ=SOMETIMES"),
        10,
        "RRULE",
    ),
    "not a calendar": (
        b"BEGIN:VCARD\r\nFN:Alice\r\nEND:VCARD\r\n",
        1,
        "not an iCalendar",
    ),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_unreadable_file_raises_with_its_line(name):
    data, line, words = BAD_FILES[name]
    with pytest.raises(IcalImportError) as caught:
        parse_calendar(
            data,
            start=dt.datetime(2025, 9, 1, tzinfo=UTC),
            end=dt.datetime(2026, 7, 1, tzinfo=UTC),
        )
    assert caught.value.line == line
    assert words in caught.value.message
    assert str(caught.value).startswith(f"line {line}: ")


def test_failed_reimport_leaves_the_earlier_import_intact(school):
    import_bytes(school.class_4b, GOOD)
    before = list(Occurrence.objects.values_list("pk", "start", "room", "status"))
    feed = Feed.objects.get()
    for name in (
        "truncated mid-VEVENT",
        "garbage line",
        "non-UTF-8 bytes",
        "bad RRULE",
    ):
        with pytest.raises(IcalImportError):
            import_bytes(school.class_4b, BAD_FILES[name][0])
    assert (
        list(Occurrence.objects.values_list("pk", "start", "room", "status")) == before
    )
    assert Feed.objects.get().imported_at == feed.imported_at
    assert Lesson.objects.count() == 2


# The commands.


def test_import_command_imports_into_the_named_class(school, tmp_path):
    path = tmp_path / "4b.ics"
    path.write_bytes(GOOD)
    out = StringIO()
    call_command(
        "import_ical", str(path), "--class", "4e B", "--org", "0350001A", stdout=out
    )
    assert "first import" in out.getvalue() and "created 2" in out.getvalue()
    assert Feed.objects.get().school_class == school.class_4b
    assert Occurrence.objects.filter(school_class=school.class_4b).count() == 2


def test_import_command_reports_the_line_of_a_bad_file(school, tmp_path):
    path = tmp_path / "broken.ics"
    path.write_bytes(BAD_FILES["truncated mid-VEVENT"][0])
    with pytest.raises(
        CommandError, match=r"broken\.ics: line 15: file ends inside VEVENT"
    ):
        call_command("import_ical", str(path), "--class", "4e B")
    assert not Occurrence.objects.exists() and not Feed.objects.exists()


def test_import_command_takes_dates_outside_the_session(school, tmp_path):
    path = tmp_path / "ade.ics"
    path.write_bytes(
        (ICAL_DIR / "ADE_iut-lyon1_extrait_2016_redacted.ics").read_bytes()
    )
    call_command(
        "import_ical",
        str(path),
        "--class",
        "4e B",
        "--from",
        "2016-06-01",
        "--to",
        "2016-06-30",
        stdout=StringIO(),
    )
    assert Occurrence.objects.count() == 22


def test_import_command_rejects_an_unknown_class(school, tmp_path):
    path = tmp_path / "x.ics"
    path.write_bytes(GOOD)
    with pytest.raises(CommandError, match="no class titled"):
        call_command("import_ical", str(path), "--class", "6e Z")


# Public holidays.


def test_load_holidays_keeps_one_row_per_date_with_names_joined(db):
    count = load_holidays(HOLIDAYS_CSV)
    assert count == Holiday.objects.count() == 285  # 286 rows, one date twice
    assert Holiday.objects.get(date=dt.date(2008, 5, 1)).name == "1er mai / Ascension"
    assert Holiday.objects.get(date=dt.date(2025, 11, 11)).name == "11 novembre"


def test_load_holidays_twice_updates_instead_of_duplicating(db, tmp_path):
    load_holidays(HOLIDAYS_CSV)
    changed = tmp_path / "feries.csv"
    changed.write_text(
        "date,annee,zone,nom_jour_ferie\n2025-11-11,2025,Métropole,Armistice",
        encoding="utf-8",
    )
    assert load_holidays(changed) == 1
    assert Holiday.objects.get(date=dt.date(2025, 11, 11)).name == "Armistice"
    assert Holiday.objects.count() == 285


def test_load_holidays_command_reads_the_shipped_file_by_default(db):
    out = StringIO()
    call_command("load_holidays", stdout=out)
    assert "285 public holidays" in out.getvalue()


def test_load_holidays_command_reports_a_bad_file(db, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,nom\n2025-01-01,x\n", encoding="utf-8")
    with pytest.raises(CommandError, match="missing columns"):
        call_command("load_holidays", str(bad))
