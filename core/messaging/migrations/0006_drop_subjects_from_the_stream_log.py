"""Drop conversation subjects from the messaging events already logged.

Subjects are encrypted at rest (0002 to 0004) but the stream log is not: events
written before kept the subject in clear. New events no longer carry it
(``MessageChanged.notice`` reads it from the conversation).
"""

from django.db import migrations

BATCH = 500


def drop_subjects(apps, schema_editor):
    Event = apps.get_model("hub", "Event")
    events = Event.objects.filter(kind="messaging.message").order_by("pk")
    last = 0
    while True:
        batch = list(events.filter(pk__gt=last).only("pk", "payload")[:BATCH])
        if not batch:
            return
        changed = [e for e in batch if e.payload.pop("subject", None) is not None]
        Event.objects.bulk_update(changed, ["payload"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0005_drop_clear_subjects_and_reasons"),
        ("hub", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(drop_subjects, migrations.RunPython.noop),
    ]
