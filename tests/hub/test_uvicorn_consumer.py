"""The consumer on production's server: uvicorn with ``SlimWebSocketProtocol``.

A real uvicorn server in the test's event loop serves ``core.asgi.application``;
a ``websockets`` client logs in with a session cookie as a page does. Frames
the consumer sends together (a replay and its ``resumed``, ``bye`` and the
close) reach the client in order and leave in one transport write
(``SlimWebSocketProtocol.send_texts``, decision 0003's addendum).
"""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from core.asgi import application
from hub.realtime import lifecycle
from hub.realtime.consumer import HubConsumer
from hub.realtime.fanout import fanout_for_running_loop
from hub.realtime.protocol import CLOSE_TOO_SLOW
from tests.hub.helpers import TIMEOUT, aemit, login
from tests.test_uvicorn_ws import serve

pytestmark = pytest.mark.django_db(transaction=True)


class WriteRecorder:
    """The hub's ASGI application, recording every write of each socket's
    transport (uvicorn's ``send`` is a method of the socket's protocol)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            transport = send.__self__.transport
            write = transport.write

            def recording_write(data: bytes) -> None:
                self.writes.append(data)
                write(data)

            transport.write = recording_write
        await application(scope, receive, send)


async def recv(socket) -> str:
    return await asyncio.wait_for(socket.recv(), TIMEOUT)


async def open_page(url: str, user):
    """A page's socket as ``user``: session cookie and Origin; hello read."""
    client = await database_sync_to_async(login)(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    socket = await connect(
        url + "/ws/",
        origin=url.replace("ws://", "http://"),  # the page's own
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"},
        open_timeout=TIMEOUT,
    )
    hello = json.loads(await recv(socket))
    assert hello["type"] == "hello", hello
    return socket


async def follow(socket, name: str) -> None:
    await socket.send(json.dumps({"type": "subscribe", "id": "s", "streams": [name]}))
    while (reply := json.loads(await recv(socket)))["type"] != "subscribed":
        assert reply["type"] != "error", reply


async def test_a_live_event_is_framed_once_for_every_socket(school):
    """Issue 17: the fan-out frames an event once per process and every
    socket's transport gets those very bytes (``write_frame``), where
    uvicorn's ``send`` would frame the text again per socket."""
    name = f"class:{school.class_4b.pk}"
    recorder = WriteRecorder()
    async with serve("hub.realtime.uvicorn:SlimWebSocketProtocol", recorder) as (
        _,
        url,
    ):
        pages = [
            await open_page(url, user)
            for user in (school.pupil, school.pupil2, school.teacher)
        ]
        for page in pages:
            await follow(page, name)
        before = len(recorder.writes)
        for n in (1, 2):
            await aemit([name], n=n)
            frames = [json.loads(await recv(page)) for page in pages]
            assert [(f["type"], f["offset"], f["data"]["n"]) for f in frames] == [
                ("event", n, n)
            ] * 3
        events = [w for w in recorder.writes[before:] if b'"type":"event"' in w]
        assert len(events) == 6
        for first in (events[0], events[3]):
            assert sum(w is first for w in events) == 3
        for page in pages:
            await page.close()


async def test_a_socket_that_compresses_gets_live_events_through_send(school):
    """permessage-deflate compresses per socket: no ready-made frame for it."""
    name = f"class:{school.class_4b.pk}"
    recorder = WriteRecorder()
    async with serve(
        "hub.realtime.uvicorn:SlimWebSocketProtocol",
        recorder,
        ws_per_message_deflate=True,
    ) as (_, url):
        page = await open_page(url, school.pupil)
        async with page:
            assert "permessage-deflate" in page.response.headers.get(
                "Sec-WebSocket-Extensions", ""
            )
            await follow(page, name)
            before = len(recorder.writes)
            await aemit([name], n=1)
            frame = json.loads(await recv(page))
            assert (frame["type"], frame["offset"]) == ("event", 1)
            assert not any(b'"type":"event"' in w for w in recorder.writes[before:])


async def test_a_socket_over_the_send_buffer_bound_is_closed_4408(school, monkeypatch):
    """The bound holds on the ready-made frames' road, and the others go on."""
    name = f"class:{school.class_4b.pk}"
    slow_user = school.pupil.pk
    monkeypatch.setattr(
        HubConsumer,
        "_unsent_bytes",
        lambda self: 10**9 if self.user.pk == slow_user else 0,
    )
    async with serve("hub.realtime.uvicorn:SlimWebSocketProtocol", application) as (
        _,
        url,
    ):
        slow = await open_page(url, school.pupil)
        fast = await open_page(url, school.pupil2)
        async with slow, fast:
            await follow(slow, name)
            await follow(fast, name)
            for n in (1, 2):
                await aemit([name], n=n)
            assert [json.loads(await recv(fast))["offset"] for _ in (1, 2)] == [1, 2]
            with pytest.raises(ConnectionClosed) as closed:
                await recv(slow)
            assert closed.value.rcvd.code == CLOSE_TOO_SLOW


async def test_a_replay_and_its_reply_leave_in_one_write(school):
    name = f"class:{school.class_4b.pk}"
    envelopes = [(await aemit([name], n=n))[0] for n in range(1, 6)]
    recorder = WriteRecorder()
    async with serve("hub.realtime.uvicorn:SlimWebSocketProtocol", recorder) as (
        _,
        url,
    ):
        socket = await open_page(url, school.teacher)
        async with socket:
            before = len(recorder.writes)
            position = {"epoch": envelopes[0].epoch, "offset": 1}
            await socket.send(
                json.dumps({"type": "resume", "id": "r", "streams": {name: position}})
            )
            frames = [json.loads(await recv(socket)) for _ in range(5)]
            assert [(f["type"], f.get("offset")) for f in frames] == [
                ("event", 2),
                ("event", 3),
                ("event", 4),
                ("event", 5),
                ("resumed", None),
            ]
            assert frames[-1]["streams"][name]["offset"] == 5
            # Four events and the reply: one write.
            assert len(recorder.writes) == before + 1
            assert recorder.writes[-1].count(b'"type":"event"') == 4


async def test_bye_and_the_close_leave_in_one_write(school):
    recorder = WriteRecorder()
    async with serve("hub.realtime.uvicorn:SlimWebSocketProtocol", recorder) as (
        _,
        url,
    ):
        socket = await open_page(url, school.parent)
        async with socket:
            before = len(recorder.writes)
            (consumer,) = fanout_for_running_loop().sockets()
            await consumer.going_away()
            assert json.loads(await recv(socket)) == {
                "type": "bye",
                "reason": "restart",
            }
            with pytest.raises(ConnectionClosed) as closed:
                await recv(socket)
            assert closed.value.rcvd.code == lifecycle.CLOSE_GOING_AWAY
            assert len(recorder.writes) == before + 1


async def test_a_frame_over_the_servers_limit_is_refused_before_it_is_read(school):
    """Issue 13, finding 3: uvicorn reads a message of up to ``--ws-max-size``
    (16 MiB by default, the value of this server: no option given) into
    memory before the hub can refuse it; ``SlimWebSocketProtocol`` holds the
    connection to ``HUB_WS_MAX_BYTES``, so the server closes with 1009 from
    the frame's header and the consumer never sees the frame. A frame just
    over the hub's own ``HUB_MAX_FRAME_BYTES`` still gets ``frame_too_big``
    and 4413; the other sockets keep working."""
    async with serve("hub.realtime.uvicorn:SlimWebSocketProtocol", application) as (
        server,
        url,
    ):
        assert server.config.ws_max_size == 16 * 1024 * 1024
        other = await open_page(url, school.parent)
        big = await open_page(url, school.teacher)
        async with other, big:
            # A text frame's header announcing 8 MiB (masked, as a client's
            # must be), then only 1 KiB of it: the server answers at once.
            size = 8 * 1024 * 1024
            header = bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big") + bytes(4)
            big.transport.write(header + b"x" * 1024)
            with pytest.raises(ConnectionClosed) as closed:
                await recv(big)
            assert closed.value.rcvd.code == 1009  # message too big
            await other.send(json.dumps({"type": "ping", "id": "p"}))
            assert json.loads(await recv(other)) == {"type": "pong", "id": "p"}

        polite = await open_page(url, school.teacher)
        async with polite:
            await polite.send("x" * (settings.HUB_MAX_FRAME_BYTES + 1))
            error = json.loads(await recv(polite))
            assert error["code"] == "frame_too_big"
            with pytest.raises(ConnectionClosed) as closed:
                await recv(polite)
            assert closed.value.rcvd.code == 4413
