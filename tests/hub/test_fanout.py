"""The process-local fan-out (hub.realtime.fanout, ARCHITECTURE.md P4): one
subscription per process, slow sockets closed, Redis outages caught up."""

import asyncio
import contextlib

import pytest
from django.conf import settings

from hub.realtime.consumer import HubConsumer
from hub.realtime.fanout import fanout_for_running_loop
from hub.realtime.protocol import CLOSE_TOO_SLOW
from tests.hub.helpers import aemit, assert_silent, receive, receive_close, request

pytestmark = pytest.mark.django_db(transaction=True)
needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")


async def follow(socket, name):
    reply = await request(socket, {"type": "subscribe", "streams": [name]})
    assert reply["type"] == "subscribed"


async def test_many_sockets_share_one_follower_entry_per_stream(school, sockets):
    name = f"class:{school.class_4b.pk}"
    opened = [
        await sockets(user) for user in (school.pupil, school.pupil2, school.teacher)
    ]
    for socket in opened:
        await follow(socket, name)
    fanout = fanout_for_running_loop()
    assert len(fanout.followers[name]) == 3
    if settings.REDIS_URL:
        assert fanout.subscribed == {name} or name in fanout.subscribed

    (envelope,) = await aemit([name], n=1)
    for socket in opened:
        frame = await receive(socket)
        assert (frame["stream"], frame["offset"]) == (name, 1)
    await opened[0].send_json_to({"type": "unsubscribe", "streams": [name]})
    assert (await receive(opened[0]))["type"] == "unsubscribed"
    assert len(fanout.followers[name]) == 2


async def test_a_socket_that_does_not_read_is_closed_with_4408(
    school, sockets, monkeypatch
):
    name = f"user:{school.pupil.pk}"
    socket = await sockets(school.pupil)
    await follow(socket, name)
    # Its transport holds more unsent bytes than allowed.
    monkeypatch.setattr(
        HubConsumer,
        "_unsent_bytes",
        lambda self: settings.HUB_SEND_BUFFER_BYTES + 1,
    )
    await aemit([name], n=1)
    assert await receive_close(socket) == ([], CLOSE_TOO_SLOW)
    assert name not in fanout_for_running_loop().followers


async def test_a_slow_socket_does_not_hold_back_the_others(
    school, sockets, monkeypatch
):
    name = f"class:{school.class_4b.pk}"
    slow = await sockets(school.pupil)
    fast = await sockets(school.pupil2)
    await follow(slow, name)
    await follow(fast, name)
    slow_user = school.pupil.pk
    monkeypatch.setattr(
        HubConsumer,
        "_unsent_bytes",
        lambda self: 10**9 if self.user.pk == slow_user else 0,
    )
    for n in range(1, 4):
        await aemit([name], n=n)
    assert [(await receive(fast))["offset"] for _ in range(3)] == [1, 2, 3]
    assert await receive_close(slow) == ([], CLOSE_TOO_SLOW)


@needs_redis
async def test_the_subscription_comes_back_after_redis_drops_it(
    school, sockets, monkeypatch
):
    """Redis kills the process's subscription; an event written meanwhile
    (its publish lost too) still reaches the socket, once, from the log."""
    import redis.asyncio as aioredis

    name = f"class:{school.class_4b.pk}"
    socket = await sockets(school.teacher)
    await follow(socket, name)
    fanout = fanout_for_running_loop()
    assert fanout.connected

    monkeypatch.setattr(
        "hub.realtime.publish.ring", lambda envelopes: None
    )  # publish lost
    admin = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        # Only this process's subscription: others share this Redis.
        ours = [
            c["id"]
            for c in await admin.client_list(_type="pubsub")
            if c.get("name") == fanout.client_name
        ]
        killed = sum([await admin.client_kill_filter(_id=i) for i in ours])
    finally:
        await admin.aclose()
    assert killed >= 1
    await aemit([name], n=1)
    monkeypatch.undo()

    frame = await receive(socket)
    assert (frame["type"], frame["stream"], frame["offset"]) == ("event", name, 1)
    await assert_silent(socket)
    # And live events flow again through the new subscription.
    await aemit([name], n=2)
    assert (await receive(socket))["offset"] == 2
    for _ in range(50):
        if fanout.connected:
            break
        await asyncio.sleep(0.1)
    assert fanout.connected


def test_the_transport_is_found_behind_channels_session_wrapper():
    """Channels' session middleware wraps the server's ``send``
    (``InstanceSessionWrapper.send`` over ``real_send``): the backlog bound
    must still see the server's transport, on Daphne and on uvicorn."""
    import functools

    from hub.realtime.base import _transport_of

    class Protocol:
        transport = object()

        async def handle_reply(self, message):  # Daphne: partial(handle_reply, p)
            pass

        async def asgi_send(self, message):  # uvicorn: a bound method
            pass

    class Wrapper:
        def __init__(self, real_send):
            self.real_send = real_send

        async def send(self, message):
            await self.real_send(message)

    protocol = Protocol()
    daphne = functools.partial(Protocol.handle_reply, protocol)
    assert _transport_of(Wrapper(daphne).send) is protocol.transport
    assert _transport_of(Wrapper(protocol.asgi_send).send) is protocol.transport
    assert _transport_of(lambda message: None) is None


@needs_redis
async def test_the_subscription_follows_many_comings_and_goings(monkeypatch):
    """``_sync`` looks only at the streams touched since it last ran: after
    many follows and unfollows (some undone before a sync), Redis holds
    exactly the followed streams; after the connection is killed, the new one
    subscribes to all of them again."""
    import redis.asyncio as aioredis

    from hub.realtime.fanout import LocalFanout

    fanout = LocalFanout(asyncio.get_running_loop())
    fanout.prefix = f"{fanout.prefix}sync-{id(fanout)}:"
    fanout.client_name = fanout.prefix.replace(":", "-")

    class Page:
        caught_up = 0

        def catch_up_later(self):  # after a reconnection
            self.caught_up += 1

    pages = [Page() for _ in range(3)]
    admin = aioredis.Redis.from_url(settings.REDIS_URL)

    async def in_redis() -> set[str]:
        channels = await admin.pubsub_channels(fanout.prefix + "*")
        return {c.decode()[len(fanout.prefix) :] for c in channels}

    async def settled(expected: set[str]) -> None:
        for _ in range(100):
            if await in_redis() == expected and fanout.confirmed == expected:
                break
            await asyncio.sleep(0.05)
        assert fanout.subscribed == expected
        assert fanout.confirmed == expected
        assert await in_redis() == expected

    try:
        names = [f"user:{n}" for n in range(60)]
        await asyncio.gather(*(fanout.follow(pages[0], n) for n in names))
        await asyncio.gather(*(fanout.follow(pages[1], n) for n in names[:10]))
        await settled(set(names))
        for name in names[:30]:  # page 1 still follows the first ten
            fanout.unfollow(pages[0], name)
        fanout.unfollow(pages[1])
        # Followed again before the fan-out syncs: never unsubscribed.
        await fanout.follow(pages[2], names[5])
        await settled({names[5], *names[30:]})

        killed = 0
        for client in await admin.client_list(_type="pubsub"):
            if client.get("name") == fanout.client_name:
                killed += await admin.client_kill_filter(_id=client["id"])
        assert killed == 1
        await fanout.follow(pages[2], "user:new")  # the first sync after it
        await settled({names[5], "user:new", *names[30:]})
        assert [page.caught_up for page in pages] == [1, 0, 1]

        fanout.unfollow(pages[0])
        fanout.unfollow(pages[2])
        await settled(set())
    finally:
        if fanout.task is not None:
            fanout.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fanout.task
        await admin.aclose()
