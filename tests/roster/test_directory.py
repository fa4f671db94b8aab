"""The ministry's school directory names SIECLE-made schools and places them
in their academy and holiday zone (real extract: tests/data/opendata)."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from core.roster.directory import DirectoryError, load_school_directory
from core.roster.models import Org
from core.timetable.school_calendar import load_school_calendar

pytestmark = pytest.mark.django_db

DIRECTORY = (
    Path(__file__).parents[1] / "data/opendata/fr-en-annuaire-education_extrait-35.csv"
)


def test_a_school_known_by_its_uai_alone_gets_its_name_academy_and_zone():
    load_school_calendar()  # the shipped extract: Rennes is in zone B
    siecle_made = Org.objects.create(name="0350122T", uai="0350122T")
    typed = Org.objects.create(name="École des Lucioles", uai="0350165P")
    unknown = Org.objects.create(name="Collège des Tilleuls", uai="0359999X")

    report = load_school_directory(DIRECTORY)

    siecle_made.refresh_from_db()
    assert (siecle_made.name, siecle_made.academy, siecle_made.holiday_zone) == (
        "Ecole primaire publique les Lucioles",
        "Rennes",
        "Zone B",
    )
    typed.refresh_from_db()
    assert typed.name == "École des Lucioles"  # what an administrator typed stays
    assert typed.academy == "Rennes"
    unknown.refresh_from_db()
    assert (unknown.name, unknown.academy) == ("Collège des Tilleuls", "")
    assert report.rows == 27
    assert report.named == ["0350122T"]
    assert sorted(report.placed) == ["0350122T", "0350165P"]


def test_loading_the_directory_twice_changes_nothing_more():
    Org.objects.create(name="0350122T", uai="0350122T")
    load_school_directory(DIRECTORY)
    again = load_school_directory(DIRECTORY)
    assert (again.named, again.placed) == ([], [])


def test_a_file_that_is_not_the_directory_is_refused_and_nothing_written(tmp_path):
    org = Org.objects.create(name="0350122T", uai="0350122T")
    other = tmp_path / "calendrier.csv"
    other.write_bytes(b"Description;Population\r\nx;y\r\n")
    with pytest.raises(DirectoryError, match="colonnes manquantes"):
        load_school_directory(other)
    latin1 = tmp_path / "annuaire.csv"
    latin1.write_bytes(DIRECTORY.read_bytes().replace(b"\xc3\xa9", b"\xe9"))
    with pytest.raises(DirectoryError, match="UTF-8"):
        load_school_directory(latin1)
    org.refresh_from_db()
    assert (org.name, org.academy) == ("0350122T", "")


def test_the_command_prints_its_report_and_refuses_a_missing_file(tmp_path):
    Org.objects.create(name="0350122T", uai="0350122T")
    out = StringIO()
    call_command("load_school_directory", str(DIRECTORY), stdout=out)
    assert "27 établissements lus ; écoles nommées : 1," in out.getvalue()
    with pytest.raises(CommandError):
        call_command("load_school_directory", str(tmp_path / "absent.csv"))


def test_naming_schools_takes_the_same_queries_for_two_or_twenty(
    django_assert_num_queries,
):
    uais = [
        line.split(";", 1)[0]
        for line in DIRECTORY.read_text(encoding="utf-8-sig").splitlines()[1:]
    ]
    assert len(uais) >= 22
    Org.objects.bulk_create(Org(name=uai, uai=uai) for uai in uais[:2])
    # orgs, savepoint, one UPDATE, attach_orgs_to_zones' two reads, release
    with django_assert_num_queries(6):
        assert len(load_school_directory(DIRECTORY).named) == 2
    Org.objects.bulk_create(Org(name=uai, uai=uai) for uai in uais[2:22])
    with django_assert_num_queries(6):
        assert len(load_school_directory(DIRECTORY).named) == 20
    assert not Org.objects.filter(academy="").exists()
