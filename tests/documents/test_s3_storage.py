"""Course documents in an S3-compatible store, as ``compose.yaml`` runs them.

A real local S3 server (``moto_server``, moto's standalone server, in its own
process on a free port) stands in for MinIO; the ``documents`` storage is
django-storages' S3 backend, configured by the same settings as production
(``STORAGES["documents"]``). Upload through the page, versions downloaded
through the access-checked view (streamed from the bucket), deletion
removing the objects: all over HTTP to that server.
"""

import socket
import subprocess
import sys
import time

import boto3
import pytest
from django.core.files.storage import storages
from django.test import Client

from core.documents.models import DocumentVersion, Item
from tests.conftest import login_verified
from tests.documents.conftest import PNG, pdf_bytes, upload

BUCKET = "hub-documents-test"
KEYS = {"access_key": "test-access", "secret_key": "test-secret"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    """``moto_server`` in a subprocess; yields its endpoint URL."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto_server did not start")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def bucket(s3_server, settings, monkeypatch):
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id=KEYS["access_key"],
        aws_secret_access_key=KEYS["secret_key"],
    )
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "default_acl": None,
                "file_overwrite": False,
                "addressing_style": "path",
                **KEYS,
            },
        },
    }
    # The field resolved its storage when the models loaded (production reads
    # STORAGES once, at start): point it at the S3 storage just configured.
    field = DocumentVersion._meta.get_field("file")
    monkeypatch.setattr(field, "storage", storages["documents"])
    yield client
    objects = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    for obj in objects:
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _keys(client) -> set[str]:
    return {
        obj["Key"] for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    }


def test_documents_live_in_the_bucket_and_come_back_only_through_the_view(
    world, bucket, django_capture_on_commit_callbacks
):
    school = world.school
    teacher = login_verified(Client(), school.teacher)
    first = pdf_bytes("Version 1")
    sent = teacher.post(
        f"/documents/class/{school.class_4b.pk}/add/",
        {"kind": "file", "title": "Carte", "file": upload("carte.pdf", first)},
    )
    assert sent.status_code == 302
    item = Item.objects.get()
    teacher.post(
        f"/documents/items/{item.pk}/versions/",
        {"file": upload("carte.png", PNG, "image/png")},
    )
    old, new = item.versions.order_by("pk")
    assert old.file.storage.__class__.__name__ == "S3Storage"
    assert _keys(bucket) == {old.file.name, new.file.name}
    stored = bucket.get_object(Bucket=BUCKET, Key=old.file.name)["Body"].read()
    assert stored == first  # teaching material: stored as sent, not encrypted

    pupil = login_verified(Client(), school.pupil)
    for version, data, mime in [
        (old, first, "application/pdf"),
        (new, PNG, "image/png"),
    ]:
        response = pupil.get(f"/documents/files/{version.pk}/")
        assert response.status_code == 200
        assert response.streaming
        assert b"".join(response.streaming_content) == data
        assert response["Content-Type"] == mime
    outsider = login_verified(Client(), school.pupil3)
    assert outsider.get(f"/documents/files/{old.pk}/").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        assert teacher.post(f"/documents/items/{item.pk}/delete/").status_code == 302
    assert not DocumentVersion.objects.exists()
    assert _keys(bucket) == set()


def test_the_bucket_setting_picks_the_s3_storage():
    """``DOCUMENTS_S3_BUCKET`` (compose.yaml) switches the storage to S3;
    without it documents stay under MEDIA_ROOT."""
    code = (
        "import json, django; django.setup(); from django.conf import settings;"
        "print(json.dumps(settings.STORAGES['documents']))"
    )
    import json
    import os

    def documents_storage(**env) -> dict:
        result = subprocess.run(
            [sys.executable, "-c", code],
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "core.settings_test",
                "DOCUMENTS_S3_BUCKET": "",
                **env,
            },
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(result.stdout.strip().splitlines()[-1])

    s3 = documents_storage(
        DOCUMENTS_S3_BUCKET="documents",
        DOCUMENTS_S3_ENDPOINT_URL="http://s3:9000",
        DOCUMENTS_S3_ACCESS_KEY="hub",
        DOCUMENTS_S3_SECRET_KEY="secret",
    )
    assert s3["BACKEND"] == "storages.backends.s3.S3Storage"
    assert s3["OPTIONS"]["bucket_name"] == "documents"
    assert s3["OPTIONS"]["endpoint_url"] == "http://s3:9000"
    assert s3["OPTIONS"]["default_acl"] is None  # private objects
    disk = documents_storage()
    assert disk["BACKEND"] == "django.core.files.storage.FileSystemStorage"


def test_an_object_missing_from_the_bucket_is_a_clear_404(world, bucket, caplog):
    from core.documents import actions
    from tests.documents.conftest import class_space

    item = actions.add_file(
        space=class_space(world),
        actor=world.school.teacher,
        upload=upload("perdu.pdf", pdf_bytes("perdu")),
        title="Fiche perdue",
    )
    version = item.versions.get()
    bucket.delete_object(Bucket=BUCKET, Key=version.file.name)
    pupil = login_verified(Client(), world.school.pupil)
    with caplog.at_level("ERROR", logger="core.documents.views"):
        response = pupil.get(f"/documents/files/{version.pk}/")
    assert response.status_code == 404
    assert "Fichier indisponible" in response.content.decode()
    assert version.file.name in caplog.text
