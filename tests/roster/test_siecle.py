"""The SIECLE parser on the real exports of tests/data/aaf and our fixtures."""

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import pytest

from core.roster.records import Mode, Role, Source, UnreadableFile
from core.roster.sources import siecle, textfiles

DATA = Path(__file__).parent.parent / "data" / "aaf"
FIXTURES = Path(__file__).parent / "fixtures" / "siecle"
REAL_XML = DATA / "siecle-with-two-valid-students-and-school-year.xml"
REAL_CSV = DATA / "siecle-csv-with-two-valid-students.csv"
PUPILS_XML = FIXTURES / "ElevesSansAdresses_0350001A_2026.xml"
GUARDIANS_XML = FIXTURES / "ResponsablesAvecAdresses_0350001A_2026.xml"
TODAY = dt.date(2026, 12, 6)
ENCODINGS = {
    "utf8": "utf-8",
    "utf8bom": "utf-8-sig",
    "cp1252": "cp1252",
    "iso885915": "iso-8859-15",
}


def parse(*paths, today=TODAY, **kwargs):
    return siecle.parse(list(paths), today=today, **kwargs)


def people(roster):
    return {p.sourced_id: p for p in roster.people}


def head(path: Path) -> bytes:
    return path.read_bytes()[: 64 * 1024]


# --- the real files ---------------------------------------------------------------


def test_real_bee_eleves_export_imports_its_two_pupils_and_classes():
    roster = parse(REAL_XML)

    assert roster.source == Source.SIECLE and roster.mode == Mode.COMPLETE
    assert [(o.sourced_id, o.uai, o.name) for o in roster.orgs] == [
        ("123ABC", "123ABC", "")
    ]
    (session,) = roster.sessions
    assert (session.sourced_id, session.type) == ("123ABC$2016-2017", "schoolYear")
    assert (session.start_date, session.end_date) == (
        dt.date(2016, 9, 1),
        dt.date(2017, 7, 8),
    )
    pupils = people(roster)
    assert set(pupils) == {"123ABC$0001", "123ABC$0002"}
    luciole, harry = pupils["123ABC$0001"], pupils["123ABC$0002"]
    assert (luciole.family_name, luciole.given_name) == ("HANDMADE", "Luciole")
    assert luciole.national_id == "00000000123"
    assert luciole.birth_date == dt.date(1994, 12, 31)
    assert harry.family_name == "COJAUNE"  # NOM_USAGE over NOM_DE_FAMILLE
    assert all(p.role == Role.STUDENT and p.active for p in roster.people)
    classes = {c.sourced_id: c for c in roster.classes}
    assert {k: c.class_type for k, c in classes.items()} == {
        "123ABC$4A": "homeroom",
        "123ABC$42": "scheduled",
    }
    assert all(c.session == "123ABC$2016-2017" for c in classes.values())
    assert sorted((e.person, e.school_class) for e in roster.enrollments) == [
        ("123ABC$0001", "123ABC$4A"),
        ("123ABC$0002", "123ABC$42"),
        ("123ABC$0002", "123ABC$4A"),
    ]
    assert roster.rejections == []


def test_real_csv_export_alone_is_refused_because_it_names_no_school():
    with pytest.raises(UnreadableFile, match="UAI dans le nom du fichier"):
        parse(REAL_CSV)


def test_real_csv_export_imports_with_the_uai_in_its_file_name(tmp_path):
    path = tmp_path / "0350001A_siecle-csv-with-two-valid-students.csv"
    shutil.copyfile(REAL_CSV, path)

    roster = parse(path)

    assert [o.uai for o in roster.orgs] == ["0350001A"]
    pupils = people(roster)
    assert set(pupils) == {"0350001A$4581234567F", "0350001A$4581234567G"}
    lea = pupils["0350001A$4581234567F"]
    assert (lea.given_name, lea.family_name) == ("Léa", "Cottonmouth")  # usage name
    assert lea.national_id == "4581234567F"
    assert lea.birth_date == dt.date(1990, 1, 1)
    assert {c.title: c.class_type for c in roster.classes} == {
        "Division 2": "homeroom",
        "Division 1": "homeroom",
    }
    assert len(roster.enrollments) == 2
    assert roster.rejections == []


def test_real_csv_export_takes_its_school_from_the_xml_export_given_with_it():
    roster = parse(REAL_XML, REAL_CSV)

    assert [o.uai for o in roster.orgs] == ["123ABC"]
    assert len(roster.people) == 4
    assert {c.sourced_id for c in roster.classes} >= {"123ABC$Division 1"}


def test_real_files_are_recognised_and_oneroster_files_are_not():
    assert siecle.recognises(REAL_XML.name, head(REAL_XML))
    assert siecle.recognises(REAL_CSV.name, head(REAL_CSV))
    assert siecle.recognises(GUARDIANS_XML.name, head(GUARDIANS_XML))
    users = Path(__file__).parent.parent / "data/oneroster/catalyst-v1p1-full/users.csv"
    assert not siecle.recognises(users.name, head(users))
    aaf = DATA / "ENT_Complet_20200101_Eleve_0000.xml"
    assert not siecle.recognises(aaf.name, head(aaf))


# --- pupils: INE, leavers, divisions ---------------------------------------------------


def test_pupil_without_national_id_is_imported_all_the_same():
    noel = people(parse(PUPILS_XML))["0350001A$100002"]

    assert noel.national_id == ""
    assert (noel.given_name, noel.family_name) == ("Noël", "DUPRÉ")
    assert noel.active


def test_latin9_names_are_decoded():
    zoe = people(parse(PUPILS_XML))["0350001A$100001"]

    assert (zoe.given_name, zoe.family_name) == ("Zoé", "LŒUVRE")
    assert zoe.national_id == "1234567890A"


def test_pupil_whose_leaving_date_is_past_is_inactive_with_their_enrollments():
    roster = parse(PUPILS_XML)

    assert not people(roster)["0350001A$100003"].active  # left 15/10/2026
    left = [e for e in roster.enrollments if e.person == "0350001A$100003"]
    assert left and not any(e.active for e in left)


def test_leaving_date_is_compared_with_today_not_with_the_export_date():
    # Maëlle leaves on 19/12/2026: present on the 6th, gone on the 20th, whatever
    # the export's own date (01/12/2026).
    assert people(parse(PUPILS_XML))["0350001A$100005"].active
    assert people(parse(PUPILS_XML, today=dt.date(2026, 12, 19)))[
        "0350001A$100005"
    ].active
    assert not people(parse(PUPILS_XML, today=dt.date(2026, 12, 20)))[
        "0350001A$100005"
    ].active
    # An export imported before the pupil left keeps them.
    assert people(parse(PUPILS_XML, today=dt.date(2026, 10, 1)))[
        "0350001A$100003"
    ].active


def test_pupil_without_division_is_imported_without_homeroom_and_reported():
    roster = parse(PUPILS_XML)

    hugo = people(roster)["0350001A$100004"]
    assert hugo.active
    classes = {c.sourced_id: c for c in roster.classes}
    mine = [
        classes[e.school_class]
        for e in roster.enrollments
        if e.person == hugo.sourced_id
    ]
    assert [c.class_type for c in mine] == ["scheduled"]  # his group only
    assert any("PETIT Hugo n'a pas de division" in w for w in roster.warnings)
    # The pupil who left has no division now: no warning for them.
    assert not any("BERNARD" in w for w in roster.warnings)


def test_divisions_are_homerooms_and_groups_scheduled_classes():
    roster = parse(PUPILS_XML)

    assert {c.sourced_id: c.class_type for c in roster.classes} == {
        "0350001A$4B": "homeroom",
        "0350001A$4ALL2": "scheduled",
        "0350001A$3A": "homeroom",
    }
    assert all(c.session == "0350001A$2026-2027" for c in roster.classes)
    (session,) = roster.sessions
    assert session.end_date == dt.date(2027, 7, 10)


def test_bad_pupil_rows_are_rejected_with_file_and_line():
    roster = parse(PUPILS_XML)

    assert [(r.file, r.line, r.kind) for r in roster.rejections] == [
        (PUPILS_XML.name, 51, "person"),  # no family name
        (PUPILS_XML.name, 92, "enrollment"),  # structures of an unknown pupil
    ]
    assert "100006" in roster.rejections[0].reason
    assert "999999" in roster.rejections[1].reason


# --- guardians ------------------------------------------------------------------------


def test_legal_guardians_are_linked_with_their_relationship():
    roster = parse(PUPILS_XML, GUARDIANS_XML)

    links = {(g.guardian, g.student): g for g in roster.guardian_links}
    assert links["0350001A$P500001", "0350001A$100001"].relationship == "mère"
    assert links["0350001A$P500002", "0350001A$100001"].relationship == "père"
    assert links["0350001A$P500005", "0350001A$100002"].relationship == "tuteur"
    mother = people(roster)["0350001A$P500001"]
    assert mother.role == Role.GUARDIAN
    assert (mother.given_name, mother.family_name) == ("Bénédicte", "LŒUVRE")
    assert mother.email == "benedicte.loeuvre@example.org"
    assert people(roster)["0350001A$P500004"].email == "celine.bernard@example.org"


def test_contact_without_legal_responsibility_gets_no_link_and_no_account():
    roster = parse(PUPILS_XML, GUARDIANS_XML)

    assert "0350001A$P500003" not in people(roster)
    assert not any(g.guardian == "0350001A$P500003" for g in roster.guardian_links)
    assert any("1 contact(s) sans responsabilité légale" in w for w in roster.warnings)


def test_link_to_a_pupil_who_left_is_inactive():
    roster = parse(PUPILS_XML, GUARDIANS_XML)

    (link,) = [g for g in roster.guardian_links if g.student == "0350001A$100003"]
    assert not link.active


def test_guardian_links_to_unknown_pupils_or_people_are_rejected_alone():
    roster = parse(PUPILS_XML, GUARDIANS_XML)

    rejected = [r for r in roster.rejections if r.file == GUARDIANS_XML.name]
    assert [(r.line, r.kind) for r in rejected] == [
        (84, "guardian_link"),
        (90, "guardian_link"),
    ]
    assert "999999" in rejected[0].reason and "599999" in rejected[1].reason
    assert len(roster.guardian_links) == 4


def test_guardians_export_without_the_pupils_export_is_refused():
    with pytest.raises(UnreadableFile, match="importez les deux ensemble"):
        parse(GUARDIANS_XML)


# --- CSV encodings ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ENCODINGS)
def test_csv_in_each_encoding_reads_the_same_names(suffix):
    path = FIXTURES / f"0350001A_eleves_{suffix}.csv"
    assert (
        textfiles.detect_encoding([path.read_bytes()], path.name) == ENCODINGS[suffix]
    )

    roster = parse(path)

    assert [(p.given_name, p.family_name) for p in roster.people] == [
        ("Zoé", "Lœuvre"),
        ("Noël", "Dupré"),
        ("Inès", "Bernard"),
        ("Hugo", "Petit"),
        ("Chloé", "Bœuf"),
    ]


def test_csv_quirks_leaver_no_division_no_identifier():
    path = FIXTURES / "0350001A_eleves_cp1252.csv"
    roster = parse(path)

    pupils = people(roster)
    assert not pupils["0350001A$1234567890C"].active  # Date de sortie 15/10/2026
    assert pupils["0350001A$1234567890A"].national_id == "1234567890A"
    assert not any(e.person == "0350001A$1234567890D" for e in roster.enrollments)
    assert any("Petit Hugo n'a pas de division" in w for w in roster.warnings)
    assert [(r.file, r.line, r.kind) for r in roster.rejections] == [
        (path.name, 6, "person")
    ]
    assert {c.title for c in roster.classes} == {"4e B", "3e A"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("0350001A_eleves_utf16_sans_bom.csv", "octets nuls"),
        ("0350001A_eleves_octets_indefinis.csv", "encodage inconnu"),
        ("0350001A_eleves_ebcdic.csv", "encodage inconnu"),
    ],
)
def test_csv_in_an_impossible_encoding_is_refused_clearly(name, message):
    with pytest.raises(UnreadableFile, match=message) as error:
        parse(FIXTURES / name)
    assert name in str(error.value)


def test_csv_whose_headers_mean_nothing_is_refused_clearly(tmp_path):
    path = tmp_path / "0350001A_autre.csv"
    path.write_text("Date;Jour férié\n2026-12-25;Noël\n", encoding="utf-8")

    with pytest.raises(UnreadableFile, match="en-têtes non reconnus"):
        parse(path)


def test_csv_headers_are_matched_without_accents_case_stars_or_spaces(tmp_path):
    path = tmp_path / "eleves_0350001A.csv"
    path.write_text(
        "IDENTIFIANT UNIQUE;premier prenom;NOM DE FAMILLE **;  nom d usage ;"
        "date de naissance;division ;Groupes\n"
        "1234567890A;Zoé;Lœuvre;;12/03/2013;4e B;4ALL2,4LAT\n",
        encoding="utf-8",
    )

    roster = parse(path)

    assert [(p.sourced_id, p.given_name) for p in roster.people] == [
        ("0350001A$1234567890A", "Zoé")
    ]
    assert {c.title: c.class_type for c in roster.classes} == {
        "4e B": "homeroom",
        "4ALL2": "scheduled",
        "4LAT": "scheduled",
    }


def test_csv_uai_column_wins_over_the_file_name(tmp_path):
    path = tmp_path / "eleves.csv"
    path.write_text(
        "UAJ;INE;Nom;Prénom;Division\n0350002B;1234567890A;Roux;Jade;5e A\n",
        encoding="utf-8",
    )

    roster = parse(path)

    assert [o.uai for o in roster.orgs] == ["0350002B"]
    assert roster.people[0].sourced_id == "0350002B$1234567890A"


# --- hostile or broken XML ----------------------------------------------------------------


def test_xml_with_declared_entities_is_refused(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE BEE_ELEVES [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        "<BEE_ELEVES><PARAMETRES><UAJ>&b;</UAJ></PARAMETRES></BEE_ELEVES>\n"
    )

    with pytest.raises(UnreadableFile, match="bomb.xml"):
        parse(path)


def test_xml_with_an_external_entity_is_refused(tmp_path):
    path = tmp_path / "xxe.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE BEE_ELEVES [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        "<BEE_ELEVES><PARAMETRES><UAJ>&x;</UAJ></PARAMETRES></BEE_ELEVES>\n"
    )

    with pytest.raises(UnreadableFile, match="xxe.xml"):
        parse(path)


def test_truncated_xml_is_refused(tmp_path):
    path = tmp_path / "cut.xml"
    path.write_bytes(PUPILS_XML.read_bytes()[:1500])

    with pytest.raises(UnreadableFile, match="cut.xml"):
        parse(path)


def test_xml_without_uaj_is_refused(tmp_path):
    path = tmp_path / "nouaj.xml"
    path.write_text(
        "<BEE_ELEVES><DONNEES><ELEVES><ELEVE ELEVE_ID='1'><PRENOM>A</PRENOM>"
        "</ELEVE></ELEVES></DONNEES></BEE_ELEVES>"
    )

    with pytest.raises(UnreadableFile, match="UAJ"):
        parse(path)


# --- progress ---------------------------------------------------------------------------


def test_progress_reaches_the_total_size_of_the_files():
    seen = []
    paths = [PUPILS_XML, GUARDIANS_XML, FIXTURES / "0350001A_eleves_utf8.csv"]

    siecle.parse(paths, progress=seen.append, today=TODAY)

    assert seen == sorted(seen)
    assert seen[-1] == sum(p.stat().st_size for p in paths)


def test_school_year_ends_on_the_first_saturday_from_the_fourth_of_july():
    assert siecle._school_year_end(2024) == dt.date(2024, 7, 6)
    assert siecle._school_year_end(2025) == dt.date(2025, 7, 5)
    assert siecle._school_year_end(2026) == dt.date(2026, 7, 4)


def test_csv_dates_in_iso_form_are_read_and_bad_ones_reported(tmp_path):
    path = tmp_path / "0350001A_eleves.csv"
    path.write_text(
        "INE;Nom;Prénom;Date de naissance;Division\n"
        "1234567890A;Roux;Jade;2013-03-12;5e A\n"
        "1234567890B;Roux;Léo;31/02/2013;5e A\n",
        encoding="utf-8",
    )

    roster = parse(path)

    jade, leo = roster.people
    assert jade.birth_date == dt.date(2013, 3, 12)
    assert leo.birth_date is None
    assert f"{path.name}:3: date de naissance « 31/02/2013 » illisible, ignorée" in (
        roster.warnings
    )


def test_a_zip_is_never_taken_for_a_siecle_export(tmp_path):
    path = tmp_path / "eleves.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.write(PUPILS_XML, PUPILS_XML.name)

    assert b"<BEE_ELEVES" in path.read_bytes()
    assert not siecle.recognises(path.name, head(path))
