"""Control messages through the process fan-out (hub.realtime.fanout, decision 0005):
close, recheck and ephemeral relays reach the sockets of a user or a session
in any process, without a channel-layer channel per socket.

Another process is stood for by another event loop in a thread with its own
:class:`hub.realtime.fanout.LocalFanout` (with Redis: its own subscription).
"""

import asyncio
import json
import logging
import threading

import pytest
import redis
from channels.db import database_sync_to_async

from hub.realtime import control, fanout_control
from hub.realtime.control import session_target, user_target
from hub.realtime.fanout import LocalFanout, fanout_for_running_loop
from tests.hub.helpers import (
    assert_serving,
    assert_silent,
    receive,
    receive_close,
    request,
)
from tests.messaging.helpers import start

pytestmark = pytest.mark.django_db(transaction=True)

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens there


class Recorder:
    """A consumer of the other process: records what the fan-out queues to it."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.arrived = threading.Event()

    def _queue(self, message: dict) -> None:
        self.messages.append(message)
        self.arrived.set()


class OtherProcess:
    """An event loop in a thread with its own fan-out."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fanout = self.run(self._fanout())

    async def _fanout(self):
        return fanout_for_running_loop()

    def run(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def arun(self, coroutine):
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return await asyncio.wrap_future(future)

    def stop(self) -> None:
        async def idle():
            for _ in range(100):
                if self.fanout.task is None or self.fanout.task.done():
                    return
                await asyncio.sleep(0.05)

        self.run(idle())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def other_process():
    process = OtherProcess()
    yield process
    process.stop()


async def test_a_control_message_from_another_process_reaches_its_socket(
    school, sockets, other_process
):
    teacher = await sockets(school.teacher)
    pupil = await sockets(school.pupil)
    recorder = Recorder()
    far = other_process.fanout
    await other_process.arun(far.join(recorder, [user_target(school.parent.pk)]))

    # The other process closes the teacher's sockets (here).
    close = {"type": "hub.close", "reason": "password_changed"}
    await other_process.arun(
        far.send_control([(user_target(school.teacher.pk), close)])
    )
    frames, code = await receive_close(teacher)
    assert code == 4403
    assert [json.loads(f["text"]) for f in frames] == [
        {"type": "bye", "reason": "password_changed"}
    ]
    await assert_serving(pupil)

    # And this process reaches the other's socket of the parent, only.
    await fanout_for_running_loop().send_control(
        [(user_target(school.parent.pk), {"type": "hub.recheck"})]
    )
    await asyncio.to_thread(recorder.arrived.wait, 5)
    assert recorder.messages == [{"type": "hub.recheck"}]

    await other_process.arun(_leave(far, recorder, [user_target(school.parent.pk)]))


async def _leave(far, consumer, targets):
    far.leave(consumer, targets)


async def test_a_sync_sender_reaches_sockets_of_every_process(
    school, sockets, other_process
):
    """``hub.realtime.control`` senders (signals, on commit) publish to every process."""
    socket = await sockets(school.teacher)
    recorder = Recorder()
    far = other_process.fanout
    await other_process.arun(far.join(recorder, [user_target(school.teacher.pk)]))
    reply = await request(
        socket, {"type": "subscribe", "streams": [f"class:{school.class_4b.pk}"]}
    )
    assert reply["type"] == "subscribed"

    await asyncio.to_thread(control.recheck_user_sockets, [school.teacher.pk])

    await asyncio.to_thread(recorder.arrived.wait, 5)
    assert recorder.messages == [{"type": "hub.recheck"}]
    # Still allowed: the recheck here drops nothing and says nothing.
    await assert_silent(socket)
    await assert_serving(socket)
    await other_process.arun(_leave(far, recorder, [user_target(school.teacher.pk)]))


async def test_closing_a_session_closes_only_the_sockets_of_that_session(
    school, sockets
):
    phone = await sockets(school.parent)
    phone_tab = await sockets(None, cookie=phone.cookie)
    laptop = await sockets(school.parent)

    await asyncio.to_thread(control.close_session_sockets, phone.cookie, "logout")

    for socket in (phone, phone_tab):
        assert (await receive_close(socket))[1] == 4403
    await assert_serving(laptop)


async def test_a_closed_socket_leaves_its_control_targets(school, sockets):
    socket = await sockets(school.teacher)
    local = fanout_for_running_loop()
    targets = [user_target(school.teacher.pk), session_target(socket.cookie)]
    assert all(len(local.addressed[target]) == 1 for target in targets)

    await socket.disconnect(timeout=5)

    assert not any(target in local.addressed for target in targets)
    if local.redis:
        # No socket left: the subscription lets go of the control channel.
        for _ in range(50):
            if not local.control_subscribed:
                break
            await asyncio.sleep(0.1)
        assert not local.control_subscribed


async def test_a_malformed_control_message_is_ignored(school, sockets, settings):
    socket = await sockets(school.teacher)
    local = fanout_for_running_loop()
    if settings.REDIS_URL:
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        try:
            for junk in ("not json", "[]", '{"target": 5}', '{"message": {}}'):
                await client.publish(local.control, junk)
        finally:
            await client.aclose()
    else:
        for junk in ("not json", "[]", '{"target": 5}', '{"message": {}}'):
            local._on_control(junk)
    await assert_serving(socket)


async def test_senders_do_not_raise_when_redis_is_down(settings, monkeypatch, caplog):
    settings.REDIS_URL = DEAD_REDIS
    monkeypatch.setattr("hub.realtime.publish._publisher", None)
    caplog.set_level(logging.ERROR, logger="hub.realtime.publish")

    await asyncio.to_thread(control.close_user_sockets, 1, "deactivated")
    await asyncio.to_thread(control.close_session_sockets, "some-session", "logout")
    await asyncio.to_thread(control.recheck_user_sockets, [1, 2])
    await LocalFanout(asyncio.get_running_loop()).send_control(
        [(user_target(1), {"type": "hub.ephemeral", "frame": {"type": "typing"}})]
    )

    failures = [r for r in caplog.records if "could not publish" in r.getMessage()]
    assert len(failures) == 4


async def test_typing_while_redis_is_down_keeps_the_sender_serving(
    school, sockets, monkeypatch
):
    conversation = await database_sync_to_async(start)(
        school, school.teacher, [school.parent]
    )
    alice = await sockets(school.teacher)
    karim = await sockets(school.parent)
    local = fanout_for_running_loop()
    if local.redis:
        monkeypatch.setattr(
            "hub.realtime.publish._publisher", redis.Redis.from_url(DEAD_REDIS)
        )

    await alice.send_json_to({"type": "typing", "conversation": conversation.pk})

    await assert_serving(alice)
    if local.redis:
        await assert_silent(karim)  # lost, as a pub/sub message is
    else:
        assert (await receive(karim))["type"] == "typing"


async def test_a_late_joiner_gets_the_lasting_messages_since_its_read(
    monkeypatch, settings
):
    """``join(since=...)``: ``hub.close`` and ``hub.recheck`` received since
    then are queued to the joining socket; typing and older messages are not;
    the memory is bounded in time and in count."""
    monkeypatch.setattr(fanout_control, "RECENT_CONTROL_MAX", 3)
    settings.REDIS_URL = ""
    local = LocalFanout(asyncio.get_running_loop())
    target = user_target(7)
    local.deliver_control(target, {"type": "hub.close", "reason": "before the read"})
    since = local.loop.time()
    local.deliver_control(target, {"type": "hub.close", "reason": "password_changed"})
    local.deliver_control(target, {"type": "hub.ephemeral", "frame": {}})
    local.deliver_control(user_target(8), {"type": "hub.recheck"})

    late = Recorder()
    await local.join(late, [target], since=since)
    assert late.messages == [{"type": "hub.close", "reason": "password_changed"}]
    on_time = Recorder()
    await local.join(on_time, [target])  # no since: from now on only
    assert on_time.messages == []

    # At most RECENT_CONTROL_MAX kept: the oldest go first.
    for n in range(3):
        local.deliver_control(user_target(9), {"type": "hub.recheck", "n": n})
    assert sum(len(kept) for kept in local.recent.values()) == 3
    assert user_target(8) not in local.recent
    assert [m["n"] for _, m in local.recent[user_target(9)]] == [0, 1, 2]
    # And none older than RECENT_CONTROL_SECONDS.
    monkeypatch.setattr(fanout_control, "RECENT_CONTROL_SECONDS", 0.0)
    await asyncio.sleep(0.01)
    local.deliver_control(user_target(10), {"type": "hub.recheck"})
    assert list(local.recent) == [user_target(10)]
