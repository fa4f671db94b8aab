"""Encrypt conversation subjects, report and suspension reasons at rest.

Each text column becomes a Fernet token column (``core.crypto``): a new
column is added, every existing row is encrypted into it, the clear column
is dropped and the new one takes its name. Reports also keep the reported
text (``evidence``); for reports made before, it is the message's current
text (empty if the message is deleted).
"""

from django.db import migrations

CHANGED = [
    ("conversation", "subject"),
    ("report", "reason"),
    ("writesuspension", "reason"),
]
BATCH = 500


def encrypt_rows(apps, schema_editor):
    from core import crypto

    for model_name, field in CHANGED:
        model = apps.get_model("messaging", model_name)
        rows = model.objects.order_by("pk").values_list("pk", field)
        for start in range(0, rows.count(), BATCH):
            batch = list(rows[start : start + BATCH])
            for pk, value in batch:
                model.objects.filter(pk=pk).update(**{f"{field}_encrypted": value})
    Report = apps.get_model("messaging", "Report")
    for report in Report.objects.select_related("message").iterator():
        body = bytes(report.message.body or b"")
        text = crypto.decrypt(body).decode("utf-8") if body else ""
        Report.objects.filter(pk=report.pk).update(evidence=text)


def decrypt_rows(apps, schema_editor):
    for model_name, field in CHANGED:
        model = apps.get_model("messaging", model_name)
        for pk, value in model.objects.values_list("pk", f"{field}_encrypted"):
            model.objects.filter(pk=pk).update(**{field: value})


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_add_encrypted_subjects_and_reasons"),
    ]

    operations = [
        migrations.RunPython(encrypt_rows, decrypt_rows),
    ]
