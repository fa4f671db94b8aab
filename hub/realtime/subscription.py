"""The one Redis subscription of a process's fan-out: kept in step with the
streams its sockets follow and with the control channel, reconnected with
back-off, and the catch-up from the log when Redis lost messages (P1).
"""

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

RECONNECT_MAX_SECONDS = 5.0
# Control messages that change what a socket may do (its close, its readable
# Sharded pub/sub's message types, as the plain ones the subscription handles.
SHARDED_TYPES = {"ssubscribe": "subscribe", "smessage": "message"}


class Subscription:
    """The Redis side of :class:`hub.realtime.fanout.LocalFanout`."""

    # Set by LocalFanout.__init__.
    loop: asyncio.AbstractEventLoop
    followers: dict[str, set]
    addressed: dict[str, list]
    redis: str
    cluster: str
    prefix: str
    client_name: str
    control: str
    pubsub: object
    subscribed: set[str]
    confirmed: set[str]
    resubscribed: set[str]
    touched: set[str]
    resync: bool
    waiting: dict[str, list[asyncio.Future]]
    control_subscribed: bool
    control_confirmed: bool
    control_waiting: list[asyncio.Future]
    task: asyncio.Task | None
    changed: asyncio.Event
    connected: bool
    # Defined by the fan-out: events and control messages read here go there.
    dispatch: Callable[[str], Awaitable[int]]
    _on_control: Callable[[str], None]

    def _wake(self) -> None:
        if self.task is None or self.task.done():
            # In a context of its own: not the log context (request id,
            # user) of the socket that happened to start it.
            self.task = self.loop.create_task(
                self._run(), name="hub-fanout", context=contextvars.Context()
            )
        self.changed.set()

    async def _run(self) -> None:
        """Keep one subscription in step with ``followers``; reconnect on loss."""
        delay = 0.1
        while self._wanted():
            client = (
                aioredis.RedisCluster if self.cluster else aioredis.Redis
            ).from_url(
                self.cluster or self.redis,
                socket_connect_timeout=2,
                health_check_interval=10,
                client_name=self.client_name,
            )
            pubsub = client.pubsub()
            try:
                self._forget_subscriptions()
                await self._sync(pubsub)
                if self.connected is False and delay > 0.1:
                    self._catch_up_everyone()
                self.connected = True
                delay = 0.1
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.connected:
                    logger.warning("Redis subscription lost (%s); reconnecting", error)
                self.connected = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            finally:
                self._forget_subscriptions()
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:
                    pass
        self.task = None

    def _wanted(self) -> bool:
        """Whether the subscription has anything to listen to or to undo."""
        return bool(
            self.followers
            or self.subscribed
            or self.addressed
            or self.control_subscribed
        )

    def _forget_subscriptions(self) -> None:
        self.subscribed, self.confirmed, self.resubscribed = set(), set(), set()
        self.control_subscribed = self.control_confirmed = False
        self.resync = True

    async def _sync(self, pubsub) -> None:
        control = bool(self.addressed)
        if control and not self.control_subscribed:
            await self._subscribe(pubsub, [self.control])
            self.control_subscribed = True
        elif not control and self.control_subscribed:
            await self._unsubscribe(pubsub, [self.control])
            self.control_subscribed = self.control_confirmed = False
        touched, self.touched = self.touched, set()
        if self.resync:  # a new connection: every stream followed
            self.resync = False
            touched = set(self.followers)
        followers, subscribed = self.followers, self.subscribed
        new = [name for name in touched if name in followers and name not in subscribed]
        gone = [
            name for name in touched if name not in followers and name in subscribed
        ]
        if new:
            await self._subscribe(pubsub, [self.prefix + name for name in new])
        if gone:
            await self._unsubscribe(pubsub, [self.prefix + name for name in gone])
        self.subscribed.update(new)
        self.subscribed.difference_update(gone)
        self.confirmed.difference_update(gone)

    async def _subscribe(self, pubsub, channels: list[str]) -> None:
        if self.cluster:
            await pubsub.ssubscribe(*channels)
        else:
            await pubsub.subscribe(*channels)

    async def _unsubscribe(self, pubsub, channels: list[str]) -> None:
        if self.cluster:
            await pubsub.sunsubscribe(*channels)
        else:
            await pubsub.unsubscribe(*channels)

    async def _next_message(self, pubsub) -> dict | None:
        """The next message, sharded types named as plain ones; ``None`` after
        0.2 s without one."""
        if not self.cluster:
            return await pubsub.get_message(timeout=0.2)
        message = await pubsub.get_sharded_message(timeout=0.2)
        if message is not None:
            message["type"] = SHARDED_TYPES.get(message["type"], message["type"])
        return message

    async def _listen(self, pubsub) -> None:
        skip = len(self.prefix)
        while self._wanted():
            if self.changed.is_set():
                self.changed.clear()
                await self._sync(pubsub)
                if not self.subscribed and not self.control_subscribed:
                    return
            message = await self._next_message(pubsub)
            if message is None or message["type"] != "subscribe":
                if self.resubscribed:
                    self._catch_up_resubscribed()
                if message is None:
                    continue
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            if channel == self.control:
                self._control_message(message)
                continue
            name = channel[skip:]
            if message["type"] == "subscribe":
                if name in self.confirmed:
                    # Subscribed again by redis-py itself (a reconnect, a
                    # failover): what was published meanwhile reached no one.
                    self.resubscribed.add(name)
                elif name in self.subscribed:  # not unsubscribed since
                    self.confirmed.add(name)
                for waiter in self.waiting.pop(name, []):
                    if not waiter.done():
                        waiter.set_result(None)
            elif message["type"] == "message" and name in self.followers:
                data = message["data"]
                await self.dispatch(
                    data.decode("utf-8") if isinstance(data, bytes) else data
                )

    def _control_message(self, message: dict) -> None:
        if message["type"] == "subscribe":
            self.control_confirmed = self.control_subscribed
            waiting, self.control_waiting = self.control_waiting, []
            for waiter in waiting:
                if not waiter.done():
                    waiter.set_result(None)
        elif message["type"] == "message":
            data = message["data"]
            self._on_control(data.decode("utf-8") if isinstance(data, bytes) else data)

    def _catch_up_everyone(self) -> None:
        """After an outage: every local socket re-reads its streams' log."""
        count = self._catch_up(self.followers)
        logger.info("Redis is back: %d socket(s) catch up from the log", count)

    def _catch_up_resubscribed(self) -> None:
        """After redis-py subscribed again by itself: the followers of those
        streams re-read their log (once each, however many streams)."""
        names, self.resubscribed = self.resubscribed, set()
        count = self._catch_up(names)
        logger.info(
            "Redis subscribed %d stream(s) again: %d socket(s) catch up from the log",
            len(names),
            count,
        )

    def _catch_up(self, names) -> int:
        consumers = {c for name in names for c in self.followers.get(name, ())}
        for consumer in consumers:
            consumer.catch_up_later()
        return len(consumers)
