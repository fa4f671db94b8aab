"""Add the encrypted columns of subjects and reasons, and the reported text.

0003 fills them from the clear columns and 0004 drops those (three
migrations, three transactions: on PostgreSQL a table whose rows were
updated cannot be altered in the same transaction).
"""

from django.db import migrations

import core.crypto


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0002_attachments_stored_under_random_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="subject_encrypted",
            field=core.crypto.EncryptedTextField(verbose_name="subject"),
        ),
        migrations.AddField(
            model_name="report",
            name="reason_encrypted",
            field=core.crypto.EncryptedTextField(verbose_name="reason"),
        ),
        migrations.AddField(
            model_name="writesuspension",
            name="reason_encrypted",
            field=core.crypto.EncryptedTextField(verbose_name="reason"),
        ),
        migrations.AddField(
            model_name="report",
            name="evidence",
            field=core.crypto.EncryptedTextField(verbose_name="reported text"),
        ),
    ]
