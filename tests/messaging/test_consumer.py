"""Messaging live, through the real ASGI stack: new messages on the
participants' ``user:<id>`` streams, typing relays, read receipts."""

import pytest
from channels.db import database_sync_to_async

from core.messaging import actions
from core.messaging.models import MessagingPolicy
from hub.models import Event
from tests.hub.helpers import assert_silent, receive, request
from tests.messaging.helpers import send, start

pytestmark = pytest.mark.django_db(transaction=True)

astart = database_sync_to_async(start)
asend = database_sync_to_async(send)
amark_read = database_sync_to_async(actions.mark_read)


@database_sync_to_async
def event_count() -> int:
    return Event.objects.count()


async def follow_own_stream(socket) -> None:
    """Subscribe the socket to its user's personal stream."""
    name = f"user:{socket.hello['user']}"
    reply = await request(socket, {"type": "subscribe", "id": "s", "streams": [name]})
    assert reply["type"] == "subscribed", reply


async def connect(sockets, *users):
    result = []
    for user in users:
        socket = await sockets(user)
        await follow_own_stream(socket)
        result.append(socket)
    return result


async def event_of(socket) -> dict:
    frame = await receive(socket)
    assert frame["type"] == "event", frame
    return frame


# New messages -----------------------------------------------------------------


async def test_a_new_message_reaches_every_participant_and_no_one_else(school, sockets):
    alice, karim, sophie, paul = await connect(
        sockets, school.teacher, school.parent, school.other_parent, school.cpe
    )
    conversation = await astart(
        school, school.teacher, [school.parent, school.other_parent]
    )
    (message,) = [m async for m in conversation.messages.all()]

    for socket, user in ((alice, school.teacher), (karim, school.parent)):
        frame = await event_of(socket)
        assert frame["stream"] == f"user:{user.pk}"
        assert (frame["kind"], frame["op"]) == ("messaging.message", "new")
        assert frame["data"] == {
            "conversation_id": conversation.pk,
            "message_id": message.pk,
            "sender_id": school.teacher.pk,
            "sender_name": "Alice Martin",
            "silent": False,
            "org_id": school.org.pk,
        }
    assert (await event_of(sophie))["data"]["message_id"] == message.pk
    await assert_silent(paul)

    reply = await asend(conversation, school.parent, "Je viens")

    for socket in (alice, karim, sophie):
        assert (await event_of(socket))["data"]["message_id"] == reply.pk
    await assert_silent(paul)


async def test_every_device_of_a_participant_gets_the_message(school, sockets):
    phone, laptop = await connect(sockets, school.parent, school.parent)

    conversation = await astart(school, school.teacher, [school.parent])

    for socket in (phone, laptop):
        frame = await event_of(socket)
        assert frame["data"]["conversation_id"] == conversation.pk


async def test_a_sender_only_reply_reaches_only_the_creator_and_its_author(
    school, sockets
):
    conversation = await astart(
        school,
        school.teacher,
        [school.parent, school.other_parent],
        reply_policy="sender",
    )
    alice, karim, sophie = await connect(
        sockets, school.teacher, school.parent, school.other_parent
    )

    reply = await asend(conversation, school.parent, "Pour vous seulement")

    assert (await event_of(alice))["data"]["message_id"] == reply.pk
    assert (await event_of(karim))["data"]["message_id"] == reply.pk
    await assert_silent(sophie)


async def test_the_event_frame_carries_no_message_text(school, sockets):
    (karim,) = await connect(sockets, school.parent)

    await astart(school, school.teacher, [school.parent], body="Texte confidentiel")

    frame = await event_of(karim)
    assert "confidentiel" not in str(frame)


# Typing -----------------------------------------------------------------------


async def test_typing_is_relayed_to_the_other_participants_only(school, sockets):
    conversation = await astart(
        school, school.teacher, [school.parent, school.other_parent]
    )
    alice, karim, sophie, paul = [
        await sockets(user)
        for user in (school.teacher, school.parent, school.other_parent, school.cpe)
    ]
    stored = await event_count()

    await alice.send_json_to({"type": "typing", "conversation": conversation.pk})

    expected = {
        "type": "typing",
        "conversation": conversation.pk,
        "user": school.teacher.pk,
        "name": "Alice Martin",
    }
    assert await receive(karim) == expected
    assert await receive(sophie) == expected
    await assert_silent(alice)
    await assert_silent(paul)
    assert await event_count() == stored  # nothing stored


async def test_typing_of_a_sender_only_reply_reaches_only_the_creator(school, sockets):
    conversation = await astart(
        school,
        school.teacher,
        [school.parent, school.other_parent],
        reply_policy="sender",
    )
    alice, karim, sophie = [
        await sockets(user)
        for user in (school.teacher, school.parent, school.other_parent)
    ]

    await karim.send_json_to({"type": "typing", "conversation": conversation.pk})

    assert (await receive(alice))["user"] == school.parent.pk
    await assert_silent(sophie)  # never learns another family is answering


async def test_typing_where_replies_are_closed_reaches_no_one(school, sockets):
    conversation = await astart(
        school,
        school.teacher,
        [school.parent, school.other_parent],
        reply_policy="none",
    )
    alice, karim, sophie = [
        await sockets(user)
        for user in (school.teacher, school.parent, school.other_parent)
    ]

    await karim.send_json_to({"type": "typing", "conversation": conversation.pk})

    await assert_silent(alice)
    await assert_silent(sophie)
    await assert_silent(karim)


async def test_typing_is_throttled_to_one_relay_every_2_seconds(school, sockets):
    conversation = await astart(school, school.teacher, [school.parent])
    alice, karim = await sockets(school.teacher), await sockets(school.parent)

    await alice.send_json_to({"type": "typing", "conversation": conversation.pk})
    await alice.send_json_to({"type": "typing", "conversation": conversation.pk})

    assert (await receive(karim))["type"] == "typing"
    await assert_silent(karim, 0.5)
    await assert_silent(alice)  # dropped silently, no error either


async def test_typing_is_relayed_again_after_the_interval(school, sockets, monkeypatch):
    monkeypatch.setattr("hub.realtime.frames.EPHEMERAL_INTERVAL", 0.2)
    conversation = await astart(school, school.teacher, [school.parent])
    alice, karim = await sockets(school.teacher), await sockets(school.parent)

    await alice.send_json_to({"type": "typing", "conversation": conversation.pk})
    assert (await receive(karim))["type"] == "typing"
    await assert_silent(karim, 0.3)
    await alice.send_json_to({"type": "typing", "conversation": conversation.pk})

    assert (await receive(karim))["type"] == "typing"


async def test_typing_in_a_conversation_one_is_not_in_is_forbidden(school, sockets):
    conversation = await astart(school, school.teacher, [school.parent])
    sophie, karim = await sockets(school.other_parent), await sockets(school.parent)

    reply = await request(
        sophie, {"type": "typing", "id": "t1", "conversation": conversation.pk}
    )

    assert reply["type"] == "error"
    assert (reply["code"], reply["id"]) == ("forbidden", "t1")
    await assert_silent(karim)


@pytest.mark.parametrize(
    "conversation",
    ["1", None, True, 1.0, -1, 0, 10**6, 2**63, 10**30, [1], {"id": 1}, "missing"],
)
async def test_typing_with_a_bad_conversation_id_is_forbidden(
    school, sockets, conversation
):
    await astart(school, school.teacher, [school.parent])
    alice, karim = await sockets(school.teacher), await sockets(school.parent)
    frame = {"type": "typing", "id": "t"}
    if conversation != "missing":
        frame["conversation"] = conversation

    reply = await request(alice, frame)

    assert (reply["type"], reply["code"], reply["id"]) == ("error", "forbidden", "t")
    await assert_silent(karim)
    assert await request(alice, {"type": "ping", "id": "p"}) == {
        "type": "pong",
        "id": "p",
    }


# Read receipts ----------------------------------------------------------------


async def test_mark_read_tells_every_participant(school, sockets):
    conversation = await astart(school, school.teacher, [school.parent])
    (message,) = [m async for m in conversation.messages.all()]
    alice, karim = await connect(sockets, school.teacher, school.parent)

    await amark_read(
        conversation=conversation, user=school.parent, message_id=message.pk
    )

    for socket in (alice, karim):
        frame = await event_of(socket)
        assert (frame["kind"], frame["op"]) == ("messaging.read", "read")
        assert frame["data"] == {
            "conversation_id": conversation.pk,
            "user_id": school.parent.pk,
            "message_id": message.pk,
        }


async def test_without_read_receipts_only_the_reader_hears_of_it(school, sockets):
    await database_sync_to_async(MessagingPolicy.objects.create)(
        org=school.org, read_receipts=False
    )
    conversation = await astart(school, school.teacher, [school.parent])
    (message,) = [m async for m in conversation.messages.all()]
    alice, karim = await connect(sockets, school.teacher, school.parent)

    await amark_read(
        conversation=conversation, user=school.parent, message_id=message.pk
    )

    frame = await event_of(karim)
    assert frame["kind"] == "messaging.read"
    await assert_silent(alice)
