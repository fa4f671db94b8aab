"""Notification texts (title, body, child's name) encrypted at rest.

A text column cannot be turned into a token in place, so: new encrypted
columns, every existing row copied into them (encrypted with the current
key of ``settings.MESSAGE_KEYS``), the clear columns dropped, the new ones
renamed. ``manage.py rotate_message_keys`` covers them from then on.
"""

from django.db import migrations

import core.crypto

FIELDS = ("title", "body", "child_name")
BATCH = 500


def encrypt_rows(apps, schema_editor):
    Notification = apps.get_model("delivery", "Notification")
    rows = Notification.objects.only("pk", *FIELDS).order_by("pk")
    batch = []
    for note in rows.iterator(chunk_size=BATCH):
        for name in FIELDS:
            setattr(note, f"encrypted_{name}", getattr(note, name) or "")
        batch.append(note)
        if len(batch) >= BATCH:
            Notification.objects.bulk_update(batch, [f"encrypted_{n}" for n in FIELDS])
            batch = []
    Notification.objects.bulk_update(batch, [f"encrypted_{n}" for n in FIELDS])


def decrypt_rows(apps, schema_editor):
    Notification = apps.get_model("delivery", "Notification")
    rows = Notification.objects.order_by("pk")
    for note in rows.iterator(chunk_size=BATCH):
        for name in FIELDS:
            setattr(note, name, getattr(note, f"encrypted_{name}")[:200])
        note.save(update_fields=list(FIELDS))


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0002_notification_org"),
    ]

    operations = [
        *[
            migrations.AddField(
                model_name="notification",
                name=f"encrypted_{name}",
                field=core.crypto.EncryptedTextField(),
            )
            for name in FIELDS
        ],
        migrations.RunPython(encrypt_rows, decrypt_rows),
        *[
            migrations.RemoveField(model_name="notification", name=name)
            for name in FIELDS
        ],
        *[
            migrations.RenameField(
                model_name="notification", old_name=f"encrypted_{name}", new_name=name
            )
            for name in FIELDS
        ],
    ]
