"""The migration that encrypts subjects and reasons handles existing rows."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core import crypto

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("messaging", "0001_initial")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest(app: str | None = None) -> list[tuple[str, str]]:
    """The last migration of ``app`` (every app's when None)."""
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    return [node for node in leaves if app in (None, node[0])]


def test_existing_subjects_and_reasons_are_encrypted_in_place(school):
    apps = migrate(BEFORE)
    try:
        Conversation = apps.get_model("messaging", "Conversation")
        Message = apps.get_model("messaging", "Message")
        Report = apps.get_model("messaging", "Report")
        WriteSuspension = apps.get_model("messaging", "WriteSuspension")
        conversation = Conversation.objects.create(
            org_id=school.org.pk,
            subject="Harcèlement de Léa",
            created_by_id=school.teacher.pk,
        )
        message = Message.objects.create(
            conversation=conversation,
            sender_id=school.parent.pk,
            body=crypto.encrypt("Texte signalé"),
            digest="d",
            idempotency_key="k",
        )
        Report.objects.create(
            message=message, reporter_id=school.teacher.pk, reason="menaces"
        )
        WriteSuspension.objects.create(
            user_id=school.parent.pk,
            org_id=school.org.pk,
            reason="insultes répétées",
            created_by_id=school.cpe.pk,
        )
    finally:
        migrate(latest())

    from core.messaging.models import Conversation, Report, WriteSuspension

    assert Conversation.objects.get().subject == "Harcèlement de Léa"
    report = Report.objects.get()
    assert (report.reason, report.evidence) == ("menaces", "Texte signalé")
    assert WriteSuspension.objects.get().reason == "insultes répétées"
    with connection.cursor() as cursor:
        cursor.execute("SELECT subject FROM messaging_conversation")
        (raw,) = cursor.fetchone()
    assert b"Harc" not in bytes(raw)


def test_subjects_already_in_the_stream_log_are_dropped(school):
    apps = migrate(
        [("messaging", "0005_drop_clear_subjects_and_reasons"), *latest("hub")]
    )
    try:
        Stream = apps.get_model("hub", "Stream")
        Event = apps.get_model("hub", "Event")
        stream = Stream.objects.create(name=f"user:{school.parent.pk}")
        Event.objects.create(
            stream=stream,
            offset=1,
            kind="messaging.message",
            op="new",
            payload={"conversation_id": 1, "subject": "Harcèlement de Léa"},
        )
    finally:
        migrate(latest())

    from hub.models import Event

    assert Event.objects.get().payload == {"conversation_id": 1}
