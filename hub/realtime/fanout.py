"""Process-local fan-out of stream events and control messages (ARCHITECTURE.md P4).

The channel layer gives every socket its own queue and task wake-up per
event: at 4,000 sockets that costs ~15x the floor (docs/decisions/0002). So
events take another road to sockets:

- the writer publishes each event **once** per stream on Redis (channel
  ``<prefix>:s:<stream>``), as the ``event`` frame's JSON text
  (:func:`hub.realtime.publish.publish`, after the transaction commits);
- each server process holds **one** Redis subscription (:class:`LocalFanout`)
  for the streams its sockets follow, subscribing when the first local socket
  follows a stream and unsubscribing after the last leaves;
- a message is decoded once per process and framed once
  (:func:`text_frame`), and the same bytes are written to every local socket
  following the stream, from the subscription's task
  (:meth:`hub.realtime.consumer.HubConsumer.offer`): straight to the
  transport on uvicorn (:meth:`hub.realtime.uvicorn.SlimWebSocketProtocol.write_frame`),
  through the ASGI ``send`` elsewhere (Daphne, a socket that compresses);
  no per-socket queue, no per-socket task;
- a socket that cannot take the event in order (a gap, another epoch, a
  replay in progress) gets it through its own serial handler instead, which
  reads the log; a socket whose unsent bytes pass ``HUB_SEND_BUFFER_BYTES``
  is closed with 4408 and resumes from its offsets when it reconnects, so a
  slow phone cannot grow the server's memory.

Control messages (close a user's or a session's sockets, ``hub.recheck``,
ephemeral relays such as typing) take the same road, not the channel layer
(docs/decisions/0005): a sender publishes ``{"target": "user:<id>" |
"session:<key>", "message": {...}}`` on the one channel ``<prefix>:control``
(:func:`hub.realtime.control.publish_control`, :meth:`LocalFanout.send_control`); the same
subscription listens to it while the process has an authenticated socket,
and hands the message to each local consumer of the target through
:meth:`hub.realtime.consumer.HubConsumer._queue`, in that consumer's turn. Like the
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
import json
import logging
import weakref

from django.conf import settings
from websockets.frames import Frame, Opcode

from hub.realtime import lifecycle, metrics
from hub.realtime.control import control_channel
from hub.realtime.fanout_control import ControlTargets
from hub.realtime.loops import _fanouts, _local_lock
from hub.realtime.publish import channel_prefix

logger = logging.getLogger(__name__)


def fanout_for_running_loop() -> "LocalFanout":
    """Return this event loop's :class:`LocalFanout`, created on first use."""
    loop = asyncio.get_running_loop()
    with _local_lock:
        fanout = _fanouts.get(loop)
        if fanout is None:
            fanout = _fanouts[loop] = LocalFanout(loop)
            lifecycle.install(loop, fanout.sockets)
    return fanout


def text_frame(text: str) -> bytes:
    """``text`` as one WebSocket text frame of a server with no extension
    (unmasked, RFC 6455 §5.2), serialized by ``websockets`` as uvicorn's
    ``send`` would: made once per event and process, written as is to every
    socket that can take it
    (:meth:`hub.realtime.uvicorn.SlimWebSocketProtocol.write_frame`)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


class LocalFanout(ControlTargets):
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
        # HUB_MAX_SOCKETS_PER_USER and HUB_MAX_SOCKETS_PER_IP (hub/realtime/consumer.py).
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

    # Delivery --------------------------------------------------------------

    async def dispatch(self, text: str) -> int:
        """Offer one ``event`` frame (JSON text) to the local followers of its
        stream; return how many were offered. Malformed text is logged.

        The frame is made once (:func:`text_frame`); each offer writes it
        straight to the socket's transport (no coroutine per socket), or
        hands back its text's ASGI ``send``, awaited here, which returns
        without yielding while the transport takes it (Twisted buffers the
        bytes; uvicorn waits only above the high-water mark, set above the
        send-buffer bound): the whole fan-out runs in this one task.
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
