"""Events and control messages across processes on Redis (runs when ``REDIS_URL`` is set).

A second layer object built from the same settings stands for another ASGI
process: what it rings must reach sockets served by this one, once.
"""

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from django.conf import settings

from tests.hub.helpers import aemit, assert_silent, receive, request, ring

pytestmark = [
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def other_process(monkeypatch):
    """Make commits ring through another layer object, as another process would."""
    layer = channel_layers.make_backend("default")
    monkeypatch.setattr("hub.fanout.get_channel_layer", lambda: layer)
    return layer


async def test_layer_is_channels_redis():
    assert "channels_redis" in settings.CHANNEL_LAYERS["default"]["BACKEND"]


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
