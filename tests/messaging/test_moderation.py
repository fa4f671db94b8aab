"""Moderation cannot be sidestepped (issue 13, finding 6).

A suspended writer may neither edit nor send typing frames; a message with
an open report can be neither edited nor deleted, and the report keeps the
text as it was when reported (encrypted); edits spend the send bucket.
"""

import datetime as dt

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.db import connection
from django.utils import timezone

from core.messaging import actions
from core.messaging.actions import MessagingError, RateLimited
from core.messaging.models import Report, WriteSuspension
from tests.conftest import capture_events, login_verified
from tests.hub.helpers import assert_silent, request
from tests.messaging.helpers import IP, send, start

pytestmark = pytest.mark.django_db


def suspend(school, user, days=7):
    return actions.suspend_writer(
        user=user,
        org=school.org,
        moderator=school.cpe,
        until=timezone.now() + dt.timedelta(days=days),
        reason="propos injurieux envers l'équipe",
        ip=IP,
    )


def text_of(message) -> str:
    message.refresh_from_db()
    from core import crypto

    return crypto.decrypt(message.body).decode()


# Suspended writers -------------------------------------------------------------


def test_a_suspended_writer_may_not_edit_their_messages(school):
    conversation = start(school, school.teacher, [school.parent])
    reply = send(conversation, school.parent, "Premier jet")
    suspend(school, school.parent)

    with pytest.raises(MessagingError) as refused, capture_events() as events:
        actions.edit_message(message=reply, editor=school.parent, body="Autre chose")

    assert refused.value.code == "suspended"
    assert text_of(reply) == "Premier jet"
    assert reply.edited_at is None
    assert events == []


def test_a_suspended_writer_edits_again_once_the_suspension_ends(school):
    conversation = start(school, school.teacher, [school.parent])
    reply = send(conversation, school.parent, "Premier jet")
    WriteSuspension.objects.create(
        user=school.parent,
        org=school.org,
        until=timezone.now() - dt.timedelta(seconds=1),
        created_by=school.cpe,
    )

    actions.edit_message(message=reply, editor=school.parent, body="Corrigé")

    assert text_of(reply) == "Corrigé"


# Reported messages ---------------------------------------------------------------


def test_a_reported_message_may_not_be_edited_while_the_report_is_open(school):
    conversation = start(school, school.teacher, [school.parent])
    reply = send(conversation, school.parent, "Propos déplacés")
    actions.report_message(message=reply, reporter=school.teacher, reason="insultes")

    with pytest.raises(MessagingError) as refused, capture_events() as events:
        actions.edit_message(message=reply, editor=school.parent, body="Rien dit")

    assert refused.value.code == "reported"
    assert text_of(reply) == "Propos déplacés"
    assert events == []


@pytest.mark.parametrize("actor", ["parent", "cpe"])
def test_a_reported_message_may_not_be_deleted_while_the_report_is_open(school, actor):
    conversation = start(school, school.teacher, [school.parent])
    reply = send(conversation, school.parent, "Propos déplacés")
    actions.report_message(message=reply, reporter=school.teacher, reason="insultes")

    with pytest.raises(MessagingError) as refused:
        actions.delete_message(message=reply, actor=getattr(school, actor))

    assert refused.value.code == "reported"
    reply.refresh_from_db()
    assert reply.deleted_at is None
    assert text_of(reply) == "Propos déplacés"


def test_once_the_report_is_dismissed_the_author_may_edit_and_delete_again(school):
    conversation = start(school, school.teacher, [school.parent])
    reply = send(conversation, school.parent, "Propos maladroits")
    report = actions.report_message(
        message=reply, reporter=school.teacher, reason="ton"
    )
    actions.moderate_report(report=report, moderator=school.cpe, hide=False)

    actions.edit_message(message=reply, editor=school.parent, body="Pardon")
    actions.delete_message(message=reply, actor=school.parent)

    reply.refresh_from_db()
    assert reply.deleted_at is not None


def test_the_report_keeps_the_reported_text_encrypted_as_evidence(school):
    conversation = start(school, school.teacher, [school.parent])
    reply = send(conversation, school.parent, "Menace explicite")

    report = actions.report_message(
        message=reply, reporter=school.teacher, reason="menace envers un élève"
    )

    report.refresh_from_db()
    assert report.evidence == "Menace explicite"
    assert report.reason == "menace envers un élève"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT evidence, reason FROM messaging_report WHERE id = %s", [report.pk]
        )
        evidence, reason = (bytes(value) for value in cursor.fetchone())
    assert b"Menace" not in evidence and b"menace" not in reason
    # What the moderators read is the evidence, whatever happens afterwards.
    report.message.hidden_at = timezone.now()
    report.message.save()
    assert Report.objects.get(pk=report.pk).evidence == "Menace explicite"


def test_the_moderation_page_shows_the_evidence(school, client):
    conversation = start(school, school.teacher, [school.parent])
    reply = send(conversation, school.parent, "Texte signalé")
    actions.report_message(message=reply, reporter=school.teacher, reason="menace")
    login_verified(client, school.cpe)

    page = client.get("/messages/moderation/").content.decode()

    assert "Texte signalé" in page
    assert "menace" in page


def test_the_edit_endpoint_answers_reported_with_403(school, client):
    conversation = start(school, school.teacher, [school.parent])
    reply = send(conversation, school.parent, "Propos déplacés")
    actions.report_message(message=reply, reporter=school.teacher, reason="insultes")
    login_verified(client, school.parent)

    response = client.post(
        f"/messages/{conversation.pk}/api/messages/{reply.pk}/edit/",
        {"body": "Rien dit"},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 403
    assert response.json()["error"] == "reported"


# Edits are rate-limited like sends -------------------------------------------


def test_edits_spend_the_send_bucket(school):
    with time_machine.travel(timezone.now() - dt.timedelta(minutes=10), tick=False):
        conversation = start(school, school.teacher, [school.parent])
    with time_machine.travel(timezone.now(), tick=False) as clock:
        message = send(conversation, school.parent, "v0")
        for n in range(1, 5):  # the send took 1 token of 5
            actions.edit_message(message=message, editor=school.parent, body=f"v{n}")

        with pytest.raises(RateLimited) as refused:
            actions.edit_message(message=message, editor=school.parent, body="v5")
        with pytest.raises(RateLimited):
            send(conversation, school.parent, "encore")

        assert refused.value.code == "rate_limited"
        assert text_of(message) == "v4"
        clock.shift(3)
        actions.edit_message(message=message, editor=school.parent, body="v5")
    assert text_of(message) == "v5"


# Typing frames of a suspended writer -------------------------------------------


astart = database_sync_to_async(start)
asuspend = database_sync_to_async(suspend)


@pytest.mark.django_db(transaction=True)
async def test_a_suspended_writer_gets_an_error_frame_for_typing(school, sockets):
    conversation = await astart(school, school.teacher, [school.parent])
    await asuspend(school, school.parent)
    karim, alice = await sockets(school.parent), await sockets(school.teacher)

    reply = await request(
        karim, {"type": "typing", "id": "t1", "conversation": conversation.pk}
    )

    assert (reply["type"], reply["code"], reply["id"]) == ("error", "suspended", "t1")
    await assert_silent(alice)
    # The socket keeps serving.
    assert await request(karim, {"type": "ping", "id": "p"}) == {
        "type": "pong",
        "id": "p",
    }
