"""The hub on a Redis Cluster: sharded pub/sub between real processes (issue 16).

``REDIS_CLUSTER_URL`` without ``REDIS_URL``, or not a Redis URL, stops the
settings with a clear message.

SLOW (about 40 s each, mostly starting processes): the other tests start six
``redis-server`` processes made into a cluster (3 masters, 3 replicas:
``scripts/redis_cluster.py``) and uvicorn
processes of the hub with ``REDIS_CLUSTER_URL`` (``scripts.topology``). Only
on the PostgreSQL + Redis pass of the suite, like tests/test_topology.py
(several processes share the test database; ``REDIS_URL`` keeps the throttle
cache). Without ``redis-server`` or ``redis-cli`` the tests fail: ``.ci/run``
installs them.

- An event written through one process (an HTTP action) and events written by
  this process reach sockets on the others, on streams whose channels live on
  three different shards.
- A master serving a followed stream stops while events keep being written:
  once its replica is promoted the process subscribes again on it, and the
  socket gets every event once, in order (those published while nobody
  listened come from the log).
"""

import asyncio
import contextlib
import json
import time
import uuid

import pytest
from channels.db import database_sync_to_async
from redis.crc import key_slot

from hub.realtime.publish import channel_prefix
from scripts.redis_cluster import RedisCluster
from scripts.topology import Topology
from tests.test_security_headers import run_settings
from tests.test_topology import (
    REDIS_URL,
    Socket,
    _database_url,
    aemit,
    post_message,
    session_of,
)
from tests.test_topology import pytestmark as topology_marks

TIMEOUT = 30
SHOW = "from django.conf import settings; print(settings.REDIS_CLUSTER_URL)"


def with_processes(test):
    """test_topology's skips and marks: PostgreSQL and Redis, slow."""
    for mark in topology_marks:
        test = mark(test)
    return test


def test_a_cluster_url_needs_the_standalone_redis_too(tmp_path):
    env = {"DEBUG": "1", "VAR_DIR": str(tmp_path)}
    seed = "redis://127.0.0.1:7000"
    alone = run_settings({**env, "REDIS_CLUSTER_URL": seed}, SHOW)
    assert alone.returncode != 0
    assert "REDIS_CLUSTER_URL needs REDIS_URL too" in alone.stderr
    both = {**env, "REDIS_URL": "redis://127.0.0.1:6379/0"}
    ok = run_settings({**both, "REDIS_CLUSTER_URL": seed}, SHOW)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == seed


def test_a_cluster_url_must_be_a_redis_url(tmp_path):
    env = {"DEBUG": "1", "VAR_DIR": str(tmp_path), "REDIS_URL": "redis://h:6379/0"}
    for wrong in ("127.0.0.1:7000", "http://127.0.0.1:7000"):
        refused = run_settings({**env, "REDIS_CLUSTER_URL": wrong}, SHOW)
        assert refused.returncode != 0
        assert "REDIS_CLUSTER_URL must be a redis:// or rediss:// URL" in refused.stderr


def spread_prefix(cluster: RedisCluster, streams: list[str]) -> str:
    """A channel prefix that puts each stream's channel on another master."""
    ranges = cluster.slots()

    def master(channel: str) -> int:
        slot = key_slot(channel.encode())
        return next(port for low, high, port in ranges if low <= slot <= high)

    for _ in range(1000):
        prefix = f"clustertest{uuid.uuid4().hex[:10]}"
        masters = {master(f"{prefix}:s:{name}") for name in streams}
        if len(masters) == len(streams):
            return prefix
    raise AssertionError("no prefix spreads the streams over the shards")


@pytest.fixture
def on_cluster(transactional_db, settings, monkeypatch, redis_cluster):
    """Return ``start(asgi, streams)``: hub processes on ``redis_cluster``,
    with a channel prefix spreading ``streams`` over its masters; this
    process publishes there too. Stopped afterwards."""
    started = []

    def start(asgi: int, streams: list[str]) -> Topology:
        prefix = spread_prefix(redis_cluster, streams)
        settings.HUB_CHANNEL_PREFIX = prefix
        settings.REDIS_CLUSTER_URL = redis_cluster.url
        monkeypatch.setattr("hub.realtime.publish._publisher", None)
        topo = Topology(
            asgi=asgi,
            server="uvicorn",
            database_url=_database_url(),
            migrate=False,
            redis_url=REDIS_URL,
            channel_prefix=prefix,
            env={
                "SECRET_KEY": settings.SECRET_KEY,
                "MESSAGE_KEYS": ",".join(settings.MESSAGE_KEYS),
                "REDIS_CLUSTER_URL": redis_cluster.url,
                "LOG_LEVEL": "INFO",
            },
            startup_timeout=30,
            stop_timeout=5,
        )
        started.append(topo)
        return topo.start()

    yield start
    for topo in started:
        topo.stop()


def subscribers(cluster: RedisCluster, channel: str) -> int:
    """``PUBSUB SHARDNUMSUB`` of ``channel`` on the master serving it now."""
    port = cluster.master_of(channel)
    reply = cluster.cli("-p", str(port), "pubsub", "shardnumsub", channel)
    return int(reply.split()[-1])


async def collect(socket: Socket, expected: dict[str, int]) -> dict[str, list[int]]:
    """Read event frames until each stream has ``expected[stream]`` of them;
    return the offsets per stream, in the order received."""
    seen = {name: [] for name in expected}
    deadline = time.monotonic() + TIMEOUT
    while any(len(seen[name]) < count for name, count in expected.items()):
        try:
            text = await asyncio.wait_for(socket.ws.recv(), deadline - time.monotonic())
        except TimeoutError:
            pytest.fail(f"missing events: got {seen}, expected {expected} per stream")
        frame = json.loads(text)
        assert frame["type"] == "event", frame
        seen[frame["stream"]].append(frame["offset"])
    return seen


async def assert_silent(socket: Socket) -> None:
    """Nothing more arrives (no event twice)."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(socket.ws.recv(), 1)


async def subscribe(socket: Socket, streams: list[str]) -> dict[str, int]:
    await socket.open()
    _, reply = await socket.request(
        {"type": "subscribe", "id": "s", "streams": streams}, "subscribed"
    )
    return {name: reply["streams"][name]["offset"] for name in streams}


@with_processes
async def test_events_cross_processes_on_three_shards(
    school, on_cluster, redis_cluster
):
    from core.messaging import actions

    teacher, parent = school.teacher, school.parent
    streams = [
        f"user:{parent.pk}",
        f"class:{school.class_4b.pk}",
        f"org:{school.org.pk}",
    ]
    topo = await asyncio.to_thread(on_cluster, 2, streams)
    conversation = await database_sync_to_async(actions.start_conversation)(
        sender=teacher,
        org=school.org,
        subject="Sortie",
        recipients=[parent],
        body="Bonjour",
        idempotency_key=uuid.uuid4().hex,
    )
    cookie = await session_of(parent)
    on_a, on_b = Socket(topo, 0, cookie), Socket(topo, 1, cookie)
    base = await subscribe(on_b, streams)
    assert await subscribe(on_a, streams) == base
    # Each stream's channel on its own master, subscribed by both processes.
    channels = [channel_prefix() + name for name in streams]
    assert len({redis_cluster.master_of(c) for c in channels}) == 3
    assert [subscribers(redis_cluster, c) for c in channels] == [2, 2, 2]

    # An HTTP action through process A: the teacher posts a message, which
    # lands on the parent's user stream.
    await post_message(topo.urls[0], conversation, teacher)
    # hub.send_event from this (third) process, on the three streams.
    await aemit(streams, n=1)

    expected = {streams[0]: 2, streams[1]: 1, streams[2]: 1}
    for socket in (on_b, on_a):
        seen = await collect(socket, expected)
        for name, count in expected.items():
            assert seen[name] == [base[name] + k for k in range(1, count + 1)]
        await assert_silent(socket)
        await socket.ws.close()


@with_processes
async def test_a_master_failover_loses_and_doubles_nothing(
    school, on_cluster, redis_cluster
):
    parent = school.parent
    streams = [
        f"user:{parent.pk}",
        f"class:{school.class_4b.pk}",
        f"org:{school.org.pk}",
    ]
    topo = await asyncio.to_thread(on_cluster, 1, streams)
    socket = Socket(topo, 0, await session_of(parent))
    base = await subscribe(socket, streams)
    written = dict.fromkeys(streams, 0)

    async def write(names: list[str]) -> None:
        await aemit(names, n=1)
        for name in names:
            written[name] += 1

    await write(streams)
    assert await collect(socket, written) == {
        name: [base[name] + 1] for name in streams
    }

    # The master of the user stream's channel stops while events keep coming.
    victim_stream = streams[0]
    channel = channel_prefix() + victim_stream
    victim = redis_cluster.master_of(channel)
    writing = True

    async def keep_writing() -> None:
        while writing:
            await write([victim_stream])
            await asyncio.sleep(0.1)

    writer = asyncio.create_task(keep_writing())
    await asyncio.sleep(0.3)
    stopped = time.monotonic()
    await asyncio.to_thread(redis_cluster.stop_node, victim)
    while True:  # until a replica serves the slot
        assert time.monotonic() - stopped < TIMEOUT, "no replica took over"
        with contextlib.suppress(Exception):
            if await asyncio.to_thread(redis_cluster.master_of, channel) != victim:
                break
        await asyncio.sleep(0.05)
    promoted = time.monotonic()
    writing = False
    await writer
    # Published to the new master: if the process has not subscribed there
    # yet, nobody hears it, and only its log can bring it to the socket.
    listening = await asyncio.to_thread(subscribers, redis_cluster, channel)
    await write([victim_stream])
    while await asyncio.to_thread(subscribers, redis_cluster, channel) != 1:
        assert time.monotonic() - promoted < TIMEOUT, "never subscribed again"
        await asyncio.sleep(0.05)
    resubscribed = time.monotonic()
    print(
        f"\nfailover: replica promoted {promoted - stopped:.2f} s after the master "
        f"stopped, the process subscribed on it {resubscribed - stopped:.2f} s "
        f"after; {written[victim_stream] - 1} events written meanwhile; "
        f"{listening} subscriber(s) on the new master when the last was written"
    )

    seen = await collect(socket, {victim_stream: written[victim_stream] - 1})
    await write(streams)  # live on every shard again
    later = await collect(socket, dict.fromkeys(streams, 1))
    for name in streams:
        offsets = [base[name] + 1] + seen.get(name, []) + later[name]
        assert offsets == [base[name] + k for k in range(1, written[name] + 1)]
    await assert_silent(socket)
    await socket.ws.close()
    log = (topo.log_dir / "asgi-1.log").read_text()
    assert "Redis subscribed 1 stream(s) again" in log, log[-3000:]
