"""Deleting a row deletes its files (issue 13, finding 5): once the deletion
commits, never when it rolls back; for every model with a ``FileField``,
cascades included (``core.files.connect_file_deletion``)."""

import datetime as dt

import pytest
from django.apps import apps
from django.db import transaction
from django.db.models.signals import post_delete
from django.utils import timezone

from core import files
from core.attendance.actions import submit_excuse, take_roll_call
from core.attendance.models import AttendanceRecord, Excuse
from core.messaging.models import Attachment, Conversation, Message
from tests.conftest import make_occurrence
from tests.messaging.helpers import PDF, send, start, upload

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media_root) -> list:
    return sorted(p for p in media_root.rglob("*") if p.is_file())


@pytest.fixture
def excuse(school):
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
    return submit_excuse(
        record=AttendanceRecord.objects.get(student=school.pupil),
        guardian=school.parent,
        reason="illness",
        document=upload("certificat.pdf", PDF),
    )


@pytest.fixture
def conversation(school):
    conversation = start(
        school, school.teacher, [school.parent], uploads=[upload("a.pdf")]
    )
    send(conversation, school.parent, "Merci", uploads=[upload("b.pdf")])
    return conversation


def test_every_model_with_a_file_field_deletes_its_files():
    with_files = [m for m in apps.get_models() if files.file_fields(m)]

    assert {m._meta.label for m in with_files} >= {
        "attendance.Excuse",
        "messaging.Attachment",
    }
    for model in with_files:
        assert post_delete.has_listeners(model), model._meta.label


def test_an_excuse_takes_its_document_along(
    excuse, media_root, django_capture_on_commit_callbacks
):
    assert len(stored_files(media_root)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        excuse.delete()

    assert stored_files(media_root) == []


def test_a_rolled_back_delete_keeps_the_file(
    excuse, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Boom), transaction.atomic():
            Excuse.objects.filter(pk=excuse.pk).delete()
            raise Boom

    assert callbacks == []
    assert len(stored_files(media_root)) == 1
    assert Excuse.objects.filter(pk=excuse.pk).exists()


def test_an_absence_deleted_takes_its_excuses_documents(
    excuse, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        excuse.record.roll_call.occurrence.delete()  # cascades to the excuse

    assert stored_files(media_root) == []


def test_an_attachment_deleted_leaves_storage(
    conversation, media_root, django_capture_on_commit_callbacks
):
    first = Attachment.objects.order_by("pk").first()
    kept = Attachment.objects.order_by("pk").last()

    with django_capture_on_commit_callbacks(execute=True):
        first.delete()

    assert stored_files(media_root) == [media_root / kept.file.name]


def test_a_message_deleted_takes_its_attachments(
    conversation, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        Message.objects.filter(attachments__isnull=False).first().delete()

    assert len(stored_files(media_root)) == 1


def test_a_conversation_deleted_takes_every_file(
    conversation, media_root, django_capture_on_commit_callbacks
):
    assert len(stored_files(media_root)) == 2

    with django_capture_on_commit_callbacks(execute=True):
        Conversation.objects.filter(pk=conversation.pk).delete()

    assert stored_files(media_root) == []
    assert not Attachment.objects.exists()
