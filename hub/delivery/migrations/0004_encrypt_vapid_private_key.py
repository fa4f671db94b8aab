"""The VAPID private key encrypted at rest (a Fernet token, core.crypto).

Same steps as ``0003``: an encrypted column, the existing keys copied into
it, the clear column dropped, the new one renamed.
"""

from django.db import migrations

import core.crypto


def encrypt_keys(apps, schema_editor):
    VapidKey = apps.get_model("delivery", "VapidKey")
    for key in VapidKey.objects.order_by("pk"):
        key.encrypted_private_pem = key.private_pem
        key.save(update_fields=["encrypted_private_pem"])


def decrypt_keys(apps, schema_editor):
    VapidKey = apps.get_model("delivery", "VapidKey")
    for key in VapidKey.objects.order_by("pk"):
        key.private_pem = key.encrypted_private_pem
        key.save(update_fields=["private_pem"])


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0003_encrypt_notification_texts"),
    ]

    operations = [
        migrations.AddField(
            model_name="vapidkey",
            name="encrypted_private_pem",
            field=core.crypto.EncryptedTextField(),
        ),
        migrations.RunPython(encrypt_keys, decrypt_keys),
        migrations.RemoveField(model_name="vapidkey", name="private_pem"),
        migrations.RenameField(
            model_name="vapidkey",
            old_name="encrypted_private_pem",
            new_name="private_pem",
        ),
    ]
