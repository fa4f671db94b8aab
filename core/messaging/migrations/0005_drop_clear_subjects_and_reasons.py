"""Drop the clear subject and reason columns; the encrypted ones take their names.

Apart from 0003 (which fills the encrypted columns): on PostgreSQL a table
whose rows were just updated cannot be altered in the same transaction.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0004_encrypt_subjects_and_reasons"),
    ]

    operations = [
        migrations.RemoveField(model_name="conversation", name="subject"),
        migrations.RemoveField(model_name="report", name="reason"),
        migrations.RemoveField(model_name="writesuspension", name="reason"),
        migrations.RenameField(
            model_name="conversation", old_name="subject_encrypted", new_name="subject"
        ),
        migrations.RenameField(
            model_name="report", old_name="reason_encrypted", new_name="reason"
        ),
        migrations.RenameField(
            model_name="writesuspension",
            old_name="reason_encrypted",
            new_name="reason",
        ),
    ]
