"""What every part of the consumer shares: per-socket state, one message at a
time (the turn), and writes.

The consumer is split by concern into a chain of classes (each module one
concern): :class:`SocketBase` here, :class:`hub.realtime.replay.Replay`,
:class:`hub.realtime.commands.Commands`, :class:`hub.realtime.frames.ClientFrames`
and :class:`hub.realtime.consumer.HubConsumer`, the one served.
"""

import asyncio
import contextlib
import contextvars
import functools
import json
import logging
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

from hub.realtime import metrics
from hub.realtime.fanout import LocalFanout
from hub.realtime.protocol import CLOSE_TOO_SLOW, RATE_BURST

logger = logging.getLogger(__name__)


class SocketBase(AsyncWebsocketConsumer):
    """Per-socket state, turns and writes of :class:`hub.realtime.consumer.HubConsumer`."""

    # Class-level defaults, replaced per socket only when they change (an
    # idle socket is mostly these; bench S1).
    # No channel layer (decision 0005): Channels' typing assumes one.
    groups = ()  # type: ignore[assignment]  # Channels' per-socket group list: none
    channel_layer = None  # type: ignore[assignment]
    channel_name = None  # type: ignore[assignment]
    fanout: LocalFanout = None  # type: ignore[assignment]  # set first in connect
    poller: asyncio.Task | None = None
    # tasks of this socket in flight, made on first use
    later: set[asyncio.Task] | None = None
    # ephemeral throttle: subject -> time, on first use
    relayed_at: dict[str, float] | None = None
    targets: Sequence[str] = ()  # control targets this socket has joined
    readable: AbstractSet[str] = frozenset()
    closed_by_client = False
    closing = False
    errors = 0
    tokens = float(RATE_BURST)  # rate limit bucket (_take_token)
    busy = 0  # messages being handled or waiting for their turn
    queued = 0  # local messages (_queue) not yet handled
    transport: Any = None  # the server's, when it exposes one
    # The server's writer of ready-made frames (uvicorn's slim protocol), found
    # once at connect: the fan-out calls it for every event.
    frame_writer: Any = None
    outbox: list[str] | None = None  # frames held for one write (_batched), or None
    # keys of fanout.socket_counts this socket counts in
    counted: tuple[tuple, ...] = ()

    # Set when the socket opens (HubConsumer.connect).
    user: Any
    positions: dict[str, list]
    context: contextvars.Context
    refilled_at: float

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.turn = asyncio.Lock()  # one message at a time, in arrival order

    async def dispatch(self, message) -> None:
        """Handle one message; while it runs, live events queue behind it.

        Messages from the client (:meth:`__call__`) and local ones
        (:meth:`_queue`) take turns, first come first served. Unlike Channels'
        ``AsyncConsumer.dispatch``, no ``aclose_old_connections()`` before
        each handler: that is a hop to Channels' database thread per message
        (7 % of a reconnect storm's samples, bench S5), and this consumer's
        database work runs in :func:`hub.realtime.threads.off_loop`, which handles its
        connections itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        self.busy += 1
        try:
            async with self.turn:
                await handler(message)
        finally:
            self.busy -= 1

    def _queue(self, message: dict) -> None:
        """Handle ``message`` in this consumer's turn, after what is queued.

        In process: no channel-layer round trip (with Redis, one PUBLISH per
        message), which a burst of events to busy sockets, or every socket
        catching up after a Redis outage, would multiply. The fan-out hands
        control messages here too (:meth:`hub.realtime.fanout.LocalFanout.deliver_control`).
        """
        self.queued += 1
        # In a copy of the consumer's own context: offer() may run in a task
        # started from a thread that was inside sync_to_async (the embedded
        # fan-out), whose context would make this consumer's database calls
        # refuse to run ("would deadlock").
        context = self.context.run(contextvars.copy_context)
        task = asyncio.get_running_loop().create_task(
            self._handle_queued(message), context=context
        )
        self._keep(task)

    async def _handle_queued(self, message: dict) -> None:
        try:
            await self.dispatch(message)
        except Exception:
            logger.exception("a queued %s failed", message.get("type"))
        finally:
            self.queued -= 1

    async def close(self, code=None, reason=None) -> None:
        """Close the socket and ignore whatever arrives until it is gone."""
        self.closing = True
        await super().close(code=code, reason=reason)

    async def send_json(self, content: dict) -> None:
        """Send ``content`` as one compact JSON text frame (held for one write
        inside :meth:`_batched`)."""
        text = json.dumps(content, separators=(",", ":"), ensure_ascii=False)
        if self.outbox is not None:
            self.outbox.append(text)
        else:
            await self.send(text_data=text)

    @contextlib.asynccontextmanager
    async def _batched(self):
        """Frames sent inside (``send_json``) go out together at the end, in
        one write where the server allows it (:meth:`_write`), also when the
        block fails. A replay of N events and its reply: one system call
        instead of N + 1 (bench S5)."""
        if self.outbox is not None:  # already batching: the outer block writes
            yield
            return
        self.outbox = []
        try:
            yield
        finally:
            texts, self.outbox = self.outbox, None
            await self._write(texts)

    async def _flush(self) -> None:
        """Write what :meth:`_batched` holds so far (before waiting on the
        database mid-replay, so the client is not kept waiting)."""
        if self.outbox:
            texts, self.outbox = self.outbox, []
            await self._write(texts)

    async def _write(self, texts: list[str], close_code: int | None = None) -> None:
        """Send text frames, then a close with ``close_code`` if given: one
        write through the server's ``send_texts`` (``hub.realtime.uvicorn``,
        production), one ``send`` each elsewhere (Daphne, tests)."""
        send_texts = getattr(
            getattr(self.base_send, "__self__", None), "send_texts", None
        )
        if send_texts is not None:
            await send_texts(texts, close_code)
            return
        for text in texts:
            await self.send(text_data=text)
        if close_code is not None:
            await self.base_send({"type": "websocket.close", "code": close_code})  # type: ignore[arg-type]  # reason optional

    def _later(self, coroutine) -> None:
        self._keep(asyncio.ensure_future(coroutine))

    def _keep(self, task: asyncio.Task) -> None:
        """Hold ``task`` until it is done (cancelled if the socket goes)."""
        if self.later is None:
            self.later = set()
        self.later.add(task)
        task.add_done_callback(self.later.discard)

    def _unsent_bytes(self) -> int:
        transport = self.transport
        if transport is None:
            return 0
        size = getattr(transport, "get_write_buffer_size", None)
        if size is not None:  # asyncio transports (uvicorn)
            return size()
        # Twisted (Daphne): bytes not yet written to the kernel.
        buffered = getattr(transport, "dataBuffer", b"")
        return (
            len(buffered)
            - getattr(transport, "offset", 0)
            + getattr(transport, "_tempDataLen", 0)
        )

    async def _too_slow(self) -> None:
        logger.info("closing a socket of user %s: too slow", self.user.pk)
        metrics.SLOW_CLOSES.inc()
        self.closing = True
        for name in list(self.positions):
            self.fanout.unfollow(self, name)
        # In a task of its own: on an asyncio server the close waits until the
        # transport's buffer drains, and the fan-out must not wait for that.
        self._later(self.base_send({"type": "websocket.close", "code": CLOSE_TOO_SLOW}))  # type: ignore[arg-type]  # reason optional


def _transport_of(send):
    """The server's transport behind an ASGI ``send`` (to measure its backlog),
    or ``None``. Daphne's send is ``partial(handle_reply, protocol)``;
    uvicorn's a bound method of its protocol. A wrapper such as Channels'
    session middleware (``InstanceSessionWrapper.send``, the server's in
    ``real_send``; no longer in the hub's stack, decision 0005) is looked
    through."""
    for _ in range(8):
        if isinstance(send, functools.partial) and send.args:
            return getattr(send.args[0], "transport", None)
        owner = getattr(send, "__self__", None)
        if owner is None:
            return None
        transport = getattr(owner, "transport", None)
        if transport is not None:
            return transport
        send = getattr(owner, "real_send", None)
    return None
