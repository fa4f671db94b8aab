"""Attachments download under the type found in their content (issue 13,
finding 4): a PDF sent as ``.hta`` downloads as ``.pdf``."""

import pytest
from django.test import Client
from django.utils.http import content_disposition_header

from core.messaging.models import Attachment
from tests.conftest import login_verified
from tests.messaging.helpers import PDF, PNG, start, upload

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    login_verified(client, user)
    return client


def download(school, name: str, data: bytes):
    conversation = start(
        school, school.teacher, [school.parent], uploads=[upload(name, data)]
    )
    attachment = Attachment.objects.get(message__conversation=conversation)
    return client_of(school.parent).get(f"/messages/files/{attachment.pk}/")


@pytest.mark.parametrize(
    ("sent", "offered"),
    [
        ("facture.hta", "facture.pdf"),
        ("facture.pdf.hta", "facture.pdf"),
        ("bulletin.PDF", "bulletin.pdf"),
        ("sans extension", "sans_extension.pdf"),
        ('..\\..\\évil"; x=.pdf', "évil_x.pdf"),
        (".htaccess", "htaccess.pdf"),
        ("...", "fichier.pdf"),
    ],
)
def test_a_file_downloads_with_the_extension_of_its_detected_type(
    school, sent, offered
):
    response = download(school, sent, PDF)

    assert response.status_code == 200
    assert response.content == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Disposition"] == content_disposition_header(True, offered)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_an_image_may_show_inline_sandboxed(school):
    response = download(school, "photo.exe", PNG)

    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="photo.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_the_stored_file_name_says_nothing(school):
    conversation = start(
        school,
        school.teacher,
        [school.parent],
        uploads=[upload("certificat-lea.pdf", PDF)],
    )
    stored = Attachment.objects.get(message__conversation=conversation).file.name

    assert stored.startswith("messages/")
    leaf = stored.rsplit("/", 1)[-1]
    assert "." not in leaf and "certificat" not in leaf and "blob" not in leaf
    assert len(leaf) >= 32
