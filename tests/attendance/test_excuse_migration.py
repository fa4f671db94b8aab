"""The migration that encrypts the excuses stored before issue 13: comments,
notes and documents of existing rows, and the notes the event log held."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from core import crypto
from core.attendance.actions import take_roll_call
from core.attendance.models import AttendanceRecord, Excuse
from hub.models import Event
from tests.conftest import make_occurrence

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("attendance", "0003_verbose_names")
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\nvaricelle"
COMMENT = "Varicelle, certificat joint"
NOTE = "Vu, éviction 10 jours"


def migrate(target: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] == "attendance"]


@pytest.fixture
def record(school):
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


def test_existing_excuses_and_documents_are_encrypted(
    school, record, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    forward = latest()
    try:
        old_apps = migrate([BEFORE])
        OldExcuse = old_apps.get_model("attendance", "Excuse")
        old = OldExcuse(
            record_id=record.pk,
            submitted_by_id=school.parent.pk,
            reason="illness",
            comment=COMMENT,
            review_note=NOTE,
            status="accepted",
            reviewed_by_id=school.cpe.pk,
        )
        old.document.save("justificatif.pdf", ContentFile(PDF), save=False)
        old.save()
        clear_file = tmp_path / old.document.name
        assert clear_file.read_bytes() == PDF
        event = Event.objects.create(
            stream_id=_stream(school.parent),
            offset=1,
            kind="attendance.excuse",
            op="accepted",
            payload={"excuse_id": old.pk, "note": NOTE, "reason": "illness"},
        )
    finally:
        migrate(forward)

    excuse = Excuse.objects.get()
    assert (excuse.comment, excuse.review_note) == (COMMENT, NOTE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT comment, review_note FROM attendance_excuse")
        comment, note = (bytes(value) for value in cursor.fetchone())
    assert crypto.decrypt(comment).decode() == COMMENT
    assert crypto.decrypt(note).decode() == NOTE
    stored = tmp_path / excuse.document.name
    assert crypto.decrypt(stored.read_bytes()) == PDF
    assert "justificatif" not in excuse.document.name
    assert not clear_file.exists()  # removed once the migration committed
    event.refresh_from_db()
    assert event.payload == {"excuse_id": old.pk, "reason": "illness"}


def _stream(user) -> int:
    from hub.models import Stream

    return Stream.objects.create(name=f"test:{user.pk}").pk


def test_the_way_back_decrypts(school, record, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    forward = latest()
    excuse = Excuse(
        record=record,
        submitted_by=school.parent,
        reason="illness",
        comment=COMMENT,
        review_note=NOTE,
    )
    excuse.document.save("x", ContentFile(crypto.encrypt(PDF)), save=False)
    excuse.save()
    try:
        old_apps = migrate([BEFORE])
        old = old_apps.get_model("attendance", "Excuse").objects.get()
        assert (old.comment, old.review_note) == (COMMENT, NOTE)
        assert old.document.name.endswith("/justificatif.pdf")
        assert (tmp_path / old.document.name).read_bytes() == PDF
    finally:
        migrate(forward)
