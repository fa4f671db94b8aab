"""The data migrations of delivery on rows that existed before them (issue 13):
notifications get their org, their texts and the VAPID private key are
encrypted."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core import crypto

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("delivery", "0001_initial")]


def migrate(targets):
    """Migrate to ``targets``; return the models of every app at that point."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    apps = {app for app, _name in targets}
    others = [leaf for leaf in latest() if leaf[0] not in apps]
    return executor.loader.project_state(targets + others).apps


def latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.fixture
def old_schema():
    """The delivery tables as they were before issue 13; migrated back after."""
    apps = migrate(BEFORE)
    try:
        yield apps
    finally:
        migrate(latest())


def test_existing_notifications_get_their_org_and_encrypted_texts(old_schema):
    apps = old_schema
    Org = apps.get_model("roster", "Org")
    User = apps.get_model("roster", "User")
    Stream = apps.get_model("hub", "Stream")
    Event = apps.get_model("hub", "Event")
    Notification = apps.get_model("delivery", "Notification")
    org = Org.objects.create(name="Collège Victor Hugo", uai="0350001A")
    other = Org.objects.create(name="Collège Jules Verne", uai="0350002B")
    parent = User.objects.create(username="karim", role="guardian")
    stream = Stream.objects.create(name=f"user:{parent.pk}")
    absence = Event.objects.create(
        stream=stream,
        offset=1,
        kind="attendance.record",
        op="recorded",
        payload={"org_id": other.pk, "record_id": 1},
    )
    named = Event.objects.create(
        stream=stream, offset=2, kind="announcement", op="new", payload={}
    )
    old_absence = Notification.objects.create(
        user=parent,
        event=absence,
        category="absence",
        title="Inès Dubois : absence en SVT",
        body="5e C · SVT",
        child_name="Inès Dubois",
        org_name=other.name,
    )
    old_named = Notification.objects.create(
        user=parent,
        event=named,
        category="announcement",
        title="Réunion",
        org_name=org.name,
    )

    apps = migrate(latest())

    from hub.delivery.models import Notification as Current

    assert Current.objects.get(pk=old_absence.pk).org_id == other.pk
    assert Current.objects.get(pk=old_named.pk).org_id == org.pk
    note = Current.objects.get(pk=old_absence.pk)
    assert note.title == "Inès Dubois : absence en SVT"
    assert note.body == "5e C · SVT" and note.child_name == "Inès Dubois"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT title, child_name FROM delivery_notification WHERE id = %s",
            [note.pk],
        )
        title, child = (bytes(v) for v in cursor.fetchone())
    assert b"Dubois" not in title and b"Dubois" not in child
    assert crypto.decrypt(title).decode() == note.title


def test_an_existing_vapid_key_is_encrypted_and_still_signs(old_schema):
    from hub.delivery.vapid import VapidSigner, generate_keypair

    VapidKey = old_schema.get_model("delivery", "VapidKey")
    private_pem, public = generate_keypair()
    old = VapidKey.objects.create(private_pem=private_pem, public_key=public)

    migrate(latest())

    from hub.delivery.models import VapidKey as Current

    key = Current.objects.get(pk=old.pk)
    assert key.private_pem == private_pem
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT private_pem FROM delivery_vapidkey WHERE id = %s", [key.pk]
        )
        (raw,) = cursor.fetchone()
    assert b"PRIVATE KEY" not in bytes(raw)
    assert VapidSigner(key.private_pem, "mailto:ops@example.org").public_key == public
