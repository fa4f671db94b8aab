"""Step 2: encrypt the existing excuses' comments, notes and documents, and
drop the review notes the excuse events carried in the (clear) event log.

A document already encrypted (a re-run) is left as it is; each clear one is
written encrypted under a random name, and the clear file is deleted once
the migration commits (a failed migration keeps it and its row). Reversible:
the way back decrypts.
"""

from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.db import migrations, transaction

from core import crypto, files


def _is_token(data: bytes) -> bool:
    try:
        crypto.decrypt(data)
    except crypto.InvalidToken:
        return False
    return True


def _delete_on_commit(storage, name: str) -> None:
    transaction.on_commit(lambda: storage.delete(name), robust=True)


def encrypt_excuses(apps, schema_editor):
    Excuse = apps.get_model("attendance", "Excuse")
    for excuse in Excuse.objects.order_by("pk").iterator():
        excuse.comment_encrypted = excuse.comment or ""
        excuse.review_note_encrypted = excuse.review_note or ""
        fields = ["comment_encrypted", "review_note_encrypted"]
        document = excuse.document
        if document and document.name:
            try:
                with document.open("rb") as handle:
                    data = handle.read()
            except FileNotFoundError:
                data = None
            if data is not None and not _is_token(data):
                old = document.name
                document.save("document", files.encrypted(data), save=False)
                _delete_on_commit(document.storage, old)
                fields.append("document")
        excuse.save(update_fields=fields)
    Event = apps.get_model("hub", "Event")
    for event in Event.objects.filter(kind="attendance.excuse").iterator():
        if "note" in event.payload:
            event.payload.pop("note")
            event.save(update_fields=["payload"])


def decrypt_excuses(apps, schema_editor):
    Excuse = apps.get_model("attendance", "Excuse")
    for excuse in Excuse.objects.order_by("pk").iterator():
        excuse.comment = excuse.comment_encrypted
        excuse.review_note = excuse.review_note_encrypted
        fields = ["comment", "review_note"]
        document = excuse.document
        if document and document.name:
            try:
                with document.open("rb") as handle:
                    data = handle.read()
            except FileNotFoundError:
                data = None
            if data is not None and _is_token(data):
                plain = crypto.decrypt(data)
                mime = files.detect(plain) or "application/octet-stream"
                old = document.name
                folder = PurePosixPath(old).parent
                name = document.storage.save(
                    f"{folder}/{files.download_name('justificatif', mime)}",
                    ContentFile(plain),
                )
                excuse.document.name = name
                _delete_on_commit(document.storage, old)
                fields.append("document")
        excuse.save(update_fields=fields)


class Migration(migrations.Migration):
    dependencies = [
        ("attendance", "0004_excuse_encrypted_text_fields"),
        ("hub", "0002_initial"),
    ]

    operations = [migrations.RunPython(encrypt_excuses, decrypt_excuses)]
