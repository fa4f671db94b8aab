"""The background task of an uploaded roster import: it runs the real
pipeline, fails clearly, never leaks a file's text to the log, and removes
the uploaded files."""

import logging
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tasks_db.models import DBTaskResult

from core.roster.models import RosterImport, User
from core.roster.uploads import start_import
from tests.conftest import capture_events
from tests.delivery.helpers import run_tasks
from tests.roster.test_views import stored_files

DATA = Path(__file__).resolve().parents[1] / "data"
ONEROSTER = DATA / "oneroster" / "catalyst-v1p1-full"


@pytest.fixture
def storage_dir(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def it_lead(db) -> User:
    """The platform's IT lead: a superuser (the files create schools)."""
    user = User.objects.create_user("nora", password="pw", role="administrator")
    user.is_staff = user.is_superuser = True
    user.save()
    return user


def school_it_lead(org, username="sam") -> User:
    """Staff of ``org`` only, who may add roster imports there."""
    from django.contrib.auth.models import Permission

    user = User.objects.create_user(username, password="pw", role="administrator")
    user.is_staff = True
    user.save()
    user.orgs.add(org)
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="roster", codename="add_rosterimport"
        )
    )
    return user


def oneroster_files() -> list[SimpleUploadedFile]:
    return [
        SimpleUploadedFile(path.name, path.read_bytes())
        for path in sorted(ONEROSTER.iterdir())
    ]


def import_stream_events(captured, roster_import) -> list:
    return [
        envelope
        for envelope in captured
        if envelope.kind == "roster.import"
        and envelope.data["import_id"] == roster_import.pk
    ]


def test_an_uploaded_oneroster_set_is_imported_and_its_files_removed(
    it_lead, storage_dir
):
    roster_import = start_import(
        created_by=it_lead, files=oneroster_files(), dry_run=False
    )
    assert len(stored_files(storage_dir)) == len(list(ONEROSTER.iterdir()))
    with capture_events() as captured:
        assert run_tasks() == 1
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.DONE, roster_import.error
    assert roster_import.finished_at is not None
    counts = roster_import.report["counts"]
    assert counts["person"]["created"] > 0
    assert (
        User.objects.filter(source="oneroster").count() == counts["person"]["created"]
    )
    assert stored_files(storage_dir) == []
    events = import_stream_events(captured, roster_import)
    assert events[-1].op == "done"
    assert {envelope.stream for envelope in events} == {f"user:{it_lead.pk}"}
    assert DBTaskResult.objects.get().return_value == {"status": "done"}


def zipped_oneroster() -> list[SimpleUploadedFile]:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(ONEROSTER.iterdir()):
            archive.write(path, path.name)
    return [SimpleUploadedFile("oneroster.zip", buffer.getvalue())]


def data_files(*names: str | Path) -> list[SimpleUploadedFile]:
    """Uploads of files of ``tests/data`` (or absolute paths)."""
    return [SimpleUploadedFile(Path(n).name, (DATA / n).read_bytes()) for n in names]


# A SIECLE CSV export named with its school's UAI (the SIECLE parser's fixture).
SIECLE_CSV = (
    Path(__file__).parent / "fixtures" / "siecle" / "0350001A_eleves_utf8bom.csv"
)


@pytest.mark.parametrize(
    ("files", "source"),
    [
        (zipped_oneroster, "oneroster"),
        (lambda: data_files(SIECLE_CSV), "siecle"),
        (
            lambda: data_files(
                "aaf/FULL_ENTTSSERVICES_Complet_20130117_EtabEducNat_0000.xml",
                "aaf/FULL_ENTTSSERVICES_Complet_20130117_Eleve_0001.xml",
            ),
            "aaf",
        ),
    ],
    ids=["oneroster-zip", "siecle-csv", "aaf"],
)
def test_each_format_uploaded_is_imported(it_lead, storage_dir, files, source):
    roster_import = start_import(created_by=it_lead, files=files(), dry_run=False)
    run_tasks()
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.DONE, roster_import.error
    assert roster_import.source == source
    created = roster_import.report["counts"]["person"]["created"]
    assert created > 0
    assert User.objects.filter(source=source).count() == created
    assert stored_files(storage_dir) == []


def test_a_dry_run_writes_no_person_but_reports(it_lead, storage_dir):
    before = User.objects.count()
    roster_import = start_import(
        created_by=it_lead, files=oneroster_files(), dry_run=True
    )
    run_tasks()
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.DONE, roster_import.error
    assert roster_import.report["counts"]["person"]["created"] > 0
    assert User.objects.count() == before
    assert stored_files(storage_dir) == []


def test_an_unreadable_file_fails_the_import_with_its_message(it_lead, storage_dir):
    notes = SimpleUploadedFile("notes.txt", "Réunion parents-profs jeudi\n".encode())
    roster_import = start_import(created_by=it_lead, files=[notes], dry_run=False)
    with capture_events() as captured:
        run_tasks()
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.FAILED
    assert "notes.txt" in roster_import.error
    assert roster_import.finished_at is not None
    assert import_stream_events(captured, roster_import)[-1].op == "failed"
    assert stored_files(storage_dir) == []
    assert not User.objects.filter(source__in=["aaf", "siecle", "oneroster"]).exists()


def test_an_unexpected_error_fails_the_import_and_logs_no_personal_data(
    it_lead, storage_dir, monkeypatch, caplog
):
    import core.roster.sync

    def broken(plan, **kwargs):
        # What a database error may say: a value of the file.
        raise RuntimeError("Key (username)=(lea.dubois) INE 12345AB")

    monkeypatch.setattr(core.roster.sync, "apply", broken)
    roster_import = start_import(
        created_by=it_lead, files=oneroster_files(), dry_run=False
    )
    with caplog.at_level(logging.INFO), capture_events() as captured:
        run_tasks()  # raises if the task itself failed
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.FAILED
    assert "RuntimeError" in roster_import.error
    assert "12345AB" not in roster_import.error
    assert "RuntimeError at" in caplog.text and "sync.py" not in caplog.text
    assert "12345AB" not in caplog.text
    result = DBTaskResult.objects.get()
    assert "12345AB" not in (result.traceback or "")
    events = import_stream_events(captured, roster_import)
    assert events[-1].op == "failed"
    assert "12345AB" not in str(events[-1].data)
    assert stored_files(storage_dir) == []


def test_an_import_deleted_while_queued_only_loses_its_files(it_lead, storage_dir):
    roster_import = start_import(
        created_by=it_lead, files=oneroster_files(), dry_run=False
    )
    roster_import.delete()
    run_tasks()
    assert DBTaskResult.objects.get().return_value == {"status": "missing"}
    assert stored_files(storage_dir) == []


def test_a_storage_without_local_paths_is_read_through_copies(
    it_lead, storage_dir, settings
):
    settings.STORAGES = {
        **settings.STORAGES,
        "roster_uploads": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    from core.roster.stored_uploads import upload_storage

    roster_import = start_import(
        created_by=it_lead, files=oneroster_files(), dry_run=True
    )
    storage = upload_storage()
    folder = storage.listdir("roster-imports")[0][0]
    assert len(storage.listdir(f"roster-imports/{folder}")[1]) == len(
        list(ONEROSTER.iterdir())
    )
    run_tasks()
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.DONE, roster_import.error
    assert storage.listdir(f"roster-imports/{folder}")[1] == []
    assert stored_files(storage_dir) == []  # nothing went to MEDIA_ROOT


# An import touches only the uploader's schools (issue 13, finding 2) ----------


def test_staff_of_a_school_imports_their_schools_siecle_export(school, storage_dir):
    lead = school_it_lead(school.org)  # UAI 0350001A, the export's
    roster_import = start_import(
        created_by=lead, files=data_files(SIECLE_CSV), dry_run=False
    )
    run_tasks()
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.DONE, roster_import.error
    assert User.objects.filter(source="siecle").exists()


def test_staff_of_another_school_cannot_import_this_schools_export(school, storage_dir):
    lead = school_it_lead(school.other_org)
    roster_import = start_import(
        created_by=lead, files=data_files(SIECLE_CSV), dry_run=True
    )
    run_tasks()
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.FAILED
    assert "0350001A" in roster_import.error
    assert roster_import.report == {}
    assert not User.objects.filter(source="siecle").exists()


def test_only_a_superuser_imports_files_that_create_schools(school, storage_dir):
    from core.roster.models import Org

    lead = school_it_lead(school.org)
    orgs = Org.objects.count()
    roster_import = start_import(
        created_by=lead,
        files=data_files(
            "aaf/FULL_ENTTSSERVICES_Complet_20130117_EtabEducNat_0000.xml",
            "aaf/FULL_ENTTSSERVICES_Complet_20130117_Eleve_0001.xml",
        ),
        dry_run=False,
    )
    run_tasks()
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.FAILED
    assert "super-administrateur" in roster_import.error
    assert Org.objects.count() == orgs
    assert not User.objects.filter(source="aaf").exists()
