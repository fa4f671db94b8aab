"""Uploaded rosters while they wait for their task (issue 13): encrypted in
storage, decrypted only into a private temporary folder the task removes,
and gone with their import's row."""

import io
import tempfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core import crypto
from core.roster.models import RosterImport, User
from core.roster.uploads import start_import
from tests.delivery.helpers import run_tasks
from tests.roster.test_views import stored_files

DATA = Path(__file__).resolve().parents[1] / "data"
ONEROSTER = DATA / "oneroster" / "catalyst-v1p1-full"
# Personal data of the OneRoster sample (users.csv).
PERSONAL = [b"mary.jones", b"Mary", b"6031234567", b"thomas.jones@testemail.com"]


@pytest.fixture
def storage_dir(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def scratch(monkeypatch, tmp_path) -> Path:
    """Where temporary files and folders go during the test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def it_lead(db) -> User:
    # A superuser: the OneRoster sample creates its schools (only superusers may).
    return User.objects.create_superuser("nora", password="pw", role="administrator")


def oneroster_files() -> list[SimpleUploadedFile]:
    return [
        SimpleUploadedFile(path.name, path.read_bytes())
        for path in sorted(ONEROSTER.iterdir())
    ]


def test_a_queued_roster_is_stored_encrypted(it_lead, storage_dir, scratch):
    start_import(created_by=it_lead, files=oneroster_files(), dry_run=True)

    stored = stored_files(storage_dir)
    assert len(stored) == len(list(ONEROSTER.iterdir()))
    for path in stored:
        data = path.read_bytes()
        assert not [word for word in PERSONAL if word in data], path.name
        plain = io.BytesIO()
        crypto.decrypt_stream(io.BytesIO(data), plain)
        assert plain.getvalue() == (ONEROSTER / path.name).read_bytes()
    assert stored_files(scratch) == []  # no clear copy left behind


def test_the_task_reads_clear_copies_only_in_a_folder_it_removes(
    it_lead, storage_dir, scratch
):
    roster_import = start_import(
        created_by=it_lead, files=oneroster_files(), dry_run=False
    )

    assert run_tasks() == 1

    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.DONE, roster_import.error
    assert roster_import.report["counts"]["person"]["created"] > 0
    assert stored_files(storage_dir) == []
    assert list(scratch.iterdir()) == []


def test_a_deleted_import_takes_its_queued_files_along(
    it_lead, storage_dir, django_capture_on_commit_callbacks
):
    roster_import = start_import(
        created_by=it_lead, files=oneroster_files(), dry_run=False
    )
    other = start_import(created_by=it_lead, files=oneroster_files()[:1], dry_run=True)
    assert stored_files(storage_dir)

    with django_capture_on_commit_callbacks(execute=True):
        roster_import.delete()

    remaining = stored_files(storage_dir)
    assert len(remaining) == 1
    assert remaining[0].parent.name.startswith(f"{other.pk}-")


@pytest.mark.parametrize("size", [0, 1, 5, 16, 17, 100])
def test_streams_encrypt_by_chunks_and_decrypt_back(size):
    plain = bytes(range(256)) * 4
    plain = plain[: size * 7]
    encrypted = io.BytesIO()

    crypto.encrypt_stream(io.BytesIO(plain), encrypted, chunk_size=16)

    assert plain[:16] not in encrypted.getvalue() or not plain
    back = io.BytesIO()
    crypto.decrypt_stream(io.BytesIO(encrypted.getvalue()), back)
    assert back.getvalue() == plain
