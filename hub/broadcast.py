"""Process-local fan-out of stream events and control messages (ARCHITECTURE.md P4).

The channel layer gives every socket its own queue and task wake-up per
event: at 4,000 sockets that costs ~15x the floor (docs/decisions/0002). So
events take another road to sockets:

- the writer publishes each event **once** per stream on Redis (channel
  ``<prefix>:s:<stream>``), as the ``event`` frame's JSON text
  (:func:`publish`, after the transaction commits);
- each server process holds **one** Redis subscription (:class:`LocalFanout`)
  for the streams its sockets follow, subscribing when the first local socket
  follows a stream and unsubscribing after the last leaves;
- a message is decoded once per process and framed once
  (:func:`text_frame`), and the same bytes are written to every local socket
  following the stream, from the subscription's task
  (:meth:`hub.consumers.HubConsumer.offer`): straight to the transport on
  uvicorn (``hub.uvicorn_ws``'s ``write_frame``), through the ASGI ``send``
  elsewhere (Daphne, a socket that compresses); no per-socket queue, no
  per-socket task;
- a socket that cannot take the event in order (a gap, another epoch, a
  replay in progress) gets it through its own serial handler instead, which
  reads the log; a socket whose unsent bytes pass ``HUB_SEND_BUFFER_BYTES``
  is closed with 4408 and resumes from its offsets when it reconnects, so a
  slow phone cannot grow the server's memory.

Control messages (close a user's or a session's sockets, ``hub.recheck``,
ephemeral relays such as typing) take the same road, not the channel layer
(docs/decisions/0005): a sender publishes ``{"target": "user:<id>" |
"session:<key>", "message": {...}}`` on the one channel ``<prefix>:control``
(:func:`publish_control`, :meth:`LocalFanout.send_control`); the same
subscription listens to it while the process has an authenticated socket,
and hands the message to each local consumer of the target through
:meth:`hub.consumers.HubConsumer._queue`, in that consumer's turn. Like the
pub/sub layer before it, delivery is best effort: a message sent while Redis
is away is lost (and logged).

When Redis goes away the subscription reconnects by itself (back-off up to
5 s); once back, every local socket re-reads the log of the streams it
follows, so nothing written meanwhile is missed (P1). When Redis confirms a
channel it had already confirmed, the client library subscribed again by
itself (a dropped connection, a failover): the followers of that stream
re-read its log too. Without Redis (the embedded default, one process) events
and control messages go straight to the process's loops.

With ``REDIS_CLUSTER_URL`` (docs/scaling.md, "Redis Cluster") the same
channels are sharded channels of a Redis Cluster: ``SPUBLISH`` and
``SSUBSCRIBE`` through redis-py's cluster clients, so each stream's channel
lives on the shard of its hash slot, and the subscription holds one
connection per shard that has a followed stream. redis-py moves a channel to
its slot's new master after a failover or a slot migration; the confirmation
of that new subscription is what makes the followers catch up.
"""

import asyncio
import collections
import contextlib
import contextvars
import json
import logging
import threading
import weakref
from collections.abc import Iterable

# Imported with the module, not on the first socket: a survivor of a
# reconnect storm spent a second importing it while every socket waited for
# the subscription (bench S5).
import redis
import redis.asyncio as aioredis
from django.conf import settings
from websockets.frames import Frame, Opcode

from core import metrics

logger = logging.getLogger(__name__)

RECONNECT_MAX_SECONDS = 5.0
# Control messages that change what a socket may do (its close, its readable
# streams) are kept this long (seconds), at most RECENT_CONTROL_MAX of them,
# for sockets joining a target late (LocalFanout.join's ``since``). Longer
# than a session may wait for its database call in a reconnect storm.
RECENT_CONTROL_SECONDS = 120.0
RECENT_CONTROL_MAX = 20_000
LASTING_CONTROL = frozenset({"hub.close", "hub.recheck"})
# Sharded pub/sub's message types, as the plain ones the subscription handles.
SHARDED_TYPES = {"ssubscribe": "subscribe", "smessage": "message"}


def channel_prefix() -> str:
    """The Redis channel prefix of streams: ``<HUB_CHANNEL_PREFIX>:s:`` (tests
    isolate with it)."""
    return f"{settings.HUB_CHANNEL_PREFIX}:s:"


def control_channel() -> str:
    """The one Redis channel of control messages: ``<HUB_CHANNEL_PREFIX>:control``."""
    return f"{settings.HUB_CHANNEL_PREFIX}:control"


def user_target(user_id: int) -> str:
    """The control target of every socket of one user."""
    return f"user:{user_id}"


def session_target(session_key: str) -> str:
    """The control target of the sockets opened with one session (a device)."""
    return f"session:{session_key}"


def token_target(token_id: int) -> str:
    """The control target of the sockets opened with one API access token."""
    return f"token:{token_id}"


def text_frame(text: str) -> bytes:
    """``text`` as one WebSocket text frame of a server with no extension
    (unmasked, RFC 6455 §5.2), serialized by ``websockets`` as uvicorn's
    ``send`` would: made once per event and process, written as is to every
    socket that can take it (``hub.uvicorn_ws``'s ``write_frame``)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


_local_lock = threading.Lock()
_fanouts: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LocalFanout]" = (
    weakref.WeakKeyDictionary()
)
_publisher: redis.Redis | redis.RedisCluster | None = None


def fanout_for_running_loop() -> "LocalFanout":
    """Return this event loop's :class:`LocalFanout`, created on first use."""
    loop = asyncio.get_running_loop()
    with _local_lock:
        fanout = _fanouts.get(loop)
        if fanout is None:
            fanout = _fanouts[loop] = LocalFanout(loop)
            from hub import lifecycle

            lifecycle.install(loop, fanout.sockets)
    return fanout


def _redis_publisher():
    global _publisher
    if _publisher is None:
        if settings.REDIS_CLUSTER_URL:
            _publisher = redis.RedisCluster.from_url(
                settings.REDIS_CLUSTER_URL, socket_timeout=2, socket_connect_timeout=2
            )
        else:
            _publisher = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
            )
    return _publisher


def publish(frames: list[dict]) -> None:
    """Send ``event`` frames to every process's sockets; never raises.

    Called after the writing transaction committed (from any thread). With
    Redis: one ``PUBLISH`` per frame, in one pipeline round trip (on a Redis
    Cluster ``SPUBLISH``, one round trip per shard). Without:
    handed to every event loop of this process. A failure is logged: the
    events are in the log, and sockets catch up (P1).
    """
    if not frames:
        return
    metrics.EVENTS_PUBLISHED.inc(len(frames))
    texts = [
        (frame["stream"], json.dumps(frame, separators=(",", ":"), ensure_ascii=False))
        for frame in frames
    ]
    if settings.REDIS_URL:
        prefix = channel_prefix()
        _publish_on_redis([(prefix + stream, text) for stream, text in texts], "event")
        return
    for fanout in _local_fanouts():
        for _stream, text in texts:
            fanout.dispatch_threadsafe(text)


def _publish_on_redis(items: list[tuple[str, str]], what: str) -> None:
    """``PUBLISH`` (``SPUBLISH`` on a cluster) each ``(channel, text)`` in one
    pipeline; a failure is logged (``what``: the kind of message), never
    raised."""
    try:
        pipe = _redis_publisher().pipeline(transaction=False)
        send = pipe.spublish if settings.REDIS_CLUSTER_URL else pipe.publish
        for channel, text in items:
            send(channel, text)
        pipe.execute()
    except Exception:
        logger.exception("could not publish %d %s(s) on Redis", len(items), what)


def publish_control(messages: list[tuple[str, dict]]) -> None:
    """Hand control messages to the sockets of their targets in every process;
    never raises.

    ``messages`` are ``(target, message)`` pairs: ``target`` is
    :func:`user_target` or :func:`session_target`, ``message`` a
    consumer message (``{"type": "hub.close", "reason": "logout"}``, handled
    by ``hub_close``). Called from sync code, any thread. With Redis: one
    ``PUBLISH`` each on :func:`control_channel`, in one pipeline round trip;
    without: handed to every event loop of this process. A failure is logged:
    delivery is best effort, as it was on the channel layer.
    """
    if not messages:
        return
    if settings.REDIS_URL:
        channel = control_channel()
        _publish_on_redis(
            [(channel, _control_text(target, m)) for target, m in messages],
            "control message",
        )
        return
    for fanout in _local_fanouts():
        for target, message in messages:
            fanout.control_threadsafe(target, message)


def _control_text(target: str, message: dict) -> str:
    return json.dumps(
        {"target": target, "message": message},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _local_fanouts() -> list["LocalFanout"]:
    with _local_lock:
        return list(_fanouts.values())


def _open_sockets() -> int:
    return sum(len(fanout.connected_sockets) for fanout in _local_fanouts())


# Read at each scrape: nothing to count on a socket's way in or out.
metrics.SOCKETS_OPEN.set_function(_open_sockets)


class LocalFanout:
    """The fan-out of one process (one event loop): followers per stream and,
    with Redis, the one subscription that feeds them.

    ``followers`` maps a stream name to the set of local consumers following
    it. Consumers call :meth:`follow` and :meth:`unfollow`; the subscription
    task calls :meth:`dispatch` for each message.

    ``addressed`` maps a control target (``user:<id>``, ``session:<key>``)
    to the list of local consumers it reaches. Consumers call :meth:`join`
    once authenticated and :meth:`leave` when they go; with Redis the
    subscription listens to :func:`control_channel` while any consumer
    is joined, and calls :meth:`deliver_control` for each message.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.followers: dict[str, set] = {}
        self.connected_sockets: weakref.WeakSet = weakref.WeakSet()
        # Open sockets of this process per user (``("user", id)``) and per
        # client address (``("ip", address)``): the caps of
        # HUB_MAX_SOCKETS_PER_USER and HUB_MAX_SOCKETS_PER_IP (hub/consumers.py).
        self.socket_counts: collections.Counter = collections.Counter()
        self.redis = settings.REDIS_URL
        # Sharded pub/sub on a Redis Cluster, instead of REDIS_URL's Redis.
        self.cluster = settings.REDIS_CLUSTER_URL
        self.prefix = channel_prefix()
        # Named, so an operator (or a test) can find this subscription.
        self.client_name = self.prefix.replace(":", "-") + "fanout"
        self.control = control_channel()
        self.addressed: dict[str, list] = {}
        # LASTING_CONTROL messages delivered lately: target -> [(time, message)]
        # and their order (loop.time(), target), oldest first, for pruning.
        self.recent: dict[str, list[tuple[float, dict]]] = {}
        self.recent_order: collections.deque = collections.deque()
        self.pubsub = None
        self.subscribed: set[str] = set()  # SUBSCRIBE sent on this connection
        self.confirmed: set[str] = set()  # ... and confirmed by Redis
        # Confirmed again: Redis lost the subscription a while (their
        # followers re-read the log once the confirmations are read).
        self.resubscribed: set[str] = set()
        # Streams whose followers came or went since the last _sync: it looks
        # at those only (not at every stream: O(streams) per new socket made
        # a reconnect storm of 10,000 sockets quadratic), unless the
        # connection is new (resync).
        self.touched: set[str] = set()
        self.resync = True
        self.waiting: dict[str, list[asyncio.Future]] = {}
        # The same three for the control channel.
        self.control_subscribed = False
        self.control_confirmed = False
        self.control_waiting: list[asyncio.Future] = []
        self.task: asyncio.Task | None = None
        self.changed = asyncio.Event()
        self.connected = False
        self.delivered = 0

    # Followers -------------------------------------------------------------

    async def follow(self, consumer, name: str, timeout: float = 2.0) -> None:
        """Deliver ``name``'s events to ``consumer`` from now on.

        With Redis, returns once Redis confirmed the subscription, so an event
        committed after the caller then reads the stream's position is sure
        to arrive (or after ``timeout`` seconds if Redis is unreachable: the
        catch-up after reconnecting covers that case).
        """
        self.followers.setdefault(name, set()).add(consumer)
        if not self.redis or name in self.confirmed:
            return
        waiter = self.loop.create_future()
        self.waiting.setdefault(name, []).append(waiter)
        self.touched.add(name)
        self._wake()
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            logger.warning("no Redis confirmation for %s; the log will catch up", name)

    def unfollow(self, consumer, name: str | None = None) -> None:
        """Stop delivering ``name`` (every stream when ``None``) to ``consumer``."""
        names = [name] if name is not None else list(self.followers)
        for stream in names:
            followers = self.followers.get(stream)
            if followers is None:
                continue
            followers.discard(consumer)
            if not followers:
                del self.followers[stream]
                if self.redis:
                    self.touched.add(stream)
                    self._wake()

    def sockets(self) -> set:
        """The consumers of this process (those connected here)."""
        return set(self.connected_sockets)

    # Control targets -------------------------------------------------------

    async def join(
        self,
        consumer,
        targets: Iterable[str],
        timeout: float = 2.0,
        since: float | None = None,
    ) -> None:
        """Deliver control messages to ``targets`` to ``consumer`` from now on.

        With Redis, returns once Redis confirmed the control subscription (at
        once after the process's first socket), so a logout that commits
        after the socket's handshake reaches it; after ``timeout`` seconds
        when Redis is unreachable (the message may then be lost: best effort).

        ``since`` (this loop's ``time()``, seconds): also queue to
        ``consumer`` the ``hub.close`` and ``hub.recheck`` messages of
        ``targets`` that this process received since then (kept for
        :data:`RECENT_CONTROL_SECONDS`). A socket that read its user before
        knowing the user's target passes the time the read started: a
        password change or deactivation committed in between still closes it.
        """
        for target in targets:
            self.addressed.setdefault(target, []).append(consumer)
            if since is not None:
                for received, message in self.recent.get(target, ()):
                    if received >= since:
                        consumer._queue(dict(message))
        if not self.redis or self.control_confirmed:
            return
        waiter = self.loop.create_future()
        self.control_waiting.append(waiter)
        self._wake()
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            logger.warning("no Redis confirmation for the control channel")

    def leave(self, consumer, targets: Iterable[str]) -> None:
        """Stop delivering control messages of ``targets`` to ``consumer``."""
        for target in targets:
            consumers = self.addressed.get(target)
            if consumers is None:
                continue
            with contextlib.suppress(ValueError):
                consumers.remove(consumer)
            if not consumers:
                del self.addressed[target]
        if self.redis and not self.addressed:
            self._wake()

    def deliver_control(self, target: str, message: dict) -> int:
        """Queue ``message`` to each local consumer of ``target``, in its turn;
        return how many. Runs on this fan-out's loop. ``hub.close`` and
        ``hub.recheck`` are also kept a while for late joiners (:meth:`join`)."""
        if message.get("type") in LASTING_CONTROL:
            self._remember(target, message)
        consumers = self.addressed.get(target)
        if not consumers:
            return 0
        for consumer in tuple(consumers):
            try:
                consumer._queue(dict(message))
            except Exception:
                logger.exception("control message to one socket failed")
        return len(consumers)

    def _remember(self, target: str, message: dict) -> None:
        now = self.loop.time()
        self.recent.setdefault(target, []).append((now, message))
        self.recent_order.append((now, target))
        order = self.recent_order
        while order and (
            order[0][0] < now - RECENT_CONTROL_SECONDS
            or len(order) > RECENT_CONTROL_MAX
        ):
            _, oldest = order.popleft()
            kept = self.recent[oldest]
            del kept[0]  # the oldest of its target: appended in time order
            if not kept:
                del self.recent[oldest]

    def control_threadsafe(self, target: str, message: dict) -> None:
        """:meth:`deliver_control` on this fan-out's loop, from any thread."""
        if self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self.deliver_control, target, message)
        except RuntimeError:  # the loop closed meanwhile
            pass

    async def send_control(self, messages: list[tuple[str, dict]]) -> None:
        """:func:`publish_control` from this loop, without blocking it; never
        raises. Without Redis, this process's fan-outs are all there is."""
        if not self.redis:
            publish_control(messages)  # this process's loops, this one included
            return
        # The blocking client's pipeline, on a thread: an unreachable Redis
        # (2 s timeouts) must not stall this loop's sockets.
        await self.loop.run_in_executor(None, publish_control, messages)

    def _on_control(self, data) -> None:
        try:
            control = json.loads(data)
            target, message = control["target"], control["message"]
            if not isinstance(target, str) or not isinstance(message.get("type"), str):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("ignored a malformed control message: %r", data[:200])
            return
        self.deliver_control(target, message)

    # Delivery --------------------------------------------------------------

    async def dispatch(self, text: str) -> int:
        """Offer one ``event`` frame (JSON text) to the local followers of its
        stream; return how many were offered. Malformed text is logged.

        The frame is made once (:func:`text_frame`); each offer writes it
        straight to the socket's transport (no coroutine per socket), or
        hands back its text's ASGI ``send``, awaited here, which returns
        without yielding while the transport takes it (Twisted buffers the bytes; uvicorn waits only above the
        high-water mark, set above the send-buffer bound): the whole fan-out
        runs in this one task.
        """
        try:
            event = json.loads(text)
            followers = self.followers.get(event["stream"])
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed fan-out message: %r", text[:200])
            return 0
        if not followers:
            return 0
        frame = text_frame(text)
        for consumer in tuple(followers):
            try:
                pending = consumer.offer(event, text, frame)
                if pending is not None:
                    await pending
            except Exception:
                logger.exception("fan-out to one socket failed")
        self.delivered += len(followers)
        metrics.DELIVERED_LIVE.inc(len(followers))
        metrics.observe_lag(event.get("ts"))
        return len(followers)

    def dispatch_threadsafe(self, text: str) -> None:
        """:meth:`dispatch` on this fan-out's loop, from any thread."""
        if self.loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.dispatch(text), self.loop)
        except RuntimeError:  # the loop closed meanwhile
            pass

    # The Redis subscription -------------------------------------------------

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
