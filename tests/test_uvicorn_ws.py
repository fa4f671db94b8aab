"""hub.realtime.uvicorn: uvicorn's sans-I/O WebSocket protocol, lighter per socket.

A real uvicorn server (in the test's event loop, on a socket of its own)
with a tiny ASGI app, driven by ``websockets`` clients. The behaviour checks
run on uvicorn's own ``WebSocketsSansIOProtocol`` as well as on
``SlimWebSocketProtocol``: the subclass must not change what an app or a
client sees, only what a socket keeps in memory.
"""

import asyncio
import contextlib
import json
import socket
import time

import pytest
import uvicorn
from django.conf import settings
from uvicorn.protocols.websockets.websockets_sansio_impl import (
    WebSocketsSansIOProtocol,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from hub.realtime.fanout import text_frame
from hub.realtime.uvicorn import CONNECTION_LOGGER, SlimWebSocketProtocol
from hub.realtime.waiters import SlimEvent, SlimQueue

PROTOCOLS = [
    pytest.param(WebSocketsSansIOProtocol, id="uvicorn"),
    pytest.param(SlimWebSocketProtocol, id="slim"),
]
WS_OPTION = "hub.realtime.uvicorn:SlimWebSocketProtocol"


class App:
    """Paths: /echo, /burst, /flood, /close, /reject, /idle. ``seen`` keeps
    what the app observed, per path, for the test to check."""

    def __init__(self):
        self.seen: dict[str, dict] = {}
        self.flood_size = 64 * 1024
        self.flood_count = 200
        self.done = asyncio.Event()

    async def __call__(self, scope, receive, send):
        assert scope["type"] == "websocket"
        path = scope["path"].strip("/")
        seen = self.seen[path] = {
            "headers": dict(scope["headers"]),
            "messages": [],
        }
        try:
            await getattr(self, path)(scope, receive, send, seen)
        finally:
            self.done.set()

    async def _accept(self, scope, receive, send, seen):
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        seen["headers_after_accept"] = len(scope["headers"])
        seen["protocol"] = send.__self__

    async def _until_disconnect(self, receive, seen, on_message=None):
        while True:
            message = await receive()
            seen["messages"].append(message)
            if message["type"] == "websocket.disconnect":
                break
            if on_message is not None:
                await on_message(message)
        seen["finished"] = True

    async def echo(self, scope, receive, send, seen):
        await self._accept(scope, receive, send, seen)

        async def reply(message):
            await send({"type": "websocket.send", **_payload(message)})

        await self._until_disconnect(receive, seen, reply)

    async def burst(self, scope, receive, send, seen):
        # Let the client's messages pile up in the receive queue first.
        await self._accept(scope, receive, send, seen)
        await asyncio.sleep(0.3)
        seen["queued"] = send.__self__.queue.qsize()
        texts = []
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                break
            texts.append(message["text"])
            if message["text"] == "end":
                await send({"type": "websocket.send", "text": json.dumps(texts)})
        seen["messages"].append(message)

    async def flood(self, scope, receive, send, seen):
        await self._accept(scope, receive, send, seen)
        protocol = send.__self__
        transport = protocol.transport
        transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024
        )
        seen["sent"] = 0
        seen["waited"] = 0
        chunk = "x" * (self.flood_size - 8)
        for n in range(self.flood_count):
            if not protocol.writable.is_set():
                seen["waited"] += 1
            await send({"type": "websocket.send", "text": f"{n:08d}{chunk}"})
            seen["sent"] = n + 1
        await self._until_disconnect(receive, seen)

    async def close(self, scope, receive, send, seen):
        await self._accept(scope, receive, send, seen)
        message = await receive()
        code, _, reason = message["text"].partition(" ")
        await send({"type": "websocket.close", "code": int(code), "reason": reason})
        await self._until_disconnect(receive, seen)

    async def reject(self, scope, receive, send, seen):
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.close"})
        seen["messages"].append(await receive())

    async def batch(self, scope, receive, send, seen):
        # SlimWebSocketProtocol.send_texts: frames, then frames and a close.
        await self._accept(scope, receive, send, seen)
        protocol = send.__self__
        writes = seen["writes"] = []
        write = protocol.transport.write
        protocol.transport.write = lambda data: (writes.append(data), write(data))
        await receive()  # the client's "go"
        await protocol.send_texts(["one", "two", "trois é"])
        await protocol.send_texts([])
        await protocol.send_texts(["bye"], 4503)
        # After the close: what uvicorn's send does (raises), for both.
        for texts, code in ((["late"], None), ([], 1000)):
            try:
                await protocol.send_texts(texts, code)
            except RuntimeError as error:
                seen.setdefault("after_close", []).append(str(error))
        await self._until_disconnect(receive, seen)

    async def frame(self, scope, receive, send, seen):
        # SlimWebSocketProtocol.write_frame: a ready-made frame, as is.
        await self._accept(scope, receive, send, seen)
        protocol = send.__self__
        writes = seen["writes"] = []
        write = protocol.transport.write
        protocol.transport.write = lambda data: (writes.append(data), write(data))
        await receive()  # the client's "go"
        seen["frame"] = text_frame("un événement")
        seen["written"] = [protocol.write_frame(seen["frame"])]
        await send({"type": "websocket.close", "code": 1000})
        seen["written"].append(protocol.write_frame(text_frame("late")))
        await self._until_disconnect(receive, seen)

    async def idle(self, scope, receive, send, seen):
        await self._accept(scope, receive, send, seen)
        await self._until_disconnect(receive, seen)


def _payload(message):
    if message.get("text") is not None:
        return {"text": message["text"]}
    return {"bytes": message["bytes"]}


@contextlib.asynccontextmanager
async def serve(protocol, app, **options):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        ws=protocol,
        ws_per_message_deflate=options.pop("ws_per_message_deflate", False),
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started
        yield server, f"ws://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def _wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.fixture
def app():
    return App()


def test_the_ws_option_loads_the_class():
    """`--ws hub.realtime.uvicorn:SlimWebSocketProtocol` (compose.yaml, Dockerfile,
    scripts/topology.py) is imported as `module:attribute` by uvicorn."""
    from scripts.topology import UVICORN_OPTIONS

    assert UVICORN_OPTIONS[UVICORN_OPTIONS.index("--ws") + 1] == WS_OPTION
    config = uvicorn.Config(App(), ws=WS_OPTION, lifespan="off")
    config.load()
    assert config.ws_protocol_class is SlimWebSocketProtocol
    assert issubclass(SlimWebSocketProtocol, WebSocketsSansIOProtocol)


def test_slim_sets_every_attribute_of_uvicorns_init():
    """SlimWebSocketProtocol.__init__ does not call uvicorn's (issue 17): it
    must leave a new socket as uvicorn 0.54's does, but for its lighter
    queue and event, its logger, the size limit and the shared extension
    factory."""
    from uvicorn.server import ServerState

    config = uvicorn.Config(App(), ws=WS_OPTION, lifespan="off", ws_max_size=2**30)
    config.load()
    state = ServerState()
    loop = asyncio.new_event_loop()
    try:
        theirs = vars(WebSocketsSansIOProtocol(config, state, {}, _loop=loop))
        ours = vars(SlimWebSocketProtocol(config, state, {}, _loop=loop))
        again = vars(SlimWebSocketProtocol(config, state, {}, _loop=loop))
    finally:
        loop.close()
    assert ours.keys() == theirs.keys()
    changed = {"queue", "writable", "logger", "conn"}
    assert {k: v for k, v in ours.items() if k not in changed} == {
        k: v for k, v in theirs.items() if k not in changed
    }
    assert type(ours["queue"]) is SlimQueue and ours["queue"].empty()
    assert type(ours["writable"]) is SlimEvent and ours["writable"].is_set()
    assert ours["logger"] is CONNECTION_LOGGER
    conn, their_conn = vars(ours["conn"]), vars(theirs["conn"])
    assert conn.keys() == their_conn.keys()
    changed = {"id", "logger", "debug", "max_message_size", "available_extensions"}
    own = {"parser", "reader"}  # each socket's own (a generator, a buffer)
    assert {k: v for k, v in conn.items() if k not in changed | own} == {
        k: v for k, v in their_conn.items() if k not in changed | own
    }
    assert {k: type(conn[k]) for k in own} == {k: type(their_conn[k]) for k in own}
    assert conn["logger"] is CONNECTION_LOGGER
    assert conn["max_message_size"] == settings.HUB_WS_MAX_BYTES < 2**30
    assert their_conn["max_message_size"] == 2**30
    extensions, their_extensions = (
        conn["available_extensions"],
        their_conn["available_extensions"],
    )
    assert [vars(e) for e in extensions] == [vars(e) for e in their_extensions]
    assert extensions  # uvicorn's default: permessage-deflate offered
    # One factory for every socket of the config: it only holds settings.
    assert vars(again["conn"])["available_extensions"] is extensions


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_accept_and_echo_in_order(protocol, app):
    async with serve(protocol, app) as (_, url):
        async with connect(
            url + "/echo?x=1",
            additional_headers={"Cookie": "sessionid=abc"},
            origin="http://school.example",
        ) as ws:
            for n in range(50):
                await ws.send(f"text {n}")
                await ws.send(f"bytes {n}".encode())
            replies = [await ws.recv() for _ in range(100)]
        await _wait_for(lambda: app.seen.get("echo", {}).get("finished"))
    expected = []
    for n in range(50):
        expected += [f"text {n}", f"bytes {n}".encode()]
    assert replies == expected
    seen = app.seen["echo"]
    # The handshake's headers reach the app before it accepts.
    assert seen["headers"][b"cookie"] == b"sessionid=abc"
    assert seen["headers"][b"origin"] == b"http://school.example"
    texts = [m.get("text") or m.get("bytes") for m in seen["messages"][:-1]]
    assert texts == expected
    assert seen["messages"][-1]["type"] == "websocket.disconnect"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_many_queued_messages_are_received_in_order(protocol, app):
    async with serve(protocol, app) as (_, url):
        async with connect(url + "/burst") as ws:
            sent = [f"m{n}" for n in range(2000)] + ["end"]
            for text in sent:
                await ws.send(text)
            received = json.loads(await ws.recv())
    assert received == sent
    # uvicorn pauses reading once a message is queued, but one read brings
    # many frames: the queue did hold several at once.
    assert app.seen["burst"]["queued"] > 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_client_close_is_delivered_once_with_its_code(protocol, app):
    async with serve(protocol, app) as (_, url):
        ws = await connect(url + "/idle")
        await _wait_for(lambda: "protocol" in app.seen.get("idle", {}))
        await asyncio.sleep(0.1)  # the app waits in receive()
        await ws.close(code=4001, reason="bye")
        await _wait_for(lambda: app.seen["idle"].get("finished"))
        # Later events (the transport lost) do not reach an app that is done.
        await asyncio.sleep(0.2)
    messages = app.seen["idle"]["messages"]
    assert messages == [{"type": "websocket.disconnect", "code": 4001, "reason": "bye"}]
    # uvicorn queues another disconnect (1005) when the transport is then
    # lost; an app past its disconnect (Channels' consumers) never reads it.
    queue = app.seen["idle"]["protocol"].queue
    left = [queue.get_nowait() for _ in range(queue.qsize())]
    assert all(message["type"] == "websocket.disconnect" for message in left)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_lost_connection_is_delivered_once(protocol, app):
    async with serve(protocol, app) as (_, url):
        ws = await connect(url + "/idle")
        await _wait_for(lambda: "protocol" in app.seen.get("idle", {}))
        ws.transport.abort()
        await _wait_for(lambda: app.seen["idle"].get("finished"))
    # The handshake completed, then TCP was lost without a close frame.
    assert [m["type"] for m in app.seen["idle"]["messages"]] == ["websocket.disconnect"]
    assert app.seen["idle"]["messages"][0]["code"] == 1005  # no close frame
    assert app.seen["idle"]["protocol"].queue.empty()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_server_close_codes_reach_the_client(protocol, app):
    async with serve(protocol, app) as (_, url):
        async with connect(url + "/close") as ws:
            await ws.send("4408 too slow")
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd.code == 4408
        assert closed.value.rcvd.reason == "too slow"
        await _wait_for(lambda: app.seen["close"].get("finished"))
    assert app.seen["close"]["messages"][0] == {
        "type": "websocket.disconnect",
        "code": 4408,
        "reason": "too slow",
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_close_before_accept_rejects_the_handshake(protocol, app):
    async with serve(protocol, app) as (_, url):
        with pytest.raises(InvalidStatus) as rejected:
            await connect(url + "/reject")
        assert rejected.value.response.status_code == 403
        await _wait_for(lambda: app.seen.get("reject", {}).get("messages"))
    assert app.seen["reject"]["messages"] == [
        {"type": "websocket.disconnect", "code": 1006}
    ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_send_waits_for_a_client_that_stops_reading_then_resumes(protocol, app):
    app.flood_count = 200  # 12.5 MiB: more than the socket buffers hold
    async with serve(protocol, app) as (_, url):
        rcvbuf = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        rcvbuf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        host, port = url.removeprefix("ws://").split(":")
        rcvbuf.connect((host, int(port)))
        rcvbuf.setblocking(False)
        ws = await connect(url + "/flood", sock=rcvbuf, max_queue=1, max_size=None)
        try:
            await _wait_for(lambda: app.seen.get("flood", {}).get("waited"))
            # The app's send() waits while the client does not read (its
            # library takes a few messages more into its own buffer first).
            sent = -1
            while app.seen["flood"]["sent"] != sent:
                sent = app.seen["flood"]["sent"]
                await asyncio.sleep(0.5)
            assert sent < app.flood_count
            assert not app.seen["flood"]["protocol"].writable.is_set()
            # The client reads again: every message arrives, in order, and
            # the app's sends complete.
            for n in range(app.flood_count):
                message = await asyncio.wait_for(ws.recv(), 10)
                assert message[:8] == f"{n:08d}" and len(message) == app.flood_size
            assert app.seen["flood"]["sent"] == app.flood_count
            assert app.seen["flood"]["protocol"].writable.is_set()
        finally:
            await ws.close()
        await _wait_for(lambda: app.seen["flood"].get("finished"))


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_keepalive_pings_keep_an_answering_client(protocol, app):
    async with serve(protocol, app, ws_ping_interval=0.1, ws_ping_timeout=0.2) as (
        _,
        url,
    ):
        async with connect(url + "/echo", ping_interval=None) as ws:
            await asyncio.sleep(0.6)  # several pings, answered by the client
            await ws.send("still here")
            assert await ws.recv() == "still here"
            assert app.seen["echo"]["protocol"].last_ping_rtt > 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_keepalive_closes_a_client_that_does_not_answer(protocol, app):
    async with serve(protocol, app, ws_ping_interval=0.1, ws_ping_timeout=0.2) as (
        _,
        url,
    ):
        host, port = url.removeprefix("ws://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"GET /idle HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        # Never answers the pings: the server closes with 1011.
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await _wait_for(lambda: app.seen["idle"].get("finished"))
    assert b"\x88" in data and (1011).to_bytes(2, "big") in data
    assert app.seen["idle"]["messages"][0]["type"] == "websocket.disconnect"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_server_shutdown_tells_the_app_and_the_client_1012(protocol, app):
    async with serve(protocol, app) as (server, url):
        ws = await connect(url + "/idle")
        await _wait_for(lambda: "protocol" in app.seen.get("idle", {}))
        server.should_exit = True
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd.code == 1012
        await _wait_for(lambda: app.seen["idle"].get("finished"))
    assert app.seen["idle"]["messages"][0] == {
        "type": "websocket.disconnect",
        "code": 1012,
    }


@pytest.mark.parametrize(
    "ping_interval", [20.0, None], ids=["keepalive", "no-keepalive"]
)
async def test_slim_keeps_nothing_of_the_handshake_once_accepted(app, ping_interval):
    async with serve(SlimWebSocketProtocol, app, ws_ping_interval=ping_interval) as (
        _,
        url,
    ):
        async with connect(url + "/echo", additional_headers={"Cookie": "a=b"}) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            protocol = app.seen["echo"]["protocol"]
            assert isinstance(protocol.queue, SlimQueue)
            assert isinstance(protocol.writable, SlimEvent)
            assert protocol.request is None and protocol.response is None
            assert protocol.scope["headers"] == []
            assert app.seen["echo"]["headers_after_accept"] == 0
            # hub.realtime.base._transport_of: send's owner holds the transport.
            from hub.realtime.base import _transport_of

            assert _transport_of(protocol.send) is protocol.transport
    assert app.seen["echo"]["headers"][b"cookie"] == b"a=b"


async def test_slim_send_texts_writes_frames_and_a_close_at_once(app):
    async with serve(SlimWebSocketProtocol, app) as (_, url):
        async with connect(url + "/batch") as ws:
            await ws.send("go")
            received = [await ws.recv() for _ in range(4)]
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        await _wait_for(lambda: app.seen["batch"].get("finished"))
    assert received == ["one", "two", "trois é", "bye"]
    assert closed.value.rcvd.code == 4503
    seen = app.seen["batch"]
    # One write for the three frames, nothing for none, one for bye + close.
    assert len(seen["writes"]) == 2
    assert seen["writes"][1].endswith(b"\x88\x02\x11\x97")  # close frame, 4503
    assert len(seen["after_close"]) == 2
    assert all("after sending 'websocket.close'" in e for e in seen["after_close"])


async def test_slim_send_texts_to_a_gone_client_raises_client_disconnected(app):
    from uvicorn.protocols.utils import ClientDisconnected

    async with serve(SlimWebSocketProtocol, app) as (_, url):
        async with connect(url + "/idle"):
            await _wait_for(lambda: "protocol" in app.seen.get("idle", {}))
        await _wait_for(lambda: app.seen["idle"].get("finished"))
        with pytest.raises(ClientDisconnected):
            await app.seen["idle"]["protocol"].send_texts(["late"])


async def test_slim_write_frame_writes_the_frame_as_is_while_open(app):
    async with serve(SlimWebSocketProtocol, app) as (_, url):
        async with connect(url + "/frame") as ws:
            await ws.send("go")
            assert await ws.recv() == "un événement"
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        await _wait_for(lambda: app.seen["frame"].get("finished"))
    assert closed.value.rcvd.code == 1000
    seen = app.seen["frame"]
    # Written once, the very bytes given; refused once the close is sent.
    assert seen["written"] == [True, False]
    assert seen["writes"][0] is seen["frame"]
    assert len(seen["writes"]) == 2  # the frame, then the close frame


async def test_slim_write_frame_refuses_a_socket_that_compresses(app):
    async with serve(SlimWebSocketProtocol, app, ws_per_message_deflate=True) as (
        _,
        url,
    ):
        async with connect(url + "/frame", compression="deflate") as ws:
            assert ws.response.headers["Sec-WebSocket-Extensions"].startswith(
                "permessage-deflate"
            )
            await ws.send("go")
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        await _wait_for(lambda: app.seen["frame"].get("finished"))
    assert closed.value.rcvd.code == 1000
    # Its bytes would not be what a compressing socket sends: nothing written.
    assert app.seen["frame"]["written"] == [False, False]
    assert all(b"\xc3\xa9v\xc3\xa9nement" not in w for w in app.seen["frame"]["writes"])


async def test_slim_queue_is_fifo_and_wakes_its_reader():
    queue = SlimQueue()
    reader = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not reader.done()
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert await reader == 1
    assert queue.qsize() == 1 and await queue.get() == 2
    assert queue.empty() and queue._items == [] and queue._getters is None
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()
    for n in range(1000):
        queue.put_nowait(n)
    assert [await queue.get() for _ in range(1000)] == list(range(1000))
    assert queue._items == [] and queue._head == 0


async def test_slim_queue_cancelled_reader_hands_items_on():
    queue = SlimQueue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    queue.put_nowait("a")
    assert await second == "a"
    assert first.cancelled()
    # Woken for an item, then cancelled before it ran: the item goes on.
    third = asyncio.create_task(queue.get())
    fourth = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("b")
    third.cancel()
    assert await fourth == "b"
    assert queue._getters is None


async def test_slim_event_wakes_every_waiter_and_forgets_them():
    event = SlimEvent()
    assert await asyncio.wait_for(_set_then_wait(event), 1)
    event.clear()
    waiters = [asyncio.create_task(event.wait()) for _ in range(3)]
    cancelled = asyncio.create_task(event.wait())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    assert len(event._waiters) == 3
    event.set()
    event.clear()  # woken waiters still return True, as asyncio.Event's
    assert await asyncio.gather(*waiters) == [True, True, True]
    assert event._waiters is None and not event.is_set()


async def _set_then_wait(event):
    event.set()
    return await event.wait()


async def test_slim_logs_connections_on_its_own_quiet_logger(app, caplog):
    import logging

    from hub.realtime.uvicorn import CONNECTION_LOGGER

    # The settings' LOGGING keeps one line per socket out of the logs.
    assert not CONNECTION_LOGGER.isEnabledFor(logging.INFO)
    with caplog.at_level(logging.INFO, logger="hub.connections"):
        async with serve(SlimWebSocketProtocol, app) as (_, url):
            async with connect(url + "/echo") as ws:
                await ws.send("hello")
                assert await ws.recv() == "hello"
                assert app.seen["echo"]["protocol"].conn.logger is CONNECTION_LOGGER
    lines = [(r.name, r.getMessage()) for r in caplog.records]
    assert ("hub.connections", "connection open") in lines
    assert any(
        name == "hub.connections" and '"WebSocket /echo" [accepted]' in message
        for name, message in lines
    )
