"""Re-encrypt everything encrypted at rest with the first key.

Rotation without downtime (docs/messaging.md, "Key rotation"):

1. put a new key first in ``MESSAGE_KEYS`` and keep the old ones after it,
   restart the hub: it encrypts with the new key and still reads the old;
2. run ``manage.py rotate_message_keys`` while the hub serves;
3. drop the old keys from ``MESSAGE_KEYS`` and restart.

What is covered is what :mod:`core.crypto` has registered: every
``EncryptedTextField``, every binary field holding a token (message bodies,
attachment names) and every encrypted file field. Rows go in batches by id,
each batch in its own transaction with its rows locked where the database
can (an edit made meanwhile is never overwritten by an older text). What the
first key already encrypts is skipped, so an interrupted run is simply run
again.
"""

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from core import crypto

BATCH = 500


class Command(BaseCommand):
    help = (
        "Re-encrypt every field and file encrypted at rest (message bodies, "
        "attachments, excuses, notifications…) with the first key of "
        "MESSAGE_KEYS (safe while the hub serves)."
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
        for model, field in crypto.token_fields():
            rotated, current = _rotate_tokens(model, field, batch)
            self._report(model, field, rotated, current)
        for model, field in crypto.file_fields():
            rotated, current = _rotate_files(model, field, batch)
            self._report(model, field, rotated, current, files=True)

    def _report(self, model, field, rotated, current, files=False):
        what = f"{model._meta.label}.{field}{' files' if files else ''}"
        self.stdout.write(
            f"{what}: {rotated} re-encrypted, {current} already on the first key"
        )


def _rotate_tokens(model, field: str, batch: int) -> tuple[int, int]:
    """Re-encrypt the tokens of one column, reading and writing raw bytes.

    Raw SQL so that a field which decrypts on load (``EncryptedTextField``)
    is handled like a plain binary column.
    """
    quote = connection.ops.quote_name
    column = quote(model._meta.get_field(field).column)
    pk = quote(model._meta.pk.column)
    table = quote(model._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    rotated = current = 0
    last = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk}, {column} FROM {table} WHERE {pk} > %s "
                f"ORDER BY {pk} LIMIT %s{lock}",
                [last, batch],
            )
            rows = cursor.fetchall()
            for row_pk, value in rows:
                token = bytes(value) if value is not None else b""
                if not token:
                    continue
                if crypto.is_current(token):
                    current += 1
                    continue
                cursor.execute(
                    f"UPDATE {table} SET {column} = %s WHERE {pk} = %s",
                    [crypto.rotate(token), row_pk],
                )
                rotated += 1
        if not rows:
            return rotated, current
        last = rows[-1][0]


def _rotate_files(model, field: str, batch: int) -> tuple[int, int]:
    """Re-encrypt the files of one file field, a batch per transaction."""
    count = [0, 0]
    last = 0
    while True:
        written: list = []  # new files, removed if the batch fails
        try:
            with transaction.atomic():
                rows = list(
                    model.objects.select_for_update()
                    .filter(pk__gt=last)
                    .exclude(**{field: ""})
                    .order_by("pk")
                    .only("pk", field)[:batch]
                )
                for row in rows:
                    if _rotate_file(row, field, count, written):
                        row.save(update_fields=[field])
        except BaseException:
            for storage, name in written:
                storage.delete(name)
            raise
        if not rows:
            return count[0], count[1]
        last = rows[-1].pk


def _rotate_file(row, field: str, count: list[int], written: list) -> bool:
    """Write the re-encrypted file under a new name; drop the old one on commit.

    Storage has no atomic overwrite, so the row moves to the new file in the
    batch's transaction and readers see either the old file or the new one.
    ``written`` collects ``(storage, name)`` of the new file, for the caller
    to remove if the transaction fails.
    """
    file = getattr(row, field)
    if not file:
        return False
    with file.open("rb") as handle:
        token = handle.read()
    if crypto.is_current(token):
        count[1] += 1
        return False
    old_name = file.name
    storage = file.storage
    file.save("blob", ContentFile(crypto.rotate(token)), save=False)
    written.append((storage, file.name))
    transaction.on_commit(lambda: storage.delete(old_name))
    count[0] += 1
    return True
