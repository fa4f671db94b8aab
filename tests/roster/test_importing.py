"""One import run from files: format detection, the RosterImport row, its
admin's progress events, the audit entry, refusals that write nothing.

Files are the AAF fixtures of ``tests/roster/fixtures/aaf`` (a fictitious
complete feed and the next day's delta) and the real OneRoster set of
``tests/data/oneroster``.
"""

import shutil
from pathlib import Path

import pytest

from core.audit.models import AuditEntry
from core.roster import importing
from core.roster.importing import run_import
from core.roster.models import (
    EndedMembership,
    Enrollment,
    GuardianLink,
    Org,
    RosterImport,
    User,
)
from core.roster.records import UnreadableFile
from core.roster.sources import read_roster
from tests.conftest import capture_events, make_user

pytestmark = pytest.mark.django_db

HERE = Path(__file__).parent
AAF = HERE / "fixtures" / "aaf"
COMPLETE = sorted((AAF / "complete").iterdir())
DELTA = sorted((AAF / "delta").iterdir())
ONEROSTER = HERE.parent / "data" / "oneroster" / "catalyst-v1p1-full"


def database() -> dict:
    """What a roster import writes, to compare before and after."""
    return {
        model.__name__: sorted(model.objects.values_list("pk", flat=True))
        for model in (Org, User, Enrollment, GuardianLink, EndedMembership)
    } | {"active": sorted(User.objects.filter(is_active=True).values_list("pk"))}


# read_roster ---------------------------------------------------------------------


def test_read_roster_dispatches_to_the_parser_that_recognises_the_files():
    assert str(read_roster(COMPLETE).source) == "aaf"
    assert str(read_roster(sorted(ONEROSTER.iterdir())).source) == "oneroster"


def test_a_mix_of_formats_is_refused_naming_the_files():
    with pytest.raises(UnreadableFile, match="plusieurs formats") as error:
        read_roster([COMPLETE[0], ONEROSTER / "users.csv"])
    assert COMPLETE[0].name in str(error.value)
    assert "users.csv (OneRoster)" in str(error.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "vide"),
        (b"\x00\x01 not a roster at all", "format non reconnu"),
        (b"<html><body>Bonjour</body></html>", "format non reconnu"),
    ],
)
def test_a_file_no_parser_recognises_is_refused(tmp_path, content, message):
    path = tmp_path / "export.dat"
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=message) as error:
        read_roster([path])
    assert "export.dat" in str(error.value)


def test_a_missing_file_or_a_folder_is_refused(tmp_path):
    with pytest.raises(UnreadableFile, match="introuvable"):
        read_roster([tmp_path / "absent.xml"])
    with pytest.raises(UnreadableFile, match="dossier"):
        read_roster([tmp_path])
    with pytest.raises(UnreadableFile, match="Aucun fichier"):
        read_roster([])


# run_import ----------------------------------------------------------------------


@pytest.fixture
def admin():
    return make_user("admin", User.Role.ADMINISTRATOR, "Ada", "Min", is_staff=True)


def test_run_import_fills_the_roster_import_and_tells_its_admin(admin):
    job = RosterImport.objects.create(created_by=admin)

    with capture_events() as events:
        report = run_import(COMPLETE, roster_import=job)

    job.refresh_from_db()
    assert job.status == RosterImport.Status.DONE
    assert job.source == "aaf"
    assert job.file_names == [p.name for p in COMPLETE]
    assert job.report == report.as_dict()
    assert job.report["counts"]["person"]["created"] == 12
    assert job.finished_at is not None
    assert job.progress == job.total > 0
    # Only the admin hears of it (a first import tells no one else).
    assert {e.stream for e in events} == {f"user:{admin.pk}"}
    assert {e.kind for e in events} == {"roster.import"}
    assert events[0].op == "progress" and events[0].data["status"] == "running"
    last = events[-1]
    assert last.op == "done"
    assert last.data["summary"] == report.as_dict()["counts"]
    assert last.data["import_id"] == job.pk


def test_progress_events_are_throttled(admin, monkeypatch):
    monkeypatch.setattr(importing.time, "monotonic", lambda: 1000.0)
    job = RosterImport.objects.create(created_by=admin)
    with capture_events() as events:
        run_import(COMPLETE, roster_import=job)
    # The start, one progress (the clock never moves), the end.
    assert [e.op for e in events] == ["progress", "progress", "done"]


def test_every_run_is_audited_with_who_what_and_the_counts(admin):
    job = RosterImport.objects.create(created_by=admin)
    run_import(COMPLETE, roster_import=job)
    entry = AuditEntry.objects.get(action="roster.imported")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        admin.pk,
        "roster_import",
        job.pk,
    )
    assert entry.detail["source"] == "aaf"
    assert entry.detail["files"] == [p.name for p in COMPLETE]
    assert entry.detail["counts"]["person"] == {"created": 12, "rejected": 3}
    assert entry.detail["rejected"] == 8


def test_reimporting_the_same_files_changes_nothing_and_emits_nothing():
    run_import(COMPLETE)
    before = database()
    with capture_events() as events:
        report = run_import(COMPLETE)
    assert events == []
    assert not report.changed
    assert database() == before


def test_the_next_days_delta_moves_a_pupil_and_deactivates_leavers():
    run_import(COMPLETE)
    moved = User.objects.get(source="aaf", sourced_id="5000001")
    left = User.objects.get(source="aaf", sourced_id="5000002")

    report = run_import(DELTA)

    assert list(
        Enrollment.objects.filter(
            user=moved, school_class__class_type="homeroom"
        ).values_list("school_class__title", flat=True)
    ) == ["3B"]
    left.refresh_from_db()
    assert not left.is_active
    assert EndedMembership.objects.filter(user=left).exists()
    assert report.counts["person"].deactivated == 3
    # And once more: nothing.
    assert not run_import(DELTA).changed


def test_a_dry_run_writes_nothing_and_emits_nothing():
    with capture_events() as events:
        report = run_import(COMPLETE, dry_run=True)
    assert report.dry_run and report.counts["person"].created == 12
    assert events == []
    assert not User.objects.exists() and not Org.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_broken_file_fails_the_import_and_writes_nothing(admin, tmp_path):
    files = []
    for path in COMPLETE:
        files.append(tmp_path / path.name)
        shutil.copy(path, files[-1])
    pupils = next(p for p in files if "Eleve_0000" in p.name)
    pupils.write_bytes(pupils.read_bytes()[:-200])  # truncated
    job = RosterImport.objects.create(created_by=admin)

    with capture_events() as events, pytest.raises(UnreadableFile) as error:
        run_import(files, roster_import=job)

    assert pupils.name in str(error.value)
    job.refresh_from_db()
    assert job.status == RosterImport.Status.FAILED
    assert pupils.name in job.error
    assert events[-1].op == "failed"
    assert not Org.objects.exists() and User.objects.count() == 1


def test_an_unexpected_error_fails_the_import_without_quoting_rows(admin, monkeypatch):
    from django.db import IntegrityError

    from core.roster import sync

    def broken(*args, **kwargs):
        raise IntegrityError("Key (username)=(lea.martin) already exists")

    monkeypatch.setattr(sync, "apply", broken)
    job = RosterImport.objects.create(created_by=admin)
    with capture_events() as events, pytest.raises(IntegrityError):
        run_import(COMPLETE, roster_import=job)
    job.refresh_from_db()
    assert job.status == RosterImport.Status.FAILED
    assert job.error == "Erreur inattendue (IntegrityError)."
    assert "lea" not in str(events[-1].data)


# What a partial complete set leaves alone --------------------------------------


SIECLE = HERE / "fixtures" / "siecle"


def test_a_siecle_pupils_export_alone_keeps_the_guardian_links():
    pupils = SIECLE / "ElevesSansAdresses_0350001A_2026.xml"
    run_import([pupils, SIECLE / "ResponsablesAvecAdresses_0350001A_2026.xml"])
    links = sorted(GuardianLink.objects.values_list("pk", flat=True))
    assert links
    guardians = set(GuardianLink.objects.values_list("guardian_id", flat=True))

    report = run_import([pupils])

    assert sorted(GuardianLink.objects.values_list("pk", flat=True)) == links
    assert not EndedMembership.objects.exists()
    assert User.objects.filter(pk__in=guardians, is_active=False).count() == 0
    assert not report.changed


def test_an_aaf_set_without_its_staff_files_keeps_the_teachers_classes():
    run_import(COMPLETE)
    teaching = sorted(
        Enrollment.objects.filter(role="teacher").values_list("pk", flat=True)
    )
    assert teaching
    without_staff = [p for p in COMPLETE if "_PersEducNat_" not in p.name]

    run_import(without_staff)

    assert (
        sorted(Enrollment.objects.filter(role="teacher").values_list("pk", flat=True))
        == teaching
    )
    assert not EndedMembership.objects.filter(role="teacher").exists()


def test_parsers_say_which_memberships_a_complete_set_is_the_truth_for():
    everything = {"enrollment:student", "enrollment:teacher", "guardian_link"}
    assert read_roster(COMPLETE).complete_for == everything
    eleves = [p for p in COMPLETE if "_Eleve_" in p.name]
    assert read_roster(eleves).complete_for == {"enrollment:student"}
    assert read_roster(sorted(ONEROSTER.glob("*.csv"))).complete_for == everything
    pupils = SIECLE / "ElevesSansAdresses_0350001A_2026.xml"
    assert read_roster([pupils]).complete_for == {"enrollment:student"}


# Every real roster file of tests/data ----------------------------------------


REAL = HERE.parent / "data"
REAL_SETS = {
    "aaf-2013-full": sorted((REAL / "aaf").glob("*FULL_ENTTSSERVICES_*.xml")),
    "aaf-2020-ent": sorted((REAL / "aaf").glob("ENT_Complet_*.xml")),
    "aaf-orphan-guardians": [
        REAL / "aaf/clean-FULL_ENTTSSERVICES_Complet_20130117_PersRelEleve_0000.xml"
    ],
    "siecle-bee-eleves": [
        REAL / "aaf/siecle-with-two-valid-students-and-school-year.xml"
    ],
    "oneroster-1.1-bulk": sorted((REAL / "oneroster/catalyst-v1p1-full").iterdir()),
    "oneroster-1.2-delta": sorted(
        (REAL / "oneroster/catalyst-v1p2-delta-gotham").iterdir()
    ),
}


@pytest.mark.parametrize("name", sorted(REAL_SETS))
def test_every_real_roster_file_imports_with_a_report(name):
    paths = REAL_SETS[name]
    assert paths
    dry = run_import(paths, dry_run=True)
    report = run_import(paths)
    assert report.lines() and dry.lines()
    assert report.as_dict()["counts"] == dry.as_dict()["counts"]
    again = run_import(paths)
    assert not again.changed


def test_the_real_siecle_csv_alone_is_refused_with_the_reason():
    # It names no school (no UAI column, none in its name): refused, nothing
    # written, and the message says what to do.
    with pytest.raises(UnreadableFile, match="UAI"):
        run_import([REAL / "aaf/siecle-csv-with-two-valid-students.csv"])
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "guardians",
    [[], ["clean-FULL_ENTTSSERVICES_Complet_20130117_PersRelEleve_0000.xml"]],
    ids=["without-PersRelEleve", "with-another-PersRelEleve-part"],
)
def test_a_real_aaf_set_missing_its_guardians_file_ends_no_link(guardians):
    # Found by a fresh-user trial: the 2013 feed re-imported without the
    # PersRelEleve part that holds its pupils' guardians ended all 367 links
    # and deactivated 359 guardians.
    full = sorted((REAL / "aaf").glob("FULL_ENTTSSERVICES_Complet_20130117_*.xml"))
    first = REAL / "aaf/clean-FULL_ENTTSSERVICES_Complet_20130117_PersRelEleve_0034.xml"
    run_import([*full, first])
    links = sorted(GuardianLink.objects.values_list("pk", flat=True))
    assert len(links) == 367

    run_import([*full, *(REAL / "aaf" / name for name in guardians)])

    assert sorted(GuardianLink.objects.values_list("pk", flat=True)) == links
    assert not EndedMembership.objects.exists()
    assert not User.objects.filter(role="guardian", is_active=False).exists()


def test_a_school_switching_from_siecle_xml_to_csv_keeps_its_pupils():
    # Found by a fresh-user trial: the CSV keys pupils by INE, the XML by
    # ELEVE_ID; every pupil became a new account and their guardians lost them.
    run_import(
        [
            SIECLE / "ElevesSansAdresses_0350001A_2026.xml",
            SIECLE / "ResponsablesAvecAdresses_0350001A_2026.xml",
        ]
    )
    zoe = User.objects.get(national_id="1234567890A")  # Zoé: 4e B in both
    links = sorted(
        GuardianLink.objects.filter(student=zoe).values_list("pk", flat=True)
    )
    assert links

    run_import([SIECLE / "0350001A_eleves_utf8.csv"])

    assert User.objects.filter(national_id="1234567890A").get() == zoe
    assert User.objects.filter(national_id="1234567890D").count() == 1  # Hugo
    zoe.refresh_from_db()
    assert zoe.is_active
    # The CSV's divisions are the truth for divisions; it has no groups, so
    # her group stays (found by a second trial: it ended every group).
    assert sorted(
        (e.school_class.class_type, e.school_class.title) for e in zoe.enrollments.all()
    ) == [("homeroom", "4e B"), ("scheduled", "4ALL2")]
    assert (
        sorted(GuardianLink.objects.filter(student=zoe).values_list("pk", flat=True))
        == links
    )
    # Noël has no INE in the XML export: nothing says the CSV's Noël is him.
    assert User.objects.filter(first_name="Noël").count() == 2


def test_records_ended_in_the_files_and_unknown_to_the_hub_are_said_so():
    # Found by a fresh-user trial: every enrollment of the real OneRoster 1.1
    # set has ended (endDate passed); the report said "6 unchanged" and the
    # admin believed the classes had members.
    report = run_import(sorted(ONEROSTER.glob("*.csv")))
    counts = report.as_dict()["counts"]["enrollment"]
    assert counts["created"] == 0 and not Enrollment.objects.exists()
    assert any(
        w.startswith(f"Inscriptions : {counts['unchanged']} terminé(s)")
        for w in report.warnings
    )


def test_a_pupil_of_two_schools_is_each_schools_own_record(tmp_path):
    # Found by a second trial: pupils adopted by INE across schools let one
    # school's nightly import end the other school's guardian links.
    school_a = [
        SIECLE / "ElevesSansAdresses_0350001A_2026.xml",
        SIECLE / "ResponsablesAvecAdresses_0350001A_2026.xml",
    ]
    school_b = []
    for path in school_a:
        other = tmp_path / path.name.replace("0350001A", "0350002B")
        other.write_bytes(path.read_bytes().replace(b"0350001A", b"0350002B"))
        school_b.append(other)
    run_import(school_b)
    b_links = set(GuardianLink.objects.values_list("pk", flat=True))
    run_import(school_a)

    run_import(school_a)

    assert b_links <= set(GuardianLink.objects.values_list("pk", flat=True))
    assert not EndedMembership.objects.exists()
    assert User.objects.filter(national_id="1234567890A").count() == 2


def test_the_siecle_csv_with_the_guardians_export_ends_no_link():
    # Found by a second trial: the guardians' export names pupils by
    # ELEVE_ID, the CSV by INE; every row was rejected and every link ended.
    guardians = SIECLE / "ResponsablesAvecAdresses_0350001A_2026.xml"
    run_import([SIECLE / "ElevesSansAdresses_0350001A_2026.xml", guardians])
    links = sorted(GuardianLink.objects.values_list("pk", flat=True))

    run_import([SIECLE / "0350001A_eleves_utf8.csv", guardians])

    assert sorted(GuardianLink.objects.values_list("pk", flat=True)) == links
    assert not EndedMembership.objects.filter(kind="guardian_link").exists()
