"""Step 3: the clear columns go; the encrypted ones take their names."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("attendance", "0005_encrypt_existing_excuses"),
    ]

    operations = [
        migrations.RemoveField(model_name="excuse", name="comment"),
        migrations.RemoveField(model_name="excuse", name="review_note"),
        migrations.RenameField(
            model_name="excuse", old_name="comment_encrypted", new_name="comment"
        ),
        migrations.RenameField(
            model_name="excuse",
            old_name="review_note_encrypted",
            new_name="review_note",
        ),
    ]
