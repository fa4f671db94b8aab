"""The ministry's school calendar: loading it, zones, and no lessons on holidays.

Real rows of the shipped extract (tests/data/opendata, PROVENANCE.md) unless
a test says it writes the current export's format itself.
"""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from core.roster.models import AcademicSession, Org, SchoolClass
from core.timetable.actions import import_feed
from core.timetable.holidays import load_holidays
from core.timetable.models import Occurrence, SchoolHoliday
from core.timetable.school_calendar import (
    SCHOOL_CALENDAR_CSV,
    SchoolCalendarError,
    attach_orgs_to_zones,
    days_off,
    load_school_calendar,
    read_school_calendar,
    school_holiday_dates,
    school_holidays,
    zone_of,
)
from tests.conftest import login_verified
from tests.timetable.conftest import DATA_DIR, HOLIDAYS_CSV, calendar, event

EXTRACT = DATA_DIR / "opendata/fr-en-calendrier-scolaire_extrait-1.csv"
FRENCH_HEADER = (
    "Description;Population;Date de début;Date de fin;Académies;Zones;annee_scolaire"
)
CURRENT_HEADER = (
    "description;population;start_date;end_date;location;zones;annee_scolaire"
)
D = dt.date


def write_csv(tmp_path, *lines: str, header: str = FRENCH_HEADER, name="cal.csv"):
    path = tmp_path / name
    path.write_bytes(("\r\n".join([header, *lines]) + "\r\n").encode())
    return path


def org_in(academy="", zone="", uai="0350005E") -> Org:
    return Org.objects.create(
        name=f"Collège {uai}", uai=uai, academy=academy, holiday_zone=zone
    )


@pytest.fixture
def extract(db):
    return load_school_calendar(EXTRACT)


# Reading the file.


def test_shipped_file_is_the_tests_extract():
    assert SCHOOL_CALENDAR_CSV.read_bytes() == EXTRACT.read_bytes()


def test_extract_loads_with_a_report_of_every_row(extract):
    assert extract.rows == 154
    assert (extract.created, extract.updated, extract.unchanged) == (131, 0, 0)
    assert len(extract.skipped) == 22
    assert extract.rejected == [
        (
            63,
            "fin (29/10/2018) avant le début (10/01/2019) pour « Vacances après "
            "1ère période », Réunion",
        )
    ]
    assert SchoolHoliday.objects.count() == 131


def test_toussaint_2019_zone_b_has_no_lessons_from_the_20th_and_resumes_on_the_4th(
    extract,
):
    # "Vacances de la Toussaint;-;2019-10-19T00:00:00+02:00;2019-11-04T00:00:00+01:00;
    # Amiens;Zone B;2019-2020": the ministry's rule is "départ après la classe"
    # of Saturday 19 October, "reprise le matin" of Monday 4 November.
    toussaint = SchoolHoliday.objects.get(
        academy="Amiens", name="Vacances de la Toussaint", school_year="2019-2020"
    )
    assert toussaint.zone == "Zone B"
    assert (toussaint.lessons_stop, toussaint.lessons_resume) == (
        D(2019, 10, 19),
        D(2019, 11, 4),
    )
    assert (toussaint.start_date, toussaint.end_date) == (
        D(2019, 10, 20),
        D(2019, 11, 3),
    )
    assert toussaint.lessons_resume.weekday() == 0  # a Monday


def test_loading_the_same_file_again_changes_nothing(extract):
    ids = set(SchoolHoliday.objects.values_list("pk", flat=True))
    again = load_school_calendar(EXTRACT)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 131)
    assert set(SchoolHoliday.objects.values_list("pk", flat=True)) == ids


def test_a_changed_date_updates_the_holiday_in_place(db, tmp_path):
    row = "Vacances de Noël;-;2019-12-21T00:00:00+01:00;{};Rennes;Zone B;2019-2020"
    load_school_calendar(write_csv(tmp_path, row.format("2020-01-06T00:00:00+01:00")))
    report = load_school_calendar(
        write_csv(tmp_path, row.format("2020-01-07T00:00:00+01:00"))
    )
    assert (report.created, report.updated) == (0, 1)
    noel = SchoolHoliday.objects.get()
    assert (noel.end_date, noel.lessons_resume) == (D(2020, 1, 6), D(2020, 1, 7))


def test_teachers_dates_are_skipped_with_their_line_and_pupils_dates_kept(extract):
    # Line 3: "Vacances d'Été;Enseignants;…;Corse;Corse;2009-2010".
    assert (3, "dates des enseignants, pas des élèves (Enseignants)") in extract.skipped
    assert not SchoolHoliday.objects.filter(
        school_year="2009-2010", name="Vacances d'Été"
    )
    # Line 6: "Vacances d'Été;Élèves;2012-07-09…;2012-09-10…;Corse;Corse;2011-2012".
    summer = SchoolHoliday.objects.get(school_year="2011-2012", name="Vacances d'Été")
    assert (summer.population, summer.start_date, summer.end_date) == (
        "Élèves",
        D(2012, 7, 10),
        D(2012, 9, 9),
    )
    # Line 30: Polynésie's "Grandes Vacances" for primary schools only.
    assert (30, "dates des écoles (premier degré) (Élèves du premier degré)") in (
        extract.skipped
    )


def test_a_single_day_row_is_that_day_off(extract):
    # "Mi-carême;Guadeloupe & Saint-Martin;2020-03-19…;2020-03-19…;Guadeloupe".
    mi_careme = SchoolHoliday.objects.get(name="Mi-carême")
    assert (mi_careme.start_date, mi_careme.end_date) == (
        D(2020, 3, 19),
        D(2020, 3, 19),
    )
    # Martinique's "Pont de l'Ascension" 2020-05-22 → 2020-05-23: the 22nd off.
    pont = SchoolHoliday.objects.get(
        academy="Martinique", name="Pont de l'Ascension", school_year="2019-2020"
    )
    assert (pont.start_date, pont.end_date) == (D(2020, 5, 22), D(2020, 5, 22))


def test_overseas_zones_and_single_year_school_years_are_kept(extract):
    wallis = SchoolHoliday.objects.get(
        zone="Wallis et Futuna", name="Vacances 2ème période", school_year="2019"
    )
    assert (wallis.start_date, wallis.end_date) == (D(2019, 6, 9), D(2019, 6, 23))
    assert SchoolHoliday.objects.filter(zone="Nouvelle Calédonie").count() == 2


def test_timestamps_are_read_as_paris_dates():
    from core.timetable.school_calendar import _parse_date

    # The extract's Réunion row ending at 01:00, the current export's UTC
    # midnights, and a bare date.
    assert _parse_date("2019-04-08T01:00:00+02:00") == D(2019, 4, 8)
    assert _parse_date("2023-11-05T23:00:00+00:00") == D(2023, 11, 6)
    assert _parse_date("2024-10-18T22:00:00+00:00") == D(2024, 10, 19)
    assert _parse_date("2024-10-19") == D(2024, 10, 19)


def test_current_export_headers_and_utc_timestamps_are_read(db, tmp_path):
    # The current data set's format (lowercase headers, "location", UTC).
    path = write_csv(
        tmp_path,
        "Vacances de la Toussaint;-;2024-10-18T22:00:00+00:00;"
        "2024-11-03T23:00:00+00:00;Rennes;Zone B;2024-2025",
        header=CURRENT_HEADER,
    )
    report = load_school_calendar(path)
    assert (report.created, report.rejected) == (1, [])
    toussaint = SchoolHoliday.objects.get()
    assert (toussaint.academy, toussaint.zone) == ("Rennes", "Zone B")
    assert (toussaint.lessons_stop, toussaint.lessons_resume) == (
        D(2024, 10, 19),
        D(2024, 11, 4),
    )


def test_bad_rows_are_rejected_with_line_and_reason_and_the_rest_loads(db, tmp_path):
    path = write_csv(
        tmp_path,
        "Vacances de Noël;-;2019-12-21T00:00:00+01:00;2020-01-06T00:00:00+01:00;Rennes;Zone B;2019-2020",
        "Vacances d'Hiver;-;le 15 février;2020-03-02T00:00:00+01:00;Rennes;Zone B;2019-2020",
        "Vacances de Printemps;-;2020-04-11T00:00:00+02:00;2020-04-27T00:00:00+02:00;;Zone B;2019-2020",
        "Vacances de Noël;-;2019-12-21T00:00:00+01:00;2020-01-06T00:00:00+01:00;Rennes;Zone B;2019-2020",
        "Vacances de Noël;-;2019-12-20T00:00:00+01:00;2020-01-06T00:00:00+01:00;Rennes;Zone B;2019-2020",
        "",
    )
    report = read_school_calendar(path)[1]
    assert report.rejected == [
        (3, "date illisible 'le 15 février'"),
        (4, "champ vide : academy"),
        (6, "contredit la ligne 2 (mêmes vacances, autres dates)"),
    ]
    assert report.skipped == [(5, "répète la ligne 2")]
    load_school_calendar(path)
    assert SchoolHoliday.objects.get().name == "Vacances de Noël"


def test_a_file_without_the_columns_is_refused_and_nothing_written(db, tmp_path):
    path = write_csv(
        tmp_path, "2019-10-19;2019-11-04;Rennes", header="debut;fin;academie"
    )
    with pytest.raises(SchoolCalendarError, match="colonnes absentes"):
        load_school_calendar(path)
    assert not SchoolHoliday.objects.exists()


def test_a_file_not_in_utf8_is_refused(db, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (
            FRENCH_HEADER
            + "\r\nVacances d'Été;-;2020-07-04;2020-09-01;Créteil;Zone C;2019-2020\r\n"
        ).encode("latin-1")
    )
    with pytest.raises(SchoolCalendarError, match="pas en UTF-8"):
        load_school_calendar(path)
    assert not SchoolHoliday.objects.exists()


def test_command_prints_the_report_and_refuses_a_missing_file(db, tmp_path):
    out = StringIO()
    call_command("load_school_calendar", str(EXTRACT), stdout=out)
    text = out.getvalue()
    assert "154 lignes, 131 vacances chargées (131 créées" in text
    assert "ligne 63 rejetée : fin (29/10/2018) avant le début" in text
    assert "ligne 3 ignorée : dates des enseignants" in text
    with pytest.raises(CommandError, match="fichier illisible"):
        call_command("load_school_calendar", str(tmp_path / "absent.csv"))


def test_command_without_a_path_loads_the_shipped_file(db):
    call_command("load_school_calendar", stdout=StringIO())
    assert SchoolHoliday.objects.count() == 131


# Zones and academies of an org.


def test_an_org_with_an_academy_gets_its_zone_from_the_calendar(db):
    rennes = org_in(academy="Rennes", uai="0350001A")
    by_hand = org_in(academy="Rennes", zone="Zone A", uai="0350002B")
    caen = org_in(academy="caen", uai="0140001C")
    normandie = org_in(academy="Normandie", uai="0760001D")
    orleans = org_in(academy="Orleans tours", uai="0450001E")
    unknown = org_in(academy="Atlantide", uai="0990001F")
    report = load_school_calendar(EXTRACT)
    for org in (rennes, by_hand, caen, normandie, orleans, unknown):
        org.refresh_from_db()
    assert rennes.holiday_zone == "Zone B"
    assert by_hand.holiday_zone == "Zone A"  # set by hand: kept
    assert caen.holiday_zone == "Zone B"
    assert normandie.holiday_zone == "Zone B"
    assert orleans.holiday_zone == "Zone B"
    assert unknown.holiday_zone == ""
    assert (str(rennes), "Zone B") in report.orgs_zoned


def test_zoning_orgs_takes_the_same_queries_for_two_orgs_or_twenty(
    extract, django_assert_num_queries
):
    for n in range(2):
        org_in(academy="Rennes", uai=f"03500{n:02d}A")
    with django_assert_num_queries(3):  # orgs, holidays, one UPDATE
        assert len(attach_orgs_to_zones()) == 2
    for n in range(20):
        org_in(academy="Lille" if n % 2 else "Montpellier", uai=f"05900{n:02d}A")
    with django_assert_num_queries(3):
        assert len(attach_orgs_to_zones()) == 20
    assert set(
        Org.objects.filter(uai__startswith="059").values_list("holiday_zone", flat=True)
    ) == {"Zone B", "Zone C"}


def test_zone_is_derived_when_read_for_an_org_saved_without_one(extract):
    org = org_in(academy="Montpellier")
    assert org.holiday_zone == ""
    assert zone_of(org) == "Zone C"


def test_an_org_gets_its_zones_holidays_when_its_academy_is_not_listed(extract):
    # The extract lists Toussaint 2019 for Amiens, Lille, Nantes and Reims
    # (Zone B), not for Rennes: Rennes gets its zone's dates.
    rennes = org_in(academy="Rennes", zone="Zone B")
    days = school_holiday_dates(rennes, D(2019, 10, 14), D(2019, 11, 10))
    assert (min(days), max(days)) == (D(2019, 10, 20), D(2019, 11, 3))
    assert len(days) == 15
    assert [
        h.name for h in school_holidays(rennes, D(2019, 10, 14), D(2019, 11, 10))
    ] == ["Vacances de la Toussaint"]


def test_zones_have_their_own_winter_holidays(extract):
    # Hiver 2020: Zone B (Reims) from 15 February, Zone A (Lyon) from 22.
    reims, lyon = org_in(academy="Reims"), org_in(academy="Lyon", uai="0690001G")
    monday = D(2020, 2, 17)
    assert monday in school_holiday_dates(reims, monday, monday)
    assert monday not in school_holiday_dates(lyon, monday, monday)
    assert D(2020, 3, 2) in school_holiday_dates(lyon, D(2020, 3, 2), D(2020, 3, 2))
    assert not school_holiday_dates(reims, D(2020, 3, 2), D(2020, 3, 2))


def test_an_org_without_academy_or_zone_has_no_school_holidays(extract):
    assert school_holiday_dates(org_in(), D(2019, 1, 1), D(2020, 12, 31)) == set()


def test_days_off_name_public_and_school_holidays(extract):
    load_holidays(HOLIDAYS_CSV)
    org = org_in(academy="Amiens")
    names = days_off(org, D(2019, 10, 28), D(2019, 11, 11))
    assert names[D(2019, 10, 28)] == "Vacances de la Toussaint"
    assert names[D(2019, 11, 1)] == "Toussaint"  # the public holiday's own name
    assert D(2019, 11, 4) not in names and D(2019, 11, 5) not in names
    assert names[D(2019, 11, 11)] == "11 novembre"


# No lessons on school holidays.


def zone_b_class() -> SchoolClass:
    org = org_in(academy="Rennes", uai="0350009J")
    session = AcademicSession.objects.create(
        org=org, title="2019-2020", start_date=D(2019, 9, 2), end_date=D(2020, 7, 4)
    )
    return SchoolClass.objects.create(org=org, session=session, title="4e B")


def test_import_leaves_the_org_school_holidays_without_lessons(extract):
    load_holidays(HOLIDAYS_CSV)
    school_class = zone_b_class()
    monday = event(
        "maths",
        ";TZID=Europe/Paris:20191014T080000",
        ";TZID=Europe/Paris:20191014T090000",
        SUMMARY="Mathématiques",
        RRULE="FREQ=WEEKLY;COUNT=5",
    )
    saturday = event(
        "sport",
        ";TZID=Europe/Paris:20191019T090000",
        ";TZID=Europe/Paris:20191019T110000",
        SUMMARY="Association sportive",
    )
    result = import_feed(
        school_class=school_class, data=calendar(monday, saturday), name="edt.ics"
    )
    days = sorted(
        o.start.astimezone(dt.timezone(dt.timedelta(hours=1))).date()
        for o in Occurrence.objects.filter(school_class=school_class)
    )
    # 14 October and Saturday 19 (lessons stop after its classes) are held;
    # 21 and 28 October are Toussaint; 4 November lessons resume; 11
    # November is a public holiday.
    assert days == [D(2019, 10, 14), D(2019, 10, 19), D(2019, 11, 4)]
    assert result.skipped_holidays == 3


def test_an_org_of_another_zone_keeps_its_lessons(extract):
    school_class = zone_b_class()
    school_class.org.academy, school_class.org.holiday_zone = "Lyon", ""
    school_class.org.save()
    lesson = event(
        "maths",
        ";TZID=Europe/Paris:20200217T080000",
        ";TZID=Europe/Paris:20200217T090000",
        SUMMARY="Mathématiques",
    )
    # 17 February 2020 is Zone B's winter holiday, not Zone A's (Lyon).
    import_feed(school_class=school_class, data=calendar(lesson), name="edt.ics")
    assert Occurrence.objects.filter(school_class=school_class).count() == 1


# The timetable page.


def test_timetable_page_and_api_name_the_holiday_of_the_week(extract, client):
    from core.roster.models import Enrollment
    from tests.conftest import make_user

    school_class = zone_b_class()
    pupil = make_user("zoe", "student", "Zoé", "Martin")
    Enrollment.objects.create(user=pupil, school_class=school_class, role="student")
    login_verified(client, pupil)
    page = client.get("/timetable/", {"week": "2019-10-21"})
    initial = page.context["initial"]
    assert initial["holidays"]["2019-10-21"] == "Vacances de la Toussaint"
    assert len(initial["holidays"]) == 7
    api = client.get(f"/api/timetable/{school_class.pk}/", {"week": "2019-10-28"})
    holidays = api.json()["holidays"]
    assert (min(holidays), max(holidays)) == ("2019-10-28", "2019-11-03")
    api = client.get(f"/api/timetable/{school_class.pk}/", {"week": "2019-11-04"})
    assert api.json()["holidays"] == {}
