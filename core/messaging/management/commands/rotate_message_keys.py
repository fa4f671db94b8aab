"""Re-encrypt message text, file names and files with the first key.

Rotation without downtime (docs/messaging.md, "Key rotation"):

1. put a new key first in ``MESSAGE_KEYS`` and keep the old ones after it,
   restart the hub: it encrypts with the new key and still reads the old;
2. run ``manage.py rotate_message_keys`` while the hub serves;
3. drop the old keys from ``MESSAGE_KEYS`` and restart.

Rows go in batches of 500 by id, each batch in its own transaction with its
rows locked (an edit made meanwhile is never overwritten by an older text).
What the first key already encrypts is skipped, so an interrupted run is
simply run again.
"""

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.messaging import crypto
from core.messaging.models import Attachment, Message

BATCH = 500


class Command(BaseCommand):
    help = (
        "Re-encrypt message bodies, attachment names and attachment files "
        "with the first key of MESSAGE_KEYS (safe while the hub serves)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch",
            type=int,
            default=BATCH,
            help=f"rows per transaction (default {BATCH})",
        )

    def handle(self, *args, batch: int, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        crypto.fernet()  # a bad key stops here, before any row is touched
        counts = {"bodies": [0, 0], "names": [0, 0], "files": [0, 0]}
        last = 0
        while True:
            with transaction.atomic():
                rows = list(
                    Message.objects.select_for_update()
                    .filter(pk__gt=last)
                    .exclude(body=b"")
                    .order_by("pk")
                    .only("pk", "body")[:batch]
                )
                for message in rows:
                    if _rotate_field(message, "body", counts["bodies"]):
                        message.save(update_fields=["body"])
            if not rows:
                break
            last = rows[-1].pk
        last = 0
        while True:
            written: list = []  # new files, removed if the batch fails
            try:
                with transaction.atomic():
                    rows = list(
                        Attachment.objects.select_for_update()
                        .filter(pk__gt=last)
                        .order_by("pk")[:batch]
                    )
                    for attachment in rows:
                        changed = _rotate_field(attachment, "name", counts["names"])
                        if _rotate_file(attachment, counts["files"], written):
                            changed = True
                        if changed:
                            attachment.save(update_fields=["name", "file"])
            except BaseException:
                for storage, name in written:
                    storage.delete(name)
                raise
            if not rows:
                break
            last = rows[-1].pk
        for what, (rotated, current) in counts.items():
            self.stdout.write(
                f"{what}: {rotated} re-encrypted, {current} already on the first key"
            )


def _rotate_field(row, field: str, count: list[int]) -> bool:
    """Re-encrypt ``row.<field>`` unless the first key already encrypts it."""
    token = bytes(getattr(row, field))
    if not token:
        return False
    if crypto.is_current(token):
        count[1] += 1
        return False
    setattr(row, field, crypto.rotate(token))
    count[0] += 1
    return True


def _rotate_file(attachment: Attachment, count: list[int], written: list) -> bool:
    """Write the re-encrypted file under a new name; drop the old one on commit.

    Storage has no atomic overwrite, so the row moves to the new file in the
    batch's transaction and readers see either the old file or the new one.
    ``written`` collects ``(storage, name)`` of the new file, for the caller
    to remove if the transaction fails.
    """
    if not attachment.file:
        return False
    with attachment.file.open("rb") as handle:
        token = handle.read()
    if crypto.is_current(token):
        count[1] += 1
        return False
    old_name = attachment.file.name
    storage = attachment.file.storage
    attachment.file.save("blob", ContentFile(crypto.rotate(token)), save=False)
    written.append((storage, attachment.file.name))
    transaction.on_commit(lambda: storage.delete(old_name))
    count[0] += 1
    return True
