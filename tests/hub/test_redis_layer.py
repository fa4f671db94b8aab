"""Events and control messages across processes on Redis (runs when ``REDIS_URL`` is set).

A second Redis publisher stands for another ASGI process: what it publishes
must reach sockets served by this one, once.
"""

import pytest
import redis
from channels.db import database_sync_to_async
from django.conf import settings

from tests.hub.helpers import aemit, assert_silent, receive, request, ring

pytestmark = [
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def other_process(monkeypatch):
    """Make commits publish through another Redis connection, as another
    process would."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    monkeypatch.setattr("hub.realtime.publish._publisher", client)
    yield client
    client.close()


async def test_fanout_and_control_channel_are_on_redis(school, sockets):
    from hub.realtime.fanout import fanout_for_running_loop

    await sockets(school.teacher)
    fanout = fanout_for_running_loop()
    assert fanout.redis == settings.REDIS_URL
    assert fanout.control_confirmed
    assert fanout.control.endswith(":control")


async def test_doorbell_from_another_process_reaches_the_socket_once(
    school, sockets, other_process
):
    name = f"class:{school.class_4b.pk}"
    socket = await sockets(school.teacher)
    reply = await request(socket, {"type": "subscribe", "streams": [name]})
    assert reply["type"] == "subscribed"

    (envelope,) = await aemit([name], n=1)
    # The same event published again by yet another process.
    await ring(envelope.frame())

    frame = await receive(socket)
    assert (frame["type"], frame["stream"], frame["offset"]) == ("event", name, 1)
    await assert_silent(socket)


async def test_logout_in_another_process_closes_the_socket(
    school, sockets, other_process
):
    socket = await sockets(school.parent)

    await database_sync_to_async(socket.client.logout)()

    message = await socket.receive_output(timeout=5)
    assert message["type"] == "websocket.send"
    assert (await socket.receive_output(timeout=5))["code"] == 4403
