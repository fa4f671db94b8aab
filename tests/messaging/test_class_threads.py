"""Privacy in class-wide messages (issue 13, finding 7).

In a conversation whose replies go to the creator only (a class-wide
message), each family's replies form a private thread with the teacher:
the teacher's answer stays in it, read receipts never name or count other
families, and nothing of it reaches another family's socket.
"""

import datetime as dt
import json
import uuid

import pytest
from channels.db import database_sync_to_async
from django.http import Http404
from django.test import Client

from core.messaging import access, actions
from core.messaging.actions import MessagingError
from tests.conftest import capture_events, login_verified
from tests.hub.helpers import assert_silent, receive, request
from tests.messaging.helpers import send, start

pytestmark = pytest.mark.django_db


def class_message(school, **options):
    """Alice writes to the guardians of 4e B; replies go to her only."""
    return start(
        school,
        school.teacher,
        [school.parent, school.other_parent],
        subject="Sortie au musée",
        body="Autorisation à rendre vendredi",
        reply_policy="sender",
        **options,
    )


def login(user) -> Client:
    client = Client()
    login_verified(client, user)
    return client


def ids(conversation, user) -> list[int]:
    return [m.pk for m in access.messages_of(conversation, user)]


def streams(events) -> set[str]:
    return {event.stream for event in events}


def user_streams(*users) -> set[str]:
    return {f"user:{user.pk}" for user in users}


# The private thread -------------------------------------------------------------


def test_the_teachers_answer_to_a_family_stays_in_that_familys_thread(school):
    conversation = class_message(school)
    (first,) = conversation.messages.all()
    question = send(conversation, school.parent, "Léa peut-elle venir plus tard ?")

    with capture_events() as events:
        answer = send(
            conversation,
            school.teacher,
            "Oui, à 10 h au musée.",
            private_to=school.parent,
        )

    assert ids(conversation, school.parent) == [first.pk, question.pk, answer.pk]
    assert ids(conversation, school.teacher) == [first.pk, question.pk, answer.pk]
    assert ids(conversation, school.other_parent) == [first.pk]
    with pytest.raises(Http404):
        access.get_message_for_user(school.other_parent, answer.pk)
    assert streams(events) == user_streams(school.teacher, school.parent)


def test_the_teacher_still_writes_to_every_family_without_private_to(school):
    conversation = class_message(school)

    message = send(conversation, school.teacher, "Rappel : autorisation")

    assert message.pk in ids(conversation, school.other_parent)


def test_only_the_creator_answers_privately(school):
    conversation = class_message(school)

    with pytest.raises(MessagingError) as refused:
        send(conversation, school.parent, "À Sophie", private_to=school.other_parent)

    assert refused.value.code == "forbidden"


def test_a_private_answer_goes_to_a_participant_only(school):
    conversation = class_message(school)

    with pytest.raises(MessagingError):
        send(conversation, school.teacher, "À Paul", private_to=school.cpe)


def test_a_conversation_where_replies_go_to_all_has_no_private_threads(school):
    conversation = start(
        school, school.teacher, [school.parent, school.other_parent], reply_policy="all"
    )

    with pytest.raises(MessagingError) as refused:
        send(conversation, school.teacher, "À Karim", private_to=school.parent)

    assert refused.value.code == "invalid"


# Read receipts -------------------------------------------------------------------


def test_a_familys_read_position_reaches_the_teacher_only(school):
    conversation = class_message(school)
    (first,) = conversation.messages.all()

    with capture_events() as events:
        actions.mark_read(
            conversation=conversation, user=school.parent, message_id=first.pk
        )

    assert streams(events) == user_streams(school.parent, school.teacher)


def test_the_teachers_read_position_shows_a_family_only_its_own_messages(school):
    conversation = class_message(school)
    (first,) = conversation.messages.all()
    karim_asks = send(conversation, school.parent, "Question de Karim")
    sophie_asks = send(conversation, school.other_parent, "Question de Sophie")

    with capture_events() as events:
        actions.mark_read(
            conversation=conversation, user=school.teacher, message_id=sophie_asks.pk
        )

    seen = {event.stream: event.data["message_id"] for event in events}
    assert seen == {
        f"user:{school.teacher.pk}": sophie_asks.pk,
        f"user:{school.other_parent.pk}": sophie_asks.pk,
        # Karim learns the teacher read his question, not that more was written.
        f"user:{school.parent.pk}": karim_asks.pk,
    }
    assert first.pk < karim_asks.pk


def test_a_familys_page_names_and_counts_no_other_family(school):
    conversation = class_message(school)
    actions.mark_read(
        conversation=conversation,
        user=school.other_parent,
        message_id=conversation.messages.get().pk,
    )
    send(conversation, school.parent, "Merci")

    page = login(school.parent).get(f"/messages/{conversation.pk}/")

    html = page.content.decode()
    data = json.loads(
        html.split('id="conversation-data" type="application/json">')[1].split(
            "</script>"
        )[0]
    )
    assert set(data["positions"]) == {str(school.teacher.pk)}
    assert data["names"] == {str(school.teacher.pk): "Alice Martin"}
    assert "Sophie" not in html
    assert "Lu par 0 sur 1" in html  # Karim's reply, read by the teacher or not


def test_the_creator_sees_who_read_a_class_message(school):
    conversation = class_message(school)
    (first,) = conversation.messages.all()
    actions.mark_read(
        conversation=conversation, user=school.other_parent, message_id=first.pk
    )

    html = login(school.teacher).get(f"/messages/{conversation.pk}/").content.decode()

    assert "Lu par 1 sur 2" in html
    assert "data-readers> · Sophie Petit</span>" in html
    assert '"names": {' in html  # the page's script keeps naming who read


# The reply box says where the reply goes -------------------------------------------


def test_the_family_is_told_its_reply_reaches_the_teacher_only(school):
    conversation = class_message(school)

    html = login(school.parent).get(f"/messages/{conversation.pk}/").content.decode()

    assert "Votre réponse n&#x27;est visible que par l&#x27;enseignant" in html


def test_the_teacher_chooses_a_familys_thread_and_is_told_who_will_see_it(school):
    conversation = class_message(school)
    send(conversation, school.parent, "Question")

    html = login(school.teacher).get(f"/messages/{conversation.pk}/").content.decode()

    assert 'name="private_to"' in html
    assert f'value="{school.parent.pk}"' in html
    assert "Réponse visible uniquement par Karim Dubois" in html


def test_the_reply_endpoint_sends_a_private_answer(school):
    conversation = class_message(school)
    send(conversation, school.parent, "Question")

    answer = login(school.teacher).post(
        f"/messages/{conversation.pk}/api/messages/",
        {
            "body": "Réponse pour Karim",
            "idempotency_key": uuid.uuid4().hex,
            "private_to": str(school.parent.pk),
        },
        HTTP_ACCEPT="application/json",
    )

    assert answer.status_code == 200, answer.content
    message_id = answer.json()["message"]["id"]
    sophie = login(school.other_parent)
    assert (
        sophie.get(
            f"/messages/{conversation.pk}/api/messages/{message_id}/"
        ).status_code
        == 404
    )
    listed = sophie.get(f"/messages/{conversation.pk}/api/messages/").json()
    assert message_id not in [m["id"] for m in listed["messages"]]
    assert (
        "Réponse pour Karim"
        not in sophie.get(f"/messages/{conversation.pk}/").content.decode()
    )


# Sockets: another family hears nothing of a private exchange ---------------------


astart = database_sync_to_async(class_message)
asend = database_sync_to_async(send)
amark_read = database_sync_to_async(actions.mark_read)


async def follow(sockets, user):
    socket = await sockets(user)
    reply = await request(
        socket, {"type": "subscribe", "id": "s", "streams": [f"user:{user.pk}"]}
    )
    assert reply["type"] == "subscribed", reply
    return socket


@pytest.mark.django_db(transaction=True)
async def test_another_familys_socket_receives_nothing_of_a_private_exchange(
    school, sockets
):
    conversation = await astart(school)
    alice = await follow(sockets, school.teacher)
    karim = await follow(sockets, school.parent)
    sophie = await follow(sockets, school.other_parent)

    await karim.send_json_to({"type": "typing", "conversation": conversation.pk})
    assert (await receive(alice))["type"] == "typing"
    question = await asend(conversation, school.parent, "Question privée")
    await alice.send_json_to(
        {"type": "typing", "conversation": conversation.pk, "to": school.parent.pk}
    )
    answer = await asend(
        conversation, school.teacher, "Réponse privée", private_to=school.parent
    )
    await amark_read(
        conversation=conversation, user=school.parent, message_id=answer.pk
    )

    # Karim hears all of it (typing comes apart from the events' order) ...
    events, typing = [], []
    for _ in range(4):
        frame = await receive(karim)
        if frame["type"] == "typing":
            typing.append(frame["user"])
        else:
            events.append((frame["kind"], frame["data"]["message_id"]))
    assert typing == [school.teacher.pk]
    assert events == [
        ("messaging.message", question.pk),
        ("messaging.message", answer.pk),
        ("messaging.read", answer.pk),
    ]
    # ... and Sophie, in the same conversation, nothing.
    await assert_silent(sophie, 0.5)


# The inbox ------------------------------------------------------------------------


def test_another_familys_private_reply_does_not_move_the_conversation_up(school):
    import time_machine
    from django.utils import timezone

    now = timezone.now()
    with time_machine.travel(now - dt.timedelta(hours=2), tick=False):
        conversation = class_message(school)
    with time_machine.travel(now - dt.timedelta(hours=1), tick=False):
        later = start(school, school.teacher, [school.other_parent], subject="Cantine")
    with time_machine.travel(now, tick=False):
        send(conversation, school.parent, "Réponse de Karim")

    sophie = list(access.conversations_for_user(school.other_parent))
    karim = list(access.conversations_for_user(school.parent))

    assert [c.pk for c in sophie] == [later.pk, conversation.pk]
    assert sophie[1].last_visible_at == now - dt.timedelta(hours=2)
    assert karim[0].last_visible_at == now
    row = login(school.other_parent).get(
        f"/messages/api/conversations/{conversation.pk}/"
    )
    assert row.json()["last_message_at"] == (now - dt.timedelta(hours=2)).isoformat()
