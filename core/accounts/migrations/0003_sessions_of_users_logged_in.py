"""List the sessions already logged in when "Mes appareils" arrives.

Without rows they would be missing from the page, and "log out all devices"
could not end them. With Django's database session engine each live session
is decoded and a row made for the user it logs in (browser and address
unknown: they fill in on the session's next request). Another engine
cannot be listed by user: its sessions appear as they are next used.
"""

from django.conf import settings
from django.db import migrations
from django.utils import timezone


def list_logged_in_sessions(apps, schema_editor):
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return
    from django.contrib.sessions.backends.db import SessionStore

    Session = apps.get_model("sessions", "Session")
    UserSession = apps.get_model("accounts", "UserSession")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    now = timezone.now()
    decoder = SessionStore()
    batch = []
    for key, data in (
        Session.objects.filter(expire_date__gt=now)
        .values_list("session_key", "session_data")
        .iterator(chunk_size=2000)
    ):
        user_id = decoder.decode(data).get("_auth_user_id")
        if user_id is None:
            continue
        batch.append((key, str(user_id)))
    users = set(
        str(pk)
        for pk in User.objects.filter(pk__in={u for _, u in batch}).values_list(
            "pk", flat=True
        )
    )
    UserSession.objects.bulk_create(
        [
            UserSession(
                session_key=key, user_id=user_id, created_at=now, last_activity=now
            )
            for key, user_id in batch
            if user_id in users
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_sessions_and_known_devices"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(list_logged_in_sessions, migrations.RunPython.noop)
    ]
