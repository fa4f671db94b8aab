"""The ``seen`` frame: a visible tab tells the hub what it showed, so the push
for it is dropped (docs/protocol.md)."""

import datetime as dt

import pytest
from channels.db import database_sync_to_async

from core.attendance.actions import take_roll_call
from hub.delivery.models import Notification
from hub.delivery.planning import plan_event
from hub.models import Event
from tests.conftest import make_occurrence
from tests.hub.helpers import receive

pytestmark = pytest.mark.django_db(transaction=True)


def absence(school) -> Event:
    now = dt.datetime.now(dt.UTC)
    occurrence = make_occurrence(school.class_4b, now - dt.timedelta(minutes=5))
    take_roll_call(
        occurrence=occurrence,
        teacher=school.teacher,
        marks={school.pupil.pk: ("absent", None)},
        now=now,
    )
    event = Event.objects.get(
        kind="attendance.record", stream__name=f"user:{school.parent.pk}"
    )
    plan_event(event.pk)
    return event


def seen_at(user, event):
    return Notification.objects.get(user=user, event=event).seen_at


async def test_seen_marks_the_notification_of_a_followed_stream(school, sockets):
    socket = await sockets(school.parent)
    stream = f"user:{school.parent.pk}"
    await socket.send_json_to({"type": "subscribe", "id": "s", "streams": [stream]})
    assert (await receive(socket))["type"] == "subscribed"
    event = await database_sync_to_async(absence)(school)
    assert (await receive(socket))["type"] == "event"

    await socket.send_json_to(
        {"type": "seen", "stream": stream, "offsets": [event.offset, "x", -3]}
    )
    await socket.send_json_to({"type": "ping", "id": "p"})
    assert (await receive(socket)) == {"type": "pong", "id": "p"}
    assert await database_sync_to_async(seen_at)(school.parent, event) is not None


async def test_seen_for_a_stream_not_followed_is_an_error_and_marks_nothing(
    school, sockets
):
    socket = await sockets(school.other_parent)
    event = await database_sync_to_async(absence)(school)
    await socket.send_json_to(
        {
            "type": "seen",
            "stream": f"user:{school.parent.pk}",
            "offsets": [event.offset],
        }
    )
    frame = await receive(socket)
    assert (frame["type"], frame["code"]) == ("error", "bad_seen")
    assert await database_sync_to_async(seen_at)(school.parent, event) is None
    await socket.send_json_to({"type": "seen", "stream": 5, "offsets": "all"})
    assert (await receive(socket))["code"] == "bad_seen"
    await socket.send_json_to({"type": "ping", "id": "still-open"})
    assert (await receive(socket)) == {"type": "pong", "id": "still-open"}
