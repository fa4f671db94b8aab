"""Faults of the scaled stack, with real processes (issue: fan-out at scale).

- Redis stops for 10 s under a running ASGI process: the process's
  subscription reconnects by itself, and its socket gets every event written
  meanwhile, once, in order (from PostgreSQL, by offset), then live ones.
- PostgreSQL is unreachable for a moment (a TCP relay between the process
  and the server is cut): a write gets 503 with a clear message, nothing is
  half-stored, and the same write retried afterwards is stored once.

SLOW (about 25 s) and only on the PostgreSQL + Redis pass of the suite, like
tests/test_topology.py, whose helpers it uses.
"""

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from channels.db import database_sync_to_async

from core.messaging.models import Message
from hub.models import Event
from tests.test_topology import (
    Socket,
    _database_url,
    aemit,
    pytestmark,  # noqa: F401 (the same skips and marks)
    session_of,
    start_topology,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A throwaway redis-server that can be stopped and started on its port."""

    def __init__(self, tmp_path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class Relay:
    """A TCP relay to PostgreSQL that a test can cut and restore."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.open = threading.Event()
        self.open.set()
        self.pairs: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self.pairs += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and break the open ones."""
        self.open.clear()
        for end in self.pairs:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        self.pairs = []

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def fresh_publisher(monkeypatch):
    """This process publishes to the test's Redis (a new client)."""
    monkeypatch.setattr("hub.realtime.publish._publisher", None)
    yield
    monkeypatch.setattr("hub.realtime.publish._publisher", None)


async def test_a_redis_outage_of_10_seconds_loses_nothing(
    school, settings, tmp_path, fresh_publisher
):
    redis = RedisServer(tmp_path)
    redis.start()
    topo = await asyncio.to_thread(
        start_topology, settings, asgi=1, redis_url=redis.url
    )
    try:
        name = f"org:{school.org.pk}"
        client = Socket(topo, 0, await session_of(school.pupil))
        await client.open()
        _, reply = await client.request(
            {"type": "subscribe", "id": "s", "streams": [name]}, "subscribed"
        )
        base = reply["streams"][name]["offset"]
        await aemit([name], 1)
        assert [f["offset"] for f in await client.events(1)] == [base + 1]

        await asyncio.to_thread(redis.stop)
        for n in range(2, 5):  # written while Redis is down: their publish fails
            await aemit([name], n)
        await asyncio.sleep(10)
        await asyncio.to_thread(redis.start)

        caught_up = await client.events(3)
        assert [f["offset"] for f in caught_up] == [base + 2, base + 3, base + 4]
        assert [f["data"]["n"] for f in caught_up] == [2, 3, 4]
        await aemit([name], 5)  # live again through the new subscription
        assert [f["offset"] for f in await client.events(1)] == [base + 5]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.ws.recv(), 1)  # nothing twice
        await client.ws.close()
    finally:
        await asyncio.to_thread(topo.stop)
        await asyncio.to_thread(redis.stop)


def _lower(headers) -> dict:
    """Header names are case-insensitive (uvicorn sends them in lower case)."""
    return {name.lower(): value for name, value in headers.items()}


def post_json(url: str, cookie: str, data: dict) -> tuple[int, dict, dict]:
    token = "c" * 32
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(data).encode(),
        headers={
            "Cookie": f"sessionid={cookie}; csrftoken={token}",
            "X-CSRFToken": token,
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, _lower(response.headers), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, _lower(error.headers), json.load(error)


async def test_a_database_cut_fails_the_write_clearly_and_stores_nothing(
    school, settings, fresh_publisher
):
    from tests.messaging.helpers import start

    conversation = await database_sync_to_async(start)(
        school, school.teacher, [school.parent]
    )
    relay = Relay()
    url = _database_url().replace(":5432/", f":{relay.port}/")
    if f":{relay.port}/" not in url:  # no explicit port in the test DB URL
        url = url.replace("@127.0.0.1/", f"@127.0.0.1:{relay.port}/")
    topo = await asyncio.to_thread(start_topology, settings, asgi=1, database_url=url)
    try:
        cookie = await session_of(school.parent)
        endpoint = f"{topo.urls[0]}/messages/{conversation.pk}/api/messages/"
        before = await database_sync_to_async(Message.objects.count)()
        events = await database_sync_to_async(Event.objects.count)()

        relay.cut()
        form = {"body": "Léa sera absente demain.", "idempotency_key": "k-cut-1"}
        status, headers, body = await asyncio.to_thread(
            post_json, endpoint, cookie, form
        )
        assert status == 503
        assert body["error"] == "database_unavailable"
        assert headers.get("retry-after") == "5"
        assert await database_sync_to_async(Message.objects.count)() == before
        assert await database_sync_to_async(Event.objects.count)() == events

        relay.restore()
        status, _, _ = await asyncio.to_thread(post_json, endpoint, cookie, form)
        assert status in (200, 201)
        status, _, _ = await asyncio.to_thread(post_json, endpoint, cookie, form)
        assert status in (200, 201)  # the same key again: the same message
        assert await database_sync_to_async(Message.objects.count)() == before + 1
    finally:
        await asyncio.to_thread(topo.stop)
        relay.close()
