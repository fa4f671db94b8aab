"""Two real ASGI processes on one PostgreSQL database and one Redis.

SLOW (about 10 s: it starts uvicorn and Daphne processes with ``scripts.topology``), and
only on the PostgreSQL + Redis pass of the suite (``DATABASE_URL`` a postgres
URL and ``REDIS_URL`` set, as ``.ci/run``'s second pass); skipped otherwise.
Deselect with ``-k 'not test_topology'``.

The processes serve this test's own database (``transaction=True``: what the
test writes is committed and visible to them), with the test's
``SECRET_KEY`` so the sessions it writes are theirs, and a channel-layer
prefix of their own shared with this process, so the doorbells
``hub.send_event`` rings here reach their sockets and no other run's.
Clients are the ``websockets`` library, speaking the public protocol only
(docs/protocol.md).
"""

import asyncio
import json
import os
import urllib.parse
import urllib.request
import uuid
from typing import Literal

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.utils.crypto import get_random_string
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

import hub
from hub.events import HubEvent
from scripts.population import create_sessions
from scripts.topology import Topology

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
TIMEOUT = 10

pytestmark = [
    pytest.mark.skipif(
        not DATABASE_URL.startswith(("postgres://", "postgresql://")),
        reason="slow multi-process test: needs DATABASE_URL=postgres://... "
        "(several processes cannot share the embedded SQLite default)",
    ),
    pytest.mark.skipif(
        not REDIS_URL,
        reason="slow multi-process test: needs REDIS_URL (the in-memory layer "
        "does not cross processes)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
]


class TopologyTick(HubEvent):
    """This module's event kind."""

    kind = "test.topology"
    notify = False
    op: Literal["tick"]
    n: int


def _database_url() -> str:
    """The URL of the test database pytest-django made (``test_<name>``)."""
    db = connection.settings_dict
    auth = urllib.parse.quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + urllib.parse.quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


def start_topology(
    settings,
    *,
    asgi: int = 2,
    redis_url: str = REDIS_URL,
    database_url: str = "",
    server: str = "uvicorn",
) -> Topology:
    """Start ``asgi`` processes on ``server`` (uvicorn as in production, or
    Daphne as in development) serving the test database (or ``database_url``)
    on ``redis_url``, with a channel prefix this process shares (so what it
    rings reaches their sockets and no other run's)."""
    prefix = f"topotest{uuid.uuid4().hex[:10]}"
    settings.HUB_CHANNEL_PREFIX = prefix
    settings.REDIS_URL = redis_url
    topo = Topology(
        asgi=asgi,
        server=server,
        database_url=database_url or _database_url(),
        migrate=False,
        redis_url=redis_url,
        channel_prefix=prefix,
        env={
            "SECRET_KEY": settings.SECRET_KEY,
            "MESSAGE_KEYS": ",".join(settings.MESSAGE_KEYS),
            "LOG_LEVEL": "WARNING",
        },
        startup_timeout=30,
        stop_timeout=5,
    )
    return topo.start()


@pytest.fixture(params=["uvicorn", "daphne"])
def topology(transactional_db, settings, request):
    """Two processes serving the test database, on uvicorn (production) and
    on Daphne (``make run``); stopped afterwards."""
    topo = start_topology(settings, server=request.param)
    try:
        yield topo
    finally:
        topo.stop()


def emit(streams: list[str], n: int) -> None:
    with transaction.atomic():
        hub.send_event(streams, TopologyTick(op="tick", n=n))


aemit = database_sync_to_async(emit)


@database_sync_to_async
def session_of(user) -> str:
    return create_sessions([user])[user.pk]


async def post_message(url: str, conversation, sender) -> int:
    """``sender`` posts a message in ``conversation`` through the process at
    ``url`` (the page's JSON endpoint, with its session and CSRF token); the
    new message's id."""
    csrf = get_random_string(32)
    request = urllib.request.Request(
        f"{url}/messages/{conversation.pk}/api/messages/",
        data=urllib.parse.urlencode(
            {"body": "La sortie est confirmée.", "idempotency_key": uuid.uuid4().hex}
        ).encode(),
        headers={
            "Cookie": f"sessionid={await session_of(sender)}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
            "Accept": "application/json",
        },
    )
    response = await asyncio.to_thread(urllib.request.urlopen, request, timeout=10)
    assert response.status == 200
    return json.loads(response.read())["message"]["id"]


class Socket:
    """A protocol client on one process: frames in order, offsets per stream."""

    def __init__(self, topo: Topology, index: int, cookie: str) -> None:
        self.url = topo.ws_urls[index]
        self.origin = topo.origins[index]
        self.cookie = cookie
        self.ws = None

    async def open(self) -> dict:
        self.ws = await connect(
            self.url,
            origin=self.origin,
            additional_headers={"Cookie": f"sessionid={self.cookie}"},
            proxy=None,
            open_timeout=TIMEOUT,
        )
        hello = await self.receive()
        assert hello["type"] == "hello", hello
        return hello

    async def receive(self) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))

    async def request(self, frame: dict, reply_type: str) -> tuple[list, dict]:
        """Send ``frame``; return the frames before the reply, and the reply."""
        await self.ws.send(json.dumps(frame))
        before = []
        while True:
            received = await self.receive()
            if received["type"] == reply_type:
                return before, received
            assert received["type"] != "error", received
            before.append(received)

    async def events(self, count: int) -> list[dict]:
        frames = [await self.receive() for _ in range(count)]
        assert all(f["type"] == "event" for f in frames), frames
        return frames


async def test_event_written_through_one_process_reaches_a_socket_on_the_other(
    school, topology
):
    """An HTTP action on process A, and a write from a third process, both reach
    a socket held by process B."""
    from core.messaging import actions

    teacher, parent = school.teacher, school.parent
    conversation = await database_sync_to_async(actions.start_conversation)(
        sender=teacher,
        org=school.org,
        subject="Sortie",
        recipients=[parent],
        body="Bonjour",
        idempotency_key=uuid.uuid4().hex,
    )
    on_b = Socket(topology, 1, await session_of(parent))
    await on_b.open()
    mine = f"user:{parent.pk}"
    _, reply = await on_b.request(
        {"type": "subscribe", "id": "s", "streams": [mine]}, "subscribed"
    )
    start = reply["streams"][mine]["offset"]

    # An HTTP action through process A: the teacher posts a message.
    message_id = await post_message(topology.urls[0], conversation, teacher)

    (frame,) = await on_b.events(1)
    assert (frame["stream"], frame["offset"]) == (mine, start + 1)
    assert frame["kind"] == "messaging.message"
    assert frame["data"]["message_id"] == message_id

    # hub.send_event from this (third) process, into the same database.
    await aemit([mine], n=1)
    (frame,) = await on_b.events(1)
    assert (frame["stream"], frame["offset"], frame["data"]) == (
        mine,
        start + 2,
        {"n": 1},
    )
    await on_b.ws.close()


async def test_client_of_a_stopped_process_resumes_on_the_other(school, topology):
    """Process B stops: its client reconnects to A and resumes from its offsets;
    the events written meanwhile arrive once each, in order, then live ones."""
    pupil = school.pupil
    streams = [f"org:{school.org.pk}", f"user:{pupil.pk}"]
    cookie = await session_of(pupil)
    seen = {name: [] for name in streams}
    positions = {}

    def keep(frames: list[dict]) -> None:
        for frame in frames:
            assert frame["type"] == "event", frame
            seen[frame["stream"]].append(frame["offset"])
            positions[frame["stream"]] = {
                "epoch": frame["epoch"],
                "offset": frame["offset"],
            }

    on_b = Socket(topology, 1, cookie)
    await on_b.open()
    _, reply = await on_b.request(
        {"type": "subscribe", "id": "s", "streams": streams}, "subscribed"
    )
    positions.update(reply["streams"])
    base = {name: reply["streams"][name]["offset"] for name in streams}
    for n in range(1, 4):
        await aemit(streams, n)
    keep(await on_b.events(6))

    # SIGTERM: the process drains (hub/realtime/lifecycle.py): "bye" with the reason
    # "restart", then close code 4503, then it exits.
    stopping = asyncio.create_task(asyncio.to_thread(topology.stop_process, 1))
    last = []
    with pytest.raises(ConnectionClosed):
        while True:
            last.append(await on_b.receive())
    assert last == [{"type": "bye", "reason": "restart"}]
    assert on_b.ws.close_code == 4503
    await stopping
    assert topology.pids[1] is None
    for n in range(4, 7):  # written while the client is away
        await aemit(streams, n)

    on_a = Socket(topology, 0, cookie)
    await on_a.open()
    replayed, reply = await on_a.request(
        {"type": "resume", "id": "r", "streams": positions}, "resumed"
    )
    keep(replayed)
    for n in range(7, 9):  # live again, through process A
        await aemit(streams, n)
    keep(await on_a.events(4))

    for name in streams:
        expected = [base[name] + n for n in range(1, 9)]
        assert seen[name] == expected, (name, seen[name])
        assert reply["streams"][name]["offset"] == base[name] + 6
    await on_a.ws.close()

    # The stopped process comes back on its port and serves again.
    await asyncio.to_thread(topology.start_process, 1)
    again = Socket(topology, 1, cookie)
    await again.open()
    await again.request({"type": "resume", "id": "r2", "streams": positions}, "resumed")
    await aemit(streams, 9)
    frames = await again.events(2)
    assert sorted((f["stream"], f["offset"]) for f in frames) == sorted(
        (name, base[name] + 9) for name in streams
    )
    await again.ws.close()
