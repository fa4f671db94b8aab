"""``/api/v1/messaging`` over two schools and a family with a child in each."""

import uuid

from core.messaging.models import Message, Participant
from core.roster.models import GuardianLink
from tests.api.helpers import bearer, token_for

CONVERSATIONS = "/api/v1/messaging/conversations"


def api(user, scopes=("read", "write")):
    return bearer(token_for(user, scopes))


def conversation_ids(user) -> list[int]:
    response = api(user).get(CONVERSATIONS)
    assert response.status_code == 200
    return [row["id"] for row in response.json()["conversations"]]


def reply(user, conversation, body="Merci", **extra):
    return api(user).post(
        f"{CONVERSATIONS}/{conversation.pk}/messages",
        {"body": body, "idempotency_key": extra.pop("key", uuid.uuid4().hex), **extra},
        content_type="application/json",
    )


def test_each_person_lists_exactly_their_conversations(world):
    s = world.school
    assert set(conversation_ids(s.parent)) == {world.convA.pk, world.convB.pk}
    assert conversation_ids(s.teacher) == [world.convA.pk]
    assert conversation_ids(s.outsider) == [world.convB.pk]
    for user in (s.other_parent, s.pupil, s.other_child, s.cpe):
        assert conversation_ids(user) == []
    row = api(s.parent).get(CONVERSATIONS).json()["conversations"][0]
    assert row["unread"] == 1 and row["names"]


def test_messages_are_read_by_participants_only(world):
    s = world.school
    url = f"{CONVERSATIONS}/{world.convA.pk}/messages"
    response = api(s.parent).get(url)
    assert response.status_code == 200
    (message,) = response.json()["messages"]
    assert message["text"] == "Bonjour de A"
    assert message["html"].strip() == "<p>Bonjour de A</p>"
    assert message["sender_id"] == s.teacher.pk and not message["mine"]
    for user in (s.other_parent, s.pupil, s.outsider, s.cpe):
        assert api(user).get(url).status_code == 404


def test_a_reply_is_sent_once_and_marked_read(world):
    s = world.school
    key = uuid.uuid4().hex
    response = reply(s.parent, world.convB, "Merci *beaucoup*", key=key)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mine"] and body["text"] == "Merci *beaucoup*"
    assert "<em>beaucoup</em>" in body["html"]
    assert (
        reply(s.parent, world.convB, "Merci *beaucoup*", key=key).json()["id"]
        == (body["id"])
    )
    conflict = reply(s.parent, world.convB, "Autre chose", key=key)
    assert conflict.status_code == 409
    assert conflict.json()["error"] == "idempotency_conflict"
    assert Message.objects.filter(conversation=world.convB).count() == 2
    read = api(s.outsider).post(
        f"{CONVERSATIONS}/{world.convB.pk}/read",
        {"message_id": 10**15},
        content_type="application/json",
    )
    assert read.status_code == 200
    assert read.json() == {"last_read": body["id"]}
    assert (
        Participant.objects.get(
            conversation=world.convB, user=s.outsider
        ).last_read_message_id
        == body["id"]
    )


def test_bad_replies_are_refused_and_send_nothing(world):
    s = world.school
    empty = reply(s.parent, world.convA, "   ")
    assert empty.status_code == 400 and empty.json()["error"] == "empty"
    assert reply(s.parent, world.convA, "x", key="").status_code == 422
    assert reply(s.other_parent, world.convA).status_code == 404
    assert (
        api(s.parent, ["read"])
        .post(
            f"{CONVERSATIONS}/{world.convA.pk}/messages",
            {"body": "x", "idempotency_key": "k"},
            content_type="application/json",
        )
        .status_code
        == 403
    )
    assert Message.objects.filter(conversation=world.convA).count() == 1


def test_an_ended_guardian_link_ends_the_conversations_of_that_school(world):
    s = world.school
    GuardianLink.objects.get(guardian=s.parent, student=s.other_child).delete()
    assert conversation_ids(s.parent) == [world.convA.pk]
    url = f"{CONVERSATIONS}/{world.convB.pk}/messages"
    assert api(s.parent).get(url).status_code == 404
