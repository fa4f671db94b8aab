"""What real exports do: THISANDFUTURE overrides, stray lines, events that end
before they start, ADE teacher names and UIDs regenerated at each export."""

import datetime as dt
import re
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from core.timetable.actions import change_occurrence, import_feed
from core.timetable.ical_import import IcalImportError, parse_calendar
from core.timetable.models import Feed, Lesson, Occurrence, OccurrenceChange
from tests.conftest import make_user
from tests.timetable.conftest import (
    FLOP_AFTER,
    FLOP_BEFORE,
    FLOP_UID,
    ICAL_DIR,
    calendar,
    capture_updates,
    event,
    ics,
)

UTC = dt.UTC
NOW = dt.datetime(2025, 12, 15, 7, 0, tzinfo=UTC)
ADE = ICAL_DIR / "ADE_iut-lyon1_extrait_2016_redacted.ics"
JUNE_2016 = (dt.date(2016, 6, 1), dt.date(2016, 6, 30))


def import_bytes(school_class, data: bytes, **kwargs):
    kwargs.setdefault("now", NOW)
    return import_feed(school_class=school_class, data=data, name="edt.ics", **kwargs)


def parse(data: bytes, **kwargs):
    return parse_calendar(
        data,
        start=dt.datetime(2025, 9, 1, tzinfo=UTC),
        end=dt.datetime(2026, 7, 1, tzinfo=UTC),
        **kwargs,
    )


def ops(events):
    return Counter(e.op for e in events)


def paris(day: str, hour: int, minute: int = 0) -> dt.datetime:
    """Return the UTC instant of ``day`` (YYYY-MM-DD) at hour:minute in Paris."""
    from zoneinfo import ZoneInfo

    local = dt.datetime.fromisoformat(day).replace(
        hour=hour, minute=minute, tzinfo=ZoneInfo("Europe/Paris")
    )
    return local.astimezone(UTC)


# 1. RECURRENCE-ID;RANGE=THISANDFUTURE (RFC 5545 §3.8.4.4, §3.2.13)

WEEKLY = event(
    "fr-4b",
    ";TZID=Europe/Paris:20251006T100000",
    ";TZID=Europe/Paris:20251006T110000",
    RRULE="FREQ=WEEKLY;COUNT=5",
    SUMMARY="Français",
    LOCATION="S12",
)
# From the 3rd Monday (20 October) on: one hour later, in B2, a new title.
FROM_THIRD_ON = (
    "BEGIN:VEVENT\nUID:fr-4b\nDTSTAMP:20251001T000000Z\n"
    "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Paris:20251020T100000\n"
    "DTSTART;TZID=Europe/Paris:20251020T110000\n"
    "DTEND;TZID=Europe/Paris:20251020T120000\n"
    "SUMMARY:Français (atelier)\nLOCATION:B2\nEND:VEVENT"
)
MONDAYS = ["2025-10-06", "2025-10-13", "2025-10-20", "2025-10-27", "2025-11-03"]


def keys_of(mondays):
    return [f"{paris(day, 10):%Y%m%dT%H%M%SZ}" for day in mondays]


def test_thisandfuture_override_moves_every_later_instance_with_its_own_key():
    parsed = parse(calendar(WEEKLY, FROM_THIRD_ON))
    rows = [
        (o.recurrence_key, o.start, o.end, o.room, o.subject)
        for o in parsed.occurrences
    ]
    kept = [
        (key, paris(day, 10), paris(day, 11), "S12", "Français")
        for key, day in zip(keys_of(MONDAYS[:2]), MONDAYS[:2], strict=True)
    ]
    moved = [
        (key, paris(day, 11), paris(day, 12), "B2", "Français (atelier)")
        for key, day in zip(keys_of(MONDAYS[2:]), MONDAYS[2:], strict=True)
    ]
    # 11:00 in Paris on both sides of the 26 October change of offset.
    assert rows == kept + moved
    assert moved[1][1] == dt.datetime(2025, 10, 27, 10, 0, tzinfo=UTC)


def test_thisandfuture_reimport_sends_each_shifted_lesson_as_moved(school):
    import_bytes(school.class_4b, calendar(WEEKLY))
    first = {o.recurrence_key: o.pk for o in Occurrence.objects.all()}
    with capture_updates() as events:
        result = import_bytes(school.class_4b, calendar(WEEKLY, FROM_THIRD_ON))
    assert [(e.op, e.data["changes"]) for e in events] == [
        ("moved", ["moved", "room_changed", "subject_changed"])
    ] * 3
    assert [e.data["occurrence"]["id"] for e in events] == [
        first[key] for key in keys_of(MONDAYS[2:])
    ]
    assert [e.data["occurrence"]["start"] for e in events] == [
        "2025-10-20T11:00:00+02:00",
        "2025-10-27T11:00:00+01:00",
        "2025-11-03T11:00:00+01:00",
    ]
    assert (result.moved, result.unchanged, result.added, result.cancelled) == (
        3,
        2,
        0,
        0,
    )
    oct27 = Occurrence.objects.get(pk=first[keys_of(["2025-10-27"])[0]])
    assert (oct27.room, oct27.previous_room) == ("B2", "S12")
    assert oct27.previous_start == paris("2025-10-27", 10)
    with capture_updates() as events:
        again = import_bytes(school.class_4b, calendar(WEEKLY, FROM_THIRD_ON))
    assert events == [] and again.unchanged == 5


def test_thisandfuture_with_floating_times_and_x_wr_timezone():
    # x-wr-timezone drops the RANGE parameter: it must come back (any case).
    floating = calendar(
        WEEKLY.replace(";TZID=Europe/Paris", ""),
        FROM_THIRD_ON.replace(";TZID=Europe/Paris", "").replace(
            "THISANDFUTURE", "ThisAndFuture"
        ),
        header="X-WR-TIMEZONE:Europe/Paris",
    )
    parsed = parse(floating)
    assert [o.start for o in parsed.occurrences] == [
        paris(MONDAYS[0], 10),
        paris(MONDAYS[1], 10),
        *(paris(day, 11) for day in MONDAYS[2:]),
    ]
    assert [o.recurrence_key for o in parsed.occurrences] == keys_of(MONDAYS)


def test_a_later_single_override_still_wins_over_thisandfuture():
    single = (
        "BEGIN:VEVENT\nUID:fr-4b\nDTSTAMP:20251001T000000Z\n"
        "RECURRENCE-ID;TZID=Europe/Paris:20251027T100000\n"
        "DTSTART;TZID=Europe/Paris:20251028T140000\n"
        "DTEND;TZID=Europe/Paris:20251028T150000\n"
        "SUMMARY:Français\nLOCATION:CDI\nEND:VEVENT"
    )
    parsed = parse(calendar(WEEKLY, FROM_THIRD_ON, single))
    by_key = {o.recurrence_key: o for o in parsed.occurrences}
    oct27 = by_key[keys_of(["2025-10-27"])[0]]
    assert (oct27.start, oct27.room) == (paris("2025-10-28", 14), "CDI")
    nov3 = by_key[keys_of(["2025-11-03"])[0]]
    assert (nov3.start, nov3.room) == (paris("2025-11-03", 11), "B2")


# 2. Lines around the calendar: skipped with a warning, not a refused file.

GOOD = calendar(
    event("a", ":20251006T080000Z", ":20251006T090000Z", SUMMARY="Maths"),
    event("b", ":20251007T080000Z", ":20251007T090000Z", SUMMARY="Français"),
)


def test_lines_after_end_vcalendar_are_skipped_with_a_warning_each():
    data = GOOD + b"END:VCALENDAR\r\nX-TRAILER:proxy\r\n%%EOF\r\n"
    last = GOOD.count(b"\r\n")
    parsed = parse(data)
    assert [o.uid for o in parsed.occurrences] == ["a", "b"]
    assert [(w.line, w.message) for w in parsed.warnings] == [
        (last + 1, "line after END:VCALENDAR ignored: 'END:VCALENDAR'"),
        (last + 2, "line after END:VCALENDAR ignored: 'X-TRAILER:proxy'"),
        (last + 3, "line after END:VCALENDAR ignored: '%%EOF'"),
    ]


def test_unknown_property_outside_any_component_is_skipped_with_a_warning():
    data = b"X-EXPORTED-BY:EDT 2025\r\n" + GOOD + b"X-CHECKSUM:\r\n abc\r\n"
    trailer = GOOD.count(b"\r\n") + 2
    parsed = parse(data)
    assert len(parsed.occurrences) == 2
    assert [str(w) for w in parsed.warnings] == [
        "line 1: property X-EXPORTED-BY outside any component ignored",
        f"line {trailer}: line after END:VCALENDAR ignored: 'X-CHECKSUM:abc'",
    ]


def test_real_ade_export_with_a_trailer_imports_and_reports_it(school, tmp_path):
    path = tmp_path / "ade.ics"
    data = ADE.read_bytes()
    path.write_bytes(data + b"<!-- served by ADE -->\n")
    out, err = StringIO(), StringIO()
    call_command(
        "import_ical",
        str(path),
        "--class",
        "4e B",
        "--from",
        "2016-06-01",
        "--to",
        "2016-06-30",
        stdout=out,
        stderr=err,
    )
    line = data.count(b"\n") + 1
    assert err.getvalue() == (
        f"ade.ics: line {line}: line after END:VCALENDAR ignored: "
        "'<!-- served by ADE -->'\n"
    )
    assert "created 22" in out.getvalue() and "warnings 1" in out.getvalue()
    assert Occurrence.objects.count() == 22


BROKEN = {
    # A component after the calendar would lose its lessons: refused.
    "event after END:VCALENDAR": (
        GOOD + ics("BEGIN:VEVENT\nUID:c\nDTSTART:20251008T080000Z\nEND:VEVENT"),
        GOOD.count(b"\r\n") + 1,
        "VEVENT outside the VCALENDAR",
    ),
    "two calendars": (GOOD + GOOD, GOOD.count(b"\r\n") + 1, "more than one"),
    "HTML error page": (
        b"<html><body>502 Bad Gateway</body></html>\r\n",
        1,
        "content line",
    ),
    "garbage before the calendar": (b"Oops\r\n" + GOOD, 1, "content line"),
    "properties only": (b"X-A:1\r\nX-B:2\r\n", 1, "no BEGIN:VCALENDAR"),
}


@pytest.mark.parametrize("name", BROKEN)
def test_truly_broken_file_is_still_refused_and_nothing_written(school, name):
    data, line, words = BROKEN[name]
    import_bytes(school.class_4b, GOOD)
    before = list(Occurrence.objects.values_list("pk", "start", "status"))
    with pytest.raises(IcalImportError) as caught:
        import_bytes(school.class_4b, data)
    assert caught.value.line == line and words in caught.value.message
    assert list(Occurrence.objects.values_list("pk", "start", "status")) == before


# 3. An event that ends before it starts: rejected and reported, never swapped.


def test_event_ending_before_it_starts_is_rejected_with_its_uid_and_line(school):
    data = calendar(
        event("ok", ":20251006T080000Z", ":20251006T090000Z", SUMMARY="Maths"),
        event("backwards", ":20251007T100000Z", ":20251007T090000Z", SUMMARY="SVT"),
    )
    result = import_bytes(school.class_4b, data)
    assert [o.lesson.uid for o in Occurrence.objects.all()] == ["ok"]
    assert result.rejected == 1 and result.created == 1
    (warning,) = result.warnings
    assert warning.uid == "backwards"
    assert warning.line == data.split(b"\r\n").index(b"DTEND:20251007T090000Z") + 1
    assert warning.message == (
        "event 'backwards' rejected: "
        "DTEND 2025-10-07 09:00 is before DTSTART 2025-10-07 10:00"
    )


def test_negative_duration_is_rejected_too():
    data = calendar(
        event("neg", ":20251006T080000Z", None, DURATION="-PT1H", SUMMARY="EPS")
    )
    parsed = parse(data)
    assert parsed.occurrences == [] and parsed.rejected == 1
    assert "negative DURATION -PT1H" in parsed.warnings[0].message


def test_backwards_override_leaves_its_instance_out_not_at_the_master_time():
    backwards = (
        "BEGIN:VEVENT\nUID:fr-4b\nDTSTAMP:20251001T000000Z\n"
        "RECURRENCE-ID;TZID=Europe/Paris:20251013T100000\n"
        "DTSTART;TZID=Europe/Paris:20251013T150000\n"
        "DTEND;TZID=Europe/Paris:20251013T140000\n"
        "SUMMARY:Français\nEND:VEVENT"
    )
    parsed = parse(calendar(WEEKLY, backwards))
    oct13 = keys_of(["2025-10-13"])[0]
    assert oct13 not in [o.recurrence_key for o in parsed.occurrences]
    assert len(parsed.occurrences) == 4
    assert parsed.is_rejected("fr-4b", oct13)
    assert not parsed.is_rejected("fr-4b", keys_of(["2025-10-20"])[0])


def test_reimport_leaves_the_stored_lesson_of_a_rejected_event_alone(school, tmp_path):
    import_bytes(school.class_4b, calendar(WEEKLY))
    stored = list(Occurrence.objects.values_list("pk", "start", "end", "status"))
    backwards = WEEKLY.replace(
        "DTEND;TZID=Europe/Paris:20251006T110000",
        "DTEND;TZID=Europe/Paris:20251006T090000",
    )
    with capture_updates() as events:
        result = import_bytes(school.class_4b, calendar(backwards))
    assert events == [] and result.cancelled == 0 and result.rejected == 1
    assert list(Occurrence.objects.values_list("pk", "start", "end", "status")) == (
        stored
    )
    path = tmp_path / "edt.ics"
    path.write_bytes(calendar(backwards))
    err = StringIO()
    call_command(
        "import_ical", str(path), "--class", "4e B", stderr=err, stdout=StringIO()
    )
    assert "event 'fr-4b' rejected: DTEND 2025-10-06 09:00 is before DTSTART" in (
        err.getvalue()
    )


# 4. Teacher names in the DESCRIPTION of ADE exports.


def an_hour_later(start: str) -> str:
    """Return ``YYYYMMDDTHHMMSSZ`` one hour after ``start`` (same form)."""
    moment = dt.datetime.strptime(start, "%Y%m%dT%H%M%SZ") + dt.timedelta(hours=1)
    return f"{moment:%Y%m%dT%H%M%S}Z"


def ade_event(uid: str, start: str, description: str) -> str:
    """An ADE Campus VEVENT: resources one a line, then the export time."""
    return (
        f"BEGIN:VEVENT\nDTSTAMP:20251001T000000Z\nDTSTART:{start}\n"
        f"DTEND:{an_hour_later(start)}\nSUMMARY:TD Maths\nLOCATION:S11\n"
        f"DESCRIPTION:{description}\\n(Exporté le:01/10/2025 17:50)\nUID:{uid}\n"
        "END:VEVENT"
    )


def test_ade_description_gives_the_teachers_after_the_groups():
    parsed = parse_calendar(
        ADE.read_bytes(),
        start=dt.datetime(2016, 6, 1, tzinfo=UTC),
        end=dt.datetime(2016, 7, 1, tzinfo=UTC),
    )
    by_subject = {o.subject: o.teacher_codes for o in parsed.occurrences}
    # "\nG3S2\nXXXXXX XXXXXX\nXXXX XXXXXXXX\n(Exporté le:09/06/2016 17:50)"
    assert by_subject["M2206 Angl2 G3 1/2g"] == ("XXXXXX XXXXXX", "XXXX XXXXXXXX")
    # "\nDUT Mod 1A\nXXXXXX XXXXX XXXXX\n(Exporté le:...)": a three-word name.
    assert by_subject["Langage C 3"] == ("XXXXXX XXXXX XXXXX",)
    # "\nLP SID\nXXXXXXXX XXXXXXXX\n...": the group line is never a teacher.
    assert by_subject["Techno Web"] == ("XXXXXXXXX XXXXXXXXX",)
    # "\nRéservation1\n(Exporté le:...)": a room booking, no teacher.
    assert by_subject["Soutenance S4 1 salle"] == ()
    # One teacher each, but two for the English half-group and none for the
    # three room bookings.
    counts = Counter(len(o.teacher_codes) for o in parsed.occurrences)
    assert counts == {1: 18, 2: 1, 0: 3}


def test_ade_teacher_names_link_the_org_teachers_either_way_round(school):
    jn = make_user("jn", "teacher", "Jean-Noël", "Le Gall")
    jn.orgs.add(school.org)
    elsewhere = make_user("am2", "teacher", "Alice", "Martin")  # another school
    elsewhere.orgs.add(school.other_org)
    data = calendar(
        ade_event(
            "ade-1", "20251006T080000Z", "\\nG1S2\\nMARTIN Alice\\nLE GALL Jean-Noel"
        ),
        ade_event("ade-2", "20251007T080000Z", "\\nG1S2\\nG2S2\\nalice martin"),
        ade_event("ade-3", "20251008T080000Z", "\\nG1S2\\nDUPONT Jean"),
    )
    import_bytes(school.class_4b, data)
    one, two, three = Occurrence.objects.order_by("start")
    assert one.teacher_names == "MARTIN Alice, LE GALL Jean-Noel"
    assert set(one.teachers.all()) == {school.teacher, jn}
    assert (two.teacher_names, list(two.teachers.all())) == (
        "alice martin",
        [school.teacher],
    )
    assert three.teacher_names == "DUPONT Jean" and not three.teachers.exists()


def test_a_full_name_two_teachers_share_links_neither(school):
    namesake = make_user("alice2", "teacher", "Alice", "MARTIN")
    namesake.orgs.add(school.org)
    data = calendar(ade_event("ade-1", "20251006T080000Z", "\\nG1S2\\nMARTIN Alice"))
    import_bytes(school.class_4b, data)
    assert not Occurrence.objects.get().teachers.exists()


def test_real_ade_export_links_a_teacher_by_full_name(school):
    # One redacted name (same byte length) given back as a teacher of the org.
    data = ADE.read_bytes()
    assert data.count(b"\\nXXXXXXX XXXXXX\\n") == 1  # "Structure de données 1"
    data = data.replace(b"\\nXXXXXXX XXXXXX\\n", b"\\nMARTIN Alice\\n  \\n")
    import_bytes(school.class_4b, data, window=JUNE_2016)
    structure = Occurrence.objects.get(subject="Structure de données 1")
    assert structure.teacher_names == "MARTIN Alice"
    assert list(structure.teachers.all()) == [school.teacher]
    assert list(
        Occurrence.objects.filter(teachers__isnull=False).values_list("pk", flat=True)
    ) == [structure.pk]


def test_staff_change_takes_a_full_name_too(school):
    import_bytes(school.class_4b, GOOD)
    saved = change_occurrence(
        occurrence=Occurrence.objects.first(),
        actor=school.cpe,
        reason="remplacement",
        teacher_names="Martin Alice",
    )
    assert list(saved.teachers.all()) == [school.teacher]


# 5. Exporters that regenerate every UID.


def lesson(uid, start, summary, room, teacher="AM"):
    return (
        f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20251001T000000Z\nDTSTART:{start}\n"
        f"DTEND:{an_hour_later(start)}\nSUMMARY:{summary}\n"
        f"LOCATION:{room}\nORGANIZER;CN={teacher}:mailto:x@example.org\nEND:VEVENT"
    )


def test_regenerated_uid_with_a_new_room_is_one_room_change(school):
    import_bytes(
        school.class_4b,
        calendar(
            lesson("a@1", "20251006T080000Z", "Maths", "S1"),
            lesson("b@1", "20251007T080000Z", "Anglais", "S2"),
        ),
    )
    maths = Occurrence.objects.get(subject="Maths")
    with capture_updates() as events:
        result = import_bytes(
            school.class_4b,
            calendar(
                lesson("a@2", "20251006T080000Z", "Maths", "S9"),
                lesson("b@2", "20251007T080000Z", "Anglais", "S2"),
            ),
        )
    assert [(e.op, e.data["changes"], e.data["occurrence"]["id"]) for e in events] == [
        ("room_changed", ["room_changed"], maths.pk)
    ]
    assert (result.room_changed, result.unchanged, result.added, result.cancelled) == (
        1,
        1,
        0,
        0,
    )
    assert sorted(Lesson.objects.values_list("uid", flat=True)) == ["a@2", "b@2"]
    maths.refresh_from_db()
    assert (maths.lesson.uid, maths.room, maths.previous_room) == ("a@2", "S9", "S1")
    with capture_updates() as events:
        import_bytes(
            school.class_4b,
            calendar(
                lesson("a@2", "20251006T080000Z", "Maths", "S9"),
                lesson("b@2", "20251007T080000Z", "Anglais", "S2"),
            ),
        )
    assert events == []


def test_regenerated_uid_with_another_teacher_is_one_teacher_change(school):
    substitute = make_user("bruno", "teacher", "Bruno", "Roux", timetable_code="BR")
    substitute.orgs.add(school.org)
    import_bytes(
        school.class_4b, calendar(lesson("a@1", "20251006T080000Z", "Maths", "S1"))
    )
    with capture_updates() as events:
        import_bytes(
            school.class_4b,
            calendar(lesson("a@2", "20251006T080000Z", "Maths", "S1", teacher="BR")),
        )
    assert [(e.op, e.data["changes"]) for e in events] == [
        ("teacher_changed", ["teacher_changed"])
    ]
    occurrence = Occurrence.objects.get()
    assert list(occurrence.teachers.all()) == [substitute]
    assert OccurrenceChange.objects.get().kinds == ["teacher_changed"]


def test_half_groups_at_the_same_time_pair_the_identical_one_first(school):
    import_bytes(
        school.class_4b,
        calendar(
            lesson("g1@1", "20251006T080000Z", "Anglais", "S1"),
            lesson("g2@1", "20251006T080000Z", "Anglais", "S2"),
        ),
    )
    g2 = Occurrence.objects.get(lesson__uid="g2@1")
    with capture_updates() as events:
        import_bytes(
            school.class_4b,
            calendar(
                lesson("g2@2", "20251006T080000Z", "Anglais", "S7"),
                lesson("g1@2", "20251006T080000Z", "Anglais", "S1"),
            ),
        )
    assert [(e.op, e.data["occurrence"]["id"]) for e in events] == [
        ("room_changed", g2.pk)
    ]
    assert Occurrence.objects.count() == 2


def test_ambiguous_changes_stay_a_cancellation_and_an_addition(school):
    import_bytes(
        school.class_4b,
        calendar(
            lesson("g1@1", "20251006T080000Z", "Anglais", "S1"),
            lesson("g2@1", "20251006T080000Z", "Anglais", "S2"),
        ),
    )
    with capture_updates() as events:
        import_bytes(
            school.class_4b,
            calendar(
                lesson("g1@2", "20251006T080000Z", "Anglais", "S3"),
                lesson("g2@2", "20251006T080000Z", "Anglais", "S4"),
            ),
        )
    assert ops(events) == {"added": 2, "cancelled": 2}


def test_a_moved_lesson_with_a_new_uid_is_a_cancellation_and_an_addition(school):
    import_bytes(
        school.class_4b, calendar(lesson("a@1", "20251006T080000Z", "Maths", "S1"))
    )
    with capture_updates() as events:
        import_bytes(
            school.class_4b, calendar(lesson("a@2", "20251006T100000Z", "Maths", "S1"))
        )
    assert ops(events) == {"added": 1, "cancelled": 1}


def test_a_uid_still_in_the_file_is_not_paired(school):
    series = lesson("s@1", "20251006T080000Z", "Maths", "S1").replace(
        "END:VEVENT", "RRULE:FREQ=WEEKLY;COUNT=2\nEND:VEVENT"
    )
    import_bytes(school.class_4b, calendar(series))
    # The second week is dropped from the series and given as a lone event.
    with capture_updates() as events:
        import_bytes(
            school.class_4b,
            calendar(
                series.replace("COUNT=2", "COUNT=1"),
                lesson("x@1", "20251013T080000Z", "Maths", "S5"),
            ),
        )
    assert ops(events) == {"added": 1, "cancelled": 1}


def regenerated(data: bytes) -> bytes:
    """The flop!EDT export with every UID rewritten, as some exporters do."""
    data, count = re.subn(
        rb"UID:https://flopedt\.iut-blagnac\.fr(\d+)", rb"UID:regen-\1@flop", data
    )
    assert count == data.count(b"BEGIN:VEVENT")
    return data


def test_real_flop_pair_with_regenerated_uids_gives_the_exact_changes(school):
    import_bytes(school.class_4b, FLOP_BEFORE.read_bytes())
    stored = {o.lesson.uid: o for o in Occurrence.objects.select_related("lesson")}
    after = regenerated(FLOP_AFTER.read_bytes())
    # One lesson also changes room (the 21 January SAE15 TP240, 08:00).
    old_room = b"LOCATION:E008\r\nURL:https://flopedt.iut-blagnac.fr551011"
    assert after.count(old_room) == 1
    after = after.replace(old_room, old_room.replace(b"E008", b"E010"))
    with capture_updates() as events:
        result = import_bytes(school.class_4b, after, reason="flop 15/12")
    moved = ["550955", "550959", "550971", "550972", "551012", "551020"]
    cancelled_ids = sorted(stored[FLOP_UID + n].pk for n in ["550969", *moved])
    assert ops(events) == {"cancelled": 7, "added": 6, "room_changed": 1}
    assert sorted(
        e.data["occurrence"]["id"] for e in events if e.op == "cancelled"
    ) == (cancelled_ids)
    (room,) = [e for e in events if e.op == "room_changed"]
    assert room.data["changes"] == ["room_changed"]
    assert room.data["occurrence"]["id"] == stored[FLOP_UID + "551011"].pk
    change = OccurrenceChange.objects.get(occurrence=stored[FLOP_UID + "551011"])
    assert (change.kinds, change.reason) == (["room_changed"], "flop 15/12")
    assert (change.before["room"], change.after["room"]) == ("E008", "E010")
    assert (
        room.data["occurrence"]["room"],
        room.data["occurrence"]["previous_room"],
    ) == (
        "E010",
        "E008",
    )
    added = sorted(
        Occurrence.objects.get(pk=e.data["occurrence"]["id"]).lesson.uid
        for e in events
        if e.op == "added"
    )
    assert added == [f"regen-{n}@flop" for n in moved]
    assert (result.cancelled, result.added, result.room_changed) == (7, 6, 1)
    assert result.unchanged == len(stored) - 8
    # Every lesson that kept its row now answers to its new UID; the old
    # UIDs stay only on the cancelled rows.
    old_uids = set(
        Lesson.objects.filter(uid__startswith=FLOP_UID).values_list("uid", flat=True)
    )
    assert old_uids == {FLOP_UID + n for n in ["550969", *moved]}
    with capture_updates() as events:
        again = import_bytes(school.class_4b, after)
    assert events == [] and again.changed == 0
    assert Feed.objects.count() == 1


def test_uids_alone_regenerated_change_nothing_in_few_queries(
    school, django_assert_max_num_queries
):
    import_bytes(school.class_4b, FLOP_BEFORE.read_bytes())
    rows = list(Occurrence.objects.values_list("pk", "start", "room", "status"))
    with capture_updates() as events, django_assert_max_num_queries(25):
        result = import_bytes(school.class_4b, regenerated(FLOP_BEFORE.read_bytes()))
    assert events == [] and result.changed == 0 and result.unchanged == len(rows)
    assert list(Occurrence.objects.values_list("pk", "start", "room", "status")) == rows
    assert not OccurrenceChange.objects.exists()
    assert not Lesson.objects.filter(uid__startswith=FLOP_UID).exists()


def test_a_backwards_thisandfuture_override_leaves_every_later_instance_out():
    backwards = FROM_THIRD_ON.replace(
        "DTEND;TZID=Europe/Paris:20251020T120000",
        "DTEND;TZID=Europe/Paris:20251020T100000",
    )
    parsed = parse(calendar(WEEKLY, backwards))
    assert [o.recurrence_key for o in parsed.occurrences] == keys_of(MONDAYS[:2])
    assert parsed.rejected_keys == {("fr-4b", key) for key in keys_of(MONDAYS[2:])}
    assert parsed.rejected == 1 and len(parsed.warnings) == 1
