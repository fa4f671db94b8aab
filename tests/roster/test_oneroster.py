"""The OneRoster parser on the real Catalyst sets of tests/data/oneroster and
our quirk fixtures, loose and zipped."""

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import pytest

from core.roster.records import Mode, Role, Source, UnreadableFile
from core.roster.sources import oneroster, textfiles

DATA = Path(__file__).parent.parent / "data" / "oneroster"
FIXTURES = Path(__file__).parent / "fixtures" / "oneroster"
V11_FULL = DATA / "catalyst-v1p1-full"
V12_DELTA = DATA / "catalyst-v1p2-delta-gotham"
QUIRKS_11 = FIXTURES / "quirks-v1p1"
QUIRKS_12 = FIXTURES / "quirks-v1p2"
TODAY = dt.date(2026, 12, 6)


def files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def parse(paths, today=TODAY, **kwargs):
    if isinstance(paths, Path):
        paths = files(paths) if paths.is_dir() else [paths]
    return oneroster.parse(paths, today=today, **kwargs)


def by_id(records):
    return {r.sourced_id: r for r in records}


def zip_folder(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files(folder):
            zf.write(path, prefix + path.name)
    return target


def copy_set(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / folder.name
    shutil.copytree(folder, target)
    return target


# --- the real sets ---------------------------------------------------------------------


def test_real_v11_bulk_set_imports_with_its_counts():
    roster = parse(V11_FULL)

    assert roster.source == Source.ONEROSTER and roster.mode == Mode.COMPLETE
    assert len(roster.orgs) == 1
    assert len(roster.sessions) == 5
    assert len(roster.classes) == 2
    assert len(roster.people) == 6
    assert len(roster.enrollments) == 6
    assert len(roster.guardian_links) == 1
    assert roster.rejections == []
    (org,) = roster.orgs
    assert (org.sourced_id, org.name, org.uai) == (
        "org-sch-222-456",
        "History Department",
        "History",
    )
    roles = {p.sourced_id: p.role for p in roster.people}
    assert roles == {
        "usr-222-123456": Role.TEACHER,
        "usr-222-66778899": Role.STUDENT,
        "usr-222-1234561": Role.GUARDIAN,
        "usr-222-987654": Role.TEACHER,
        "usr-222-1234561232": Role.STUDENT,
        "usr-222-567891": Role.STUDENT,
    }
    (link,) = roster.guardian_links
    assert (link.guardian, link.student, link.relationship) == (
        "usr-222-1234561",
        "usr-222-66778899",
        "parent",
    )


def test_real_v11_quirks_status_case_and_multi_values():
    roster = parse(V11_FULL)

    classes = by_id(roster.classes)
    assert classes["cls-222-123456"].class_type == "scheduled"  # "Scheduled"
    assert classes["cls-222-123478"].class_type == "homeroom"
    assert not classes["cls-222-123478"].active  # tobedeleted
    # "as-trm-222-1234,as-trm-222-1235": a quoted multi-value, first term taken
    assert classes["cls-222-123478"].session == "as-trm-222-1234"
    sessions = by_id(roster.sessions)
    assert not sessions["as-grp-222-23456"].active  # tobedeleted
    assert not sessions["as-grp-222-2345"].active  # inactive (1.0)
    assert sessions["as-grp-222-23456"].type == "term"  # gradingPeriod
    assert sessions["as-grp-222-2345"].type == "term"  # semester
    assert sessions["as-grp-222-3456"].type == "schoolYear"
    # The row with empty status is active; the last row (no newline after it) is read.
    people = by_id(roster.people)
    assert people["usr-222-66778899"].active
    assert people["usr-222-567891"].given_name == "Anna"
    # Enrollments ended on 2022-06-15: past.
    assert not any(e.active for e in roster.enrollments)


def test_real_v11_agents_that_are_not_guardians_are_skipped_with_a_warning():
    roster = parse(V11_FULL)

    assert sum("pas un lien parent-élève" in w for w in roster.warnings) == 4


def test_real_v12_delta_set_imports_with_its_counts():
    roster = parse(V12_DELTA)

    assert roster.mode == Mode.DELTA
    assert len(roster.orgs) == 1
    assert len(roster.sessions) == 1
    assert len(roster.courses) == 1
    assert len(roster.classes) == 1
    assert len(roster.people) == 1
    assert len(roster.enrollments) == 1
    assert roster.guardian_links == []
    assert roster.rejections == []
    (bruce,) = roster.people
    assert (bruce.role, bruce.username) == (Role.STUDENT, "brucewayne")
    assert bruce.birth_date == dt.date(2010, 4, 17)  # demographics.csv
    (org,) = roster.orgs
    assert org.uai == "ORG_1"  # no identifier: the short sourcedId
    (session,) = roster.sessions
    assert (session.org, session.type) == ("ORG_1", "term")  # a semester
    (course,) = roster.courses
    assert (course.org, course.title) == ("ORG_1", "Crime Fighting 101")
    assert roster.classes[0].course == "COURSE_001"
    assert any("userProfiles.csv : non importé" in w for w in roster.warnings)


def test_real_files_are_recognised_and_siecle_files_are_not():
    for path in [*files(V11_FULL), *files(V12_DELTA)]:
        assert oneroster.recognises(path.name, path.read_bytes()[:65536]), path
    siecle_csv = DATA.parent / "aaf" / "siecle-csv-with-two-valid-students.csv"
    assert not oneroster.recognises(siecle_csv.name, siecle_csv.read_bytes())
    other = DATA.parent / "opendata" / "jours_feries_metropole.csv"
    assert not oneroster.recognises("users.csv", other.read_bytes()[:65536])


def test_real_set_zipped_in_a_folder_reads_as_the_loose_files(tmp_path):
    archive = zip_folder(V11_FULL, tmp_path / "export.zip", prefix="export/")
    assert oneroster.recognises(archive.name, archive.read_bytes()[:65536])

    zipped, loose = parse(archive), parse(V11_FULL)

    assert zipped.people == [
        p.__class__(**{**_fields(p), "file": f"export.zip/export/{p.file}"})
        for p in loose.people
    ]
    assert len(zipped.enrollments) == len(loose.enrollments) == 6
    assert zipped.rejections == []


def _fields(record):
    return {name: getattr(record, name) for name in record.__slots__}


# --- header and file name tolerance ------------------------------------------------------


def test_header_typos_and_case_are_mapped_and_reported():
    roster = parse(QUIRKS_11)

    for expected in (
        "Users.csv : colonne « sourcedid » lue comme « sourcedId »",
        "Users.csv : colonne « givenNme » lue comme « givenName »",
        "Users.csv : colonne « familyname » lue comme « familyName »",
        "classes.csv : colonne « SourcedId » lue comme « sourcedId »",
        "classes.csv : colonne « ClassType » lue comme « classType »",
    ):
        assert expected in roster.warnings
    lea = by_id(roster.people)["u-pupil-1"]
    assert (lea.given_name, lea.family_name) == ("Léa", "Dubois")


def test_file_name_case_differs_from_the_manifest():
    roster = parse(QUIRKS_11)

    assert {p.file for p in roster.people} == {"Users.csv"}
    assert len(roster.people) == 12


def test_extra_empty_columns_and_empty_optional_columns_are_harmless():
    roster = parse(QUIRKS_11)

    assert not any("inconnue" in w for w in roster.warnings)
    cls = by_id(roster.classes)["cls-4b"]
    assert (cls.title, cls.class_type, cls.session) == ("4e B", "homeroom", "as-2026")


def test_unknown_column_is_ignored_with_a_warning(tmp_path):
    folder = copy_set(QUIRKS_12, tmp_path)
    orgs = folder / "orgs.csv"
    orgs.write_text(
        orgs.read_text(encoding="utf-8-sig").replace(
            "parentSourcedId", "couleurPréférée"
        ),
        encoding="utf-8",
    )

    roster = parse(folder)

    assert "orgs.csv : colonne « couleurPréférée » inconnue, ignorée" in roster.warnings
    assert len(roster.orgs) == 2


def test_utf8_bom_and_lf_files_read_like_the_others():
    roster = parse(QUIRKS_12)

    assert [o.uai for o in roster.orgs] == ["0350002B", "0350003C"]
    assert roster.mode == Mode.COMPLETE


def test_missing_required_column_refuses_the_file(tmp_path):
    folder = copy_set(QUIRKS_12, tmp_path)
    classes = folder / "classes.csv"
    classes.write_text(
        classes.read_text(encoding="utf-8-sig").replace("schoolSourcedId", "ecole"),
        encoding="utf-8",
    )

    with pytest.raises(UnreadableFile, match="classes.csv.*schoolSourcedId"):
        parse(folder)


# --- statuses, dates, references -----------------------------------------------------------


def test_tobedeleted_and_disabled_users_are_inactive():
    people = by_id(parse(QUIRKS_11).people)

    assert not people["u-pupil-left"].active
    assert not people["u-pupil-disabled"].active  # enabledUser FALSE
    assert people["u-pupil-1"].active


def test_enrollment_end_date_past_or_class_deleted_makes_it_inactive():
    enrollments = by_id(parse(QUIRKS_11).enrollments)

    assert enrollments["enr-1"].active  # ends 2027-07-03
    assert enrollments["enr-2"].active  # no end date
    assert not enrollments["enr-3"].active  # ended 2026-10-16
    assert not enrollments["enr-4"].active  # tobedeleted
    assert not enrollments["enr-9"].active  # its class is tobedeleted
    assert enrollments["enr-1"].active  # and today decides:
    assert not by_id(parse(QUIRKS_11, today=dt.date(2027, 7, 4)).enrollments)[
        "enr-1"
    ].active


def test_guardian_links_come_from_either_side_and_unknown_agents_are_rejected_alone():
    roster = parse(QUIRKS_11)

    links = {(g.guardian, g.student): g for g in roster.guardian_links}
    assert set(links) == {
        ("u-parent-1", "u-pupil-1"),  # named by both: one link
        ("u-relative-1", "u-pupil-2"),
        ("u-guardian-1", "u-pupil-left"),
    }
    assert links["u-relative-1", "u-pupil-2"].relationship == "relative"
    assert not links["u-guardian-1", "u-pupil-left"].active  # the pupil left
    (rejected,) = [r for r in roster.rejections if r.kind == "guardian_link"]
    assert (rejected.file, rejected.line) == ("Users.csv", 11)
    assert "u-pupil-ghost" in rejected.reason


def test_delta_passes_a_guardians_link_to_a_pupil_the_hub_may_hold(tmp_path):
    folder = copy_set(QUIRKS_12, tmp_path)
    manifest = folder / "manifest.csv"
    manifest.write_text(
        manifest.read_text(encoding="utf-8-sig").replace(",bulk", ",delta"),
        encoding="utf-8",
    )
    users = folder / "users.csv"
    users.write_text(
        users.read_text(encoding="utf-8-sig").replace(
            "P-1,active,2026-09-01,true,lucie.roux,,Lucie,Roux,,,,,,,",
            "P-1,active,2026-09-01,true,lucie.roux,,Lucie,Roux,,,,,,S-OLD,",
        ),
        encoding="utf-8",
    )

    roster = parse(folder)

    assert roster.mode == Mode.DELTA
    assert ("P-1", "S-OLD") in {(g.guardian, g.student) for g in roster.guardian_links}


def test_rows_with_bad_references_are_rejected_with_file_and_line():
    roster = parse(QUIRKS_11)

    assert sorted((r.file, r.line, r.kind) for r in roster.rejections) == [
        ("Users.csv", 11, "guardian_link"),
        ("Users.csv", 14, "person"),  # externalContact
        ("Users.csv", 15, "person"),  # no names
        ("academicSessions.csv", 5, "session"),  # ends before it starts
        ("academicSessions.csv", 6, "session"),  # type quarter
        ("classes.csv", 7, "class"),  # org-nowhere
        ("courses.csv", 3, "course"),  # org-nowhere
        ("enrollments.csv", 7, "enrollment"),  # proctor
        ("enrollments.csv", 8, "enrollment"),  # cls-missing
        ("enrollments.csv", 9, "enrollment"),  # u-missing
    ]
    assert all(r.reason for r in roster.rejections)


# --- roles ---------------------------------------------------------------------------------


def test_oneroster_roles_map_onto_the_hubs_four():
    people = by_id(parse(QUIRKS_11).people)

    assert people["u-teacher-1"].role == Role.TEACHER
    assert people["u-aide-1"].role == Role.TEACHER
    assert people["u-proctor-1"].role == Role.ADMINISTRATOR
    assert people["u-admin-1"].role == Role.ADMINISTRATOR
    assert people["u-parent-1"].role == Role.GUARDIAN
    assert people["u-relative-1"].role == Role.GUARDIAN
    assert people["u-guardian-1"].role == Role.GUARDIAN
    assert "u-odd-1" not in people


def test_staff_orgs_keep_those_in_the_file_only():
    people = by_id(parse(QUIRKS_11).people)

    assert people["u-teacher-2"].orgs == (
        "org-college-jules-verne",
        "org-lycee-sans-code-rennes",
    )
    assert people["u-pupil-1"].orgs == ()  # pupils belong through their classes


def test_v12_roles_file_gives_the_primary_role_and_every_active_roles_org():
    roster = parse(QUIRKS_12)

    people = by_id(roster.people)
    claire = people["T-1"]
    assert claire.role == Role.TEACHER  # primary, though listed second
    assert claire.orgs == ("ORG-A", "ORG-B")  # the ended role in ORG-C gives nothing
    assert people["S-1"].birth_date == dt.date(2014, 2, 3)
    assert "X-1" not in people
    (rejected,) = roster.rejections
    assert (rejected.file, rejected.line, rejected.kind) == ("users.csv", 5, "person")
    assert [(g.guardian, g.student) for g in roster.guardian_links] == [("P-1", "S-1")]


# --- orgs and sessions -----------------------------------------------------------------------


def test_org_uai_from_identifier_short_sourced_id_or_a_stable_code():
    roster = parse(QUIRKS_11)

    orgs = by_id(roster.orgs)
    assert orgs["org-college-jules-verne"].uai == "0350001A"  # upper-cased UAI
    assert orgs["org-dept-sciences"].uai == "SCI"  # short identifier
    stand_in = orgs["org-lycee-sans-code-rennes"].uai
    assert len(stand_in) == 8 and stand_in.startswith("OR")
    assert parse(QUIRKS_11).orgs[1].uai == stand_in  # stable from one run to the next
    assert all(len(o.uai) <= 8 for o in roster.orgs)
    assert len({o.uai for o in roster.orgs}) == len(roster.orgs)


def test_district_nothing_hangs_on_is_skipped_and_department_with_classes_kept():
    roster = parse(QUIRKS_11)

    assert "org-district-35" not in by_id(roster.orgs)
    assert "org-dept-sciences" in by_id(roster.orgs)
    assert any(
        "Académie de Rennes" in w and "non importé" in w for w in roster.warnings
    )


def test_session_used_by_two_orgs_is_copied_for_the_second():
    roster = parse(QUIRKS_12)

    sessions = by_id(roster.sessions)
    assert sessions["SY-2026"].org == "ORG-A"
    assert sessions["SY-2026@ORG-B"].org == "ORG-B"
    assert by_id(roster.classes)["CLS-B"].session == "SY-2026@ORG-B"


def test_classes_with_a_course_missing_from_a_bulk_set_lose_the_course():
    classes = by_id(parse(QUIRKS_11).classes)

    assert classes["cls-4b-maths"].course == "crs-maths-4"
    assert classes["cls-2nde1"].course == ""


# --- manifest ---------------------------------------------------------------------------------


def _with_manifest(tmp_path, text: str) -> Path:
    folder = copy_set(QUIRKS_12, tmp_path)
    (folder / "manifest.csv").write_text(text, encoding="utf-8")
    return folder


def test_set_without_manifest_is_refused():
    paths = [p for p in files(QUIRKS_12) if p.name != "manifest.csv"]

    with pytest.raises(UnreadableFile, match="manifest.csv manquant"):
        parse(paths)


def test_manifest_mixing_bulk_and_delta_is_refused(tmp_path):
    folder = _with_manifest(
        tmp_path,
        "propertyName,value\noneroster.version,1.2\nfile.orgs,bulk\nfile.users,delta\n"
        "file.roles,bulk\n",
    )

    with pytest.raises(UnreadableFile, match="bulk et delta mélangés"):
        parse(folder)


def test_manifest_announcing_a_missing_file_is_refused(tmp_path):
    folder = _with_manifest(
        tmp_path,
        "propertyName,value\noneroster.version,1.2\nfile.orgs,bulk\nfile.courses,bulk\n",
    )

    with pytest.raises(UnreadableFile, match="courses.csv"):
        parse(folder)


def test_manifest_with_an_unknown_version_is_refused(tmp_path):
    folder = _with_manifest(
        tmp_path, "propertyName,value\noneroster.version,2.0\nfile.orgs,bulk\n"
    )

    with pytest.raises(UnreadableFile, match="2.0"):
        parse(folder)


def test_file_present_but_absent_from_the_manifest_is_ignored(tmp_path):
    folder = _with_manifest(
        tmp_path,
        "propertyName,value\noneroster.version,1.2\nfile.orgs,bulk\nfile.users,absent\n",
    )

    roster = parse(folder)

    assert len(roster.orgs) == 2 and roster.people == []
    assert "users.csv : absent du manifeste, ignoré" in roster.warnings


# --- zips --------------------------------------------------------------------------------------


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _set_entries(folder: Path = QUIRKS_12) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in files(folder)}


def test_zip_bomb_by_ratio_is_refused(tmp_path):
    entries = _set_entries() | {"results.csv": b"\0" * (20 << 20)}

    with pytest.raises(UnreadableFile, match="bombe de décompression"):
        parse(_zip(tmp_path / "bomb.zip", entries))


def test_zip_over_the_total_size_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(textfiles, "MAX_TOTAL_SIZE", 2000)

    with pytest.raises(UnreadableFile, match="Mio une fois décompressée"):
        parse(_zip(tmp_path / "big.zip", _set_entries()))


def test_zip_with_too_many_entries_is_refused(tmp_path):
    entries = {f"junk{i}.txt": b"x" for i in range(textfiles.MAX_ENTRIES + 1)}

    with pytest.raises(UnreadableFile, match="trop d'entrées"):
        parse(_zip(tmp_path / "many.zip", _set_entries() | entries))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../users.csv", "remonte"),
        ("export/../../etc/passwd", "remonte"),
        ("/etc/passwd", "chemin absolu"),
        ("C:/Windows/win.ini", "chemin absolu"),
    ],
)
def test_zip_with_escaping_paths_is_refused(tmp_path, name, message):
    entries = _set_entries() | {name: b"x"}

    with pytest.raises(UnreadableFile, match=message):
        parse(_zip(tmp_path / "escape.zip", entries))


def test_zip_inside_the_zip_is_refused_by_name_and_by_content(tmp_path):
    inner = _zip(tmp_path / "inner.zip", _set_entries())

    with pytest.raises(UnreadableFile, match="archive dans l'archive"):
        parse(_zip(tmp_path / "outer.zip", {"inner.zip": inner.read_bytes()}))
    disguised = _set_entries() | {"results.csv": inner.read_bytes()}
    with pytest.raises(UnreadableFile, match="archive dans l'archive"):
        parse(_zip(tmp_path / "outer2.zip", disguised))


def test_file_named_zip_that_is_not_one_is_refused(tmp_path):
    path = tmp_path / "export.zip"
    path.write_bytes(b"not a zip at all")

    with pytest.raises(UnreadableFile, match="archive zip illisible"):
        parse(path)


def test_zip_with_loose_files_beside_it_is_refused(tmp_path):
    archive = zip_folder(QUIRKS_12, tmp_path / "set.zip")

    with pytest.raises(UnreadableFile, match="une seule archive"):
        parse([archive, QUIRKS_12 / "users.csv"])


def test_zip_members_are_found_whatever_their_case(tmp_path):
    entries = {
        name.upper() if name != "manifest.csv" else name: data
        for name, data in _set_entries().items()
    }

    roster = parse(_zip(tmp_path / "upper.zip", entries))

    assert len(roster.people) == 3


# --- progress -----------------------------------------------------------------------------------


def test_progress_grows_to_the_total_size_of_the_files():
    seen = []

    parse(V12_DELTA, progress=seen.append)

    assert seen == sorted(seen)
    assert seen[-1] == sum(p.stat().st_size for p in files(V12_DELTA))


def test_progress_of_a_zip_ends_at_the_zip_size(tmp_path):
    archive = zip_folder(V11_FULL, tmp_path / "set.zip")
    seen = []

    parse(archive, progress=seen.append)

    assert seen == sorted(seen) and seen[-1] == archive.stat().st_size


def test_enrollment_of_a_user_who_left_is_inactive(tmp_path):
    folder = copy_set(QUIRKS_12, tmp_path)
    users = folder / "users.csv"
    users.write_text(
        users.read_text(encoding="utf-8-sig").replace(
            "S-1,active,", "S-1,tobedeleted,"
        ),
        encoding="utf-8",
    )

    roster = parse(folder)

    assert not by_id(roster.enrollments)["E-1"].active
    assert not roster.guardian_links[0].active


def test_class_naming_a_session_missing_from_a_bulk_set_is_kept_without_it(tmp_path):
    folder = copy_set(QUIRKS_12, tmp_path)
    classes = folder / "classes.csv"
    classes.write_text(
        classes.read_text(encoding="utf-8-sig").replace(
            "ORG-A,SY-2026", "ORG-A,SY-GONE"
        ),
        encoding="utf-8",
    )

    roster = parse(folder)

    assert by_id(roster.classes)["CLS-A"].session == ""
    assert any("sessions absentes du fichier" in w for w in roster.warnings)


def test_windows_1252_file_from_a_spreadsheet_is_read(tmp_path):
    folder = copy_set(QUIRKS_12, tmp_path)
    orgs = folder / "orgs.csv"
    orgs.write_bytes(
        orgs.read_text(encoding="utf-8-sig")
        .replace("Collège A", "Collège Œuvre")
        .encode("cp1252")
    )

    roster = parse(folder)

    assert roster.orgs[0].name == "Collège Œuvre"
