"""Excuses at rest (issue 13, findings 4 and 5): the guardian's comment, the
reviewer's note and the document (a medical certificate) are encrypted; the
document's stored name says nothing; downloads decrypt and carry the type
found in the content; key rotation covers them all."""

import datetime as dt
import io

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from core import crypto
from core.attendance.actions import review_excuse, take_roll_call
from core.attendance.models import AttendanceRecord, Excuse
from hub.models import Event
from tests.conftest import login_verified, make_occurrence

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
COMMENT = "Léa a la varicelle, certificat du Dr Martin"
NOTE = "Certificat reçu, éviction 10 jours"
DIAGNOSIS = b"Diagnostic: varicelle"
OLD_KEY = "MT1kFVjWzn9hbrZbQQyhH6xFzU5rxT7TeU2XtTxzO1c="  # core.settings_test's


def secrets_in(data: bytes) -> list[str]:
    found = []
    for secret in (COMMENT, NOTE, "varicelle", "Certificat reçu", "%PDF"):
        for encoding in ("utf-8", "latin-1"):
            if secret.encode(encoding, "ignore") in data:
                found.append(secret)
    return found


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def absence(school):
    lesson = make_occurrence(
        school.class_4b,
        timezone.now() - dt.timedelta(minutes=10),
        teachers=[school.teacher],
    )
    take_roll_call(
        occurrence=lesson,
        teacher=school.teacher,
        marks={school.pupil.pk: ("absent", None)},
    )
    return AttendanceRecord.objects.get(student=school.pupil)


def client_of(user) -> Client:
    client = Client()
    login_verified(client, user)
    return client


def excuse_through_the_form(school, absence, name="ordonnance.pdf", data=None):
    response = client_of(school.parent).post(
        f"/absences/{absence.pk}/excuse/",
        {
            "reason": "illness",
            "comment": COMMENT,
            "document": SimpleUploadedFile(name, data or PDF + DIAGNOSIS),
        },
    )
    assert response.status_code == 302
    return Excuse.objects.get()


def raw(column: str) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM attendance_excuse")  # noqa: S608
        (value,) = cursor.fetchone()
    return value.encode() if isinstance(value, str) else bytes(value)


def test_comment_and_note_are_stored_encrypted(school, absence):
    excuse = excuse_through_the_form(school, absence)
    review_excuse(excuse=excuse, reviewer=school.cpe, accept=True, note=NOTE)

    assert secrets_in(raw("comment")) == []
    assert secrets_in(raw("review_note")) == []
    assert crypto.decrypt(raw("comment")).decode() == COMMENT
    assert crypto.decrypt(raw("review_note")).decode() == NOTE
    excuse.refresh_from_db()
    assert (excuse.comment, excuse.review_note) == (COMMENT, NOTE)


def test_the_event_log_holds_no_excuse_text(school, absence):
    excuse = excuse_through_the_form(school, absence)
    review_excuse(excuse=excuse, reviewer=school.cpe, accept=False, note=NOTE)

    payloads = [e.payload for e in Event.objects.filter(kind="attendance.excuse")]
    assert payloads
    assert all(secrets_in(str(p).encode()) == [] for p in payloads)
    assert all("note" not in p and "comment" not in p for p in payloads)


def test_the_document_is_stored_encrypted_under_a_name_that_says_nothing(
    school, absence, media_root
):
    excuse = excuse_through_the_form(school, absence, name="certificat-lea.pdf")
    stored = media_root / excuse.document.name

    assert secrets_in(stored.read_bytes()) == []
    assert crypto.decrypt(stored.read_bytes()) == PDF + DIAGNOSIS
    leaf = excuse.document.name.rsplit("/", 1)[-1]
    assert excuse.document.name.startswith("excuses/")
    assert "." not in leaf and "justificatif" not in leaf and "lea" not in leaf
    files = [p for p in media_root.rglob("*") if p.is_file()]
    assert files == [stored]


def test_the_download_is_decrypted_and_typed_from_its_content(school, absence):
    excuse = excuse_through_the_form(school, absence, name="scan.hta")

    response = client_of(school.cpe).get(f"/absences/excuses/{excuse.pk}/document/")

    assert response.status_code == 200
    assert b"".join(response) == PDF + DIAGNOSIS
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="justificatif.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert "sandbox" in response["Content-Security-Policy"]


def test_an_image_document_shows_inline_as_an_image(school, absence):
    excuse = excuse_through_the_form(school, absence, name="photo.pdf", data=PNG)

    response = client_of(school.parent).get(f"/absences/excuses/{excuse.pk}/document/")

    assert b"".join(response) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="justificatif.png"'


def test_rotation_re_encrypts_comments_notes_and_documents(
    school, absence, settings, media_root, django_capture_on_commit_callbacks
):
    excuse = excuse_through_the_form(school, absence)
    review_excuse(excuse=excuse, reviewer=school.cpe, accept=True, note=NOTE)
    excuse.refresh_from_db()
    old_file = media_root / excuse.document.name
    new_key = Fernet.generate_key().decode()
    settings.MESSAGE_KEYS = [new_key, OLD_KEY]
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("rotate_message_keys", stdout=out)

    assert set(out.getvalue().splitlines()) >= {
        "attendance.Excuse.comment: 1 re-encrypted, 0 already on the first key",
        "attendance.Excuse.review_note: 1 re-encrypted, 0 already on the first key",
        "attendance.Excuse.document files: 1 re-encrypted, 0 already on the first key",
    }
    settings.MESSAGE_KEYS = [new_key]  # the old key is gone
    excuse.refresh_from_db()
    assert (excuse.comment, excuse.review_note) == (COMMENT, NOTE)
    assert not old_file.exists()
    token = (media_root / excuse.document.name).read_bytes()
    assert crypto.decrypt(token) == PDF + DIAGNOSIS
    with pytest.raises(InvalidToken):
        Fernet(OLD_KEY).decrypt(token)
    response = client_of(school.cpe).get(f"/absences/excuses/{excuse.pk}/document/")
    assert b"".join(response) == PDF + DIAGNOSIS


def test_the_admin_shows_the_decrypted_comment(school, absence, django_user_model):
    excuse = excuse_through_the_form(school, absence)
    root = django_user_model.objects.create_superuser("root", password="pw")

    page = client_of(root).get(f"/admin/attendance/excuse/{excuse.pk}/change/")

    assert page.status_code == 200
    assert COMMENT in page.content.decode()
