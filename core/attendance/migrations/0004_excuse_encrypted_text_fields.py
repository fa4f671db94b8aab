"""Step 1 of encrypting excuses at rest: encrypted columns next to the clear
ones, and documents stored under random names (``core.files``)."""

import core.crypto
import core.files
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("attendance", "0003_verbose_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="excuse",
            name="comment_encrypted",
            field=core.crypto.EncryptedTextField(verbose_name="comment"),
        ),
        migrations.AddField(
            model_name="excuse",
            name="review_note_encrypted",
            field=core.crypto.EncryptedTextField(verbose_name="note"),
        ),
        migrations.AlterField(
            model_name="excuse",
            name="document",
            field=models.FileField(
                blank=True,
                upload_to=core.files.RandomName("excuses"),
                verbose_name="document",
            ),
        ),
    ]
