"""The one WebSocket consumer of the hub (``/ws/``); protocol in docs/protocol.md.

It is served by :class:`hub.auth.SocketApp` (Origin, route), accepts, loads
its user from the session cookie (:func:`hub.auth.load_user`), lets a
socket subscribe only to streams its user may read, replays missed events
from the log on ``resume`` and forwards doorbells, filling any gap from the
log. It holds no domain logic.

It is a Channels consumer (handlers, ``accept``, ``send``, ``close``) without
a channel-layer channel (decision 0005): it reads only the ASGI ``receive``.
Everything else reaches it through the process's fan-out (:mod:`hub.broadcast`):

- live events (P4) are written straight to the socket when they come in
  order and no handler of this socket is running; otherwise they are queued
  to this consumer as a ``hub.doorbell`` message;
- control messages (``hub.close``, ``hub.recheck``, ``hub.ephemeral``), sent
  to the user's or the session's sockets, and the log poll (``hub.poll``)
  are queued the same way (:meth:`HubConsumer._queue`).

Client frames and queued messages are handled one at a time, in arrival
order (one lock per consumer). So an event never interleaves with a replay
of the same socket: positions only move forward.
"""

import asyncio
import contextlib
import contextvars
import functools
import json
import logging
import time
from collections.abc import Awaitable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from core import logs, metrics
from hub import ephemeral, lifecycle
from hub import streams as log
from hub.access import can_read_stream, readable_streams
from hub.auth import is_session_key, load_token_user, load_user
from hub.broadcast import (
    LocalFanout,
    fanout_for_running_loop,
    session_target,
    token_target,
    user_target,
)
from hub.db import off_loop
from hub.delivery.actions import mark_seen

logger = logging.getLogger(__name__)

# Close codes: RFC 6455 §7.4.2 leaves 4000-4999 to applications. A frame too
# big would be 1009 (§7.4.1), but Daphne (autobahn) lets a server send only
# 1000 and 3000-4999, so we say it with 4413 (as HTTP's 413).
CLOSE_TOO_BIG = 4413
CLOSE_UNAUTHENTICATED = 4401
CLOSE_SESSION_ENDED = 4403
CLOSE_TOO_MANY_ERRORS = 4429
# The socket did not read fast enough: its unsent bytes passed
# HUB_SEND_BUFFER_BYTES. The client reconnects and resumes from its offsets.
CLOSE_TOO_SLOW = 4408
# Too many sockets open on this server process for the user
# (HUB_MAX_SOCKETS_PER_USER) or the client address (HUB_MAX_SOCKETS_PER_IP).
# The client waits a long back-off before it tries again.
CLOSE_TOO_MANY_SOCKETS = 4409

MAX_STREAMS_PER_FRAME = 200
# Protocol errors a socket may make before it is closed with 4429.
MAX_ERRORS = 20
# Token bucket on client frames: a burst of RATE_BURST frames, then
# RATE_PER_SECOND a second; an empty bucket closes the socket with 4429.
RATE_BURST = 60
RATE_PER_SECOND = 10.0
# Ephemeral frames (typing) relayed per subject at most this often (seconds).
EPHEMERAL_INTERVAL = 2.0
# Events read from the log per query during a replay or gap fill.
REPLAY_BATCH = 200
# What a socket gets before 4503: this process stops, resume elsewhere.
BYE_RESTART = json.dumps({"type": "bye", "reason": "restart"}, separators=(",", ":"))


class ProtocolError(Exception):
    """A frame the server refuses; becomes an ``error`` frame with ``code``.

    ``details`` are extra fields of the frame (``forbidden`` names the
    refused ``streams``).
    """

    def __init__(self, code: str, message: str, **details) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class HubConsumer(AsyncWebsocketConsumer):
    """One socket: its user, the streams it follows and its position in each.

    ``self.positions`` maps a followed stream name to ``[epoch, offset]``: the
    last offset this socket has sent (or the offset it started following at).
    Doorbells at or below it are duplicates and ignored; one above
    ``offset + 1`` means doorbells were lost, and the gap is read from the log
    before the event is sent, so the client sees every offset once, in order.
    """

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
    outbox: list[str] | None = None  # frames held for one write (_batched), or None
    # keys of fanout.socket_counts this socket counts in
    counted: tuple[tuple, ...] = ()

    async def __call__(self, scope, receive, send) -> None:
        """Serve one socket: dispatch each ASGI message from ``receive`` in turn.

        Channels' own loop would also open a channel-layer channel and read it
        in a second task (``await_many_dispatch``); nothing comes that way
        here (decision 0005), so the socket costs one task.
        """
        self.scope = scope
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            # Also when the server cancels us or a handler failed: the fan-out
            # must not keep this socket.
            self._leave()

    async def connect(self) -> None:
        """Accept, load the user (4401 without one), then send ``hello``.

        The socket is accepted before its session is read: in a reconnect
        storm the handshake answers at once, and the session waits its turn
        behind the calls of sockets already in (:func:`hub.db.off_loop`
        ``admission``), so sockets finish one after the other instead of all
        at the end (bench S5).
        """
        self.user: Any = None
        self.positions: dict[str, list] = {}
        self.fanout = fanout_for_running_loop()
        if lifecycle.draining.is_set():
            # This process is stopping: go to another one (as the sockets
            # already open are told: bye, then 4503).
            await self.accept()
            self.closing = True
            await self._write([BYE_RESTART], lifecycle.CLOSE_GOING_AWAY)
            return
        self.fanout.connected_sockets.add(self)
        self.context = contextvars.copy_context()
        self.transport = _transport_of(self.base_send)
        if hasattr(self.transport, "set_write_buffer_limits"):
            # asyncio servers (uvicorn) make `send` wait while the transport
            # holds more than its high-water mark (64 KiB by default): above
            # our own bound, so the fan-out never waits on one socket.
            self.transport.set_write_buffer_limits(
                high=2 * settings.HUB_SEND_BUFFER_BYTES
            )
        self.refilled_at = time.monotonic()
        await self.accept()
        # Both keys put in the scope by hub.auth's middleware.
        address = self.scope.pop("client_address", None)  # type: ignore[typeddict-item]
        if address and not self._count(
            ("ip", address), settings.HUB_MAX_SOCKETS_PER_IP
        ):
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        cookie = self.scope.pop("session_cookie", None)  # type: ignore[typeddict-item]
        if cookie and is_session_key(cookie):
            # This session's control messages (its logout) from any process,
            # joined before the session is read: a logout that commits after
            # the read still reaches this socket.
            self.targets = [session_target(cookie)]
            await self.fanout.join(self, self.targets)
        secret = self.scope.pop("access_token", None)  # type: ignore[typeddict-item]
        loading_since = asyncio.get_running_loop().time()
        if secret:
            # An app's socket (no Origin): the token's user; its revocation
            # closes the socket, as a logout closes a session's.
            self.user, token_id = await off_loop(load_token_user, admission=True)(
                secret
            )
            if token_id is not None:
                target = token_target(token_id)
                self.targets = [*self.targets, target]
                await self.fanout.join(self, [target], since=loading_since)
        else:
            self.user, _key = await off_loop(load_user, admission=True)(cookie)
        if _is_active(self.user):
            # The socket's log lines name its user (core/logs.py).
            logs.user_id.set(self.user.pk)
            self.context.run(logs.user_id.set, self.user.pk)
        else:
            # Closed after the accept, so the browser sees a close code it can
            # act on (a rejected handshake only shows 1006).
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not self._count(("user", self.user.pk), settings.HUB_MAX_SOCKETS_PER_USER):
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        # Control messages for this user (password change, recheck, typing),
        # with those that came while the user was read: a password change
        # committed after the read still closes this socket.
        target = user_target(self.user.pk)
        self.targets = [*self.targets, target]
        await self.fanout.join(self, [target], since=loading_since)
        if settings.HUB_POLL_SECONDS > 0:
            self.poller = asyncio.create_task(self._poll_forever())
        readable = await off_loop(readable_streams)(self.user)
        # Subscriptions are checked against this (a name missing from it is
        # checked in the database: access granted since); a change of the
        # user's memberships refreshes it (hub_recheck).
        self.readable = set(readable)
        await self.send_json(
            {
                "type": "hello",
                "user": self.user.pk,
                "streams": readable,
                "heartbeat": settings.HUB_HEARTBEAT_SECONDS,
                "max_frame": settings.HUB_MAX_FRAME_BYTES,
            }
        )

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
        database work runs in :func:`hub.db.off_loop`, which handles its
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
        control messages here too (:meth:`hub.broadcast.LocalFanout.deliver_control`).
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

    async def disconnect(self, code: int) -> None:
        self.closed_by_client = True
        poller = self.poller
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        self._leave()

    def _count(self, key: tuple, cap: int) -> bool:
        """Count this socket under ``key`` in the process's open sockets;
        ``False`` (and not counted) if ``cap`` (``0``: none) are already
        open."""
        counts = self.fanout.socket_counts
        if cap and counts[key] >= cap:
            return False
        counts[key] += 1
        self.counted = (*self.counted, key)
        return True

    def _leave(self) -> None:
        """Forget this socket in the fan-out and stop its tasks (idempotent)."""
        if self.poller is not None:
            self.poller.cancel()
        fanout = self.fanout
        if fanout is not None:
            for key in self.counted:
                fanout.socket_counts[key] -= 1
                if fanout.socket_counts[key] <= 0:
                    del fanout.socket_counts[key]
            self.counted = ()
            fanout.leave(self, self.targets)
            self.targets = ()
            for name in list(getattr(self, "positions", ())):
                fanout.unfollow(self, name)
            fanout.connected_sockets.discard(self)
        current = asyncio.current_task()
        for task in list(self.later or ()):
            if task is not current:
                task.cancel()

    async def close(self, code=None, reason=None) -> None:
        """Close the socket and ignore whatever arrives until it is gone."""
        self.closing = True
        await super().close(code=code, reason=reason)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """Handle one client frame: a JSON object with a string ``type``.

        Closes with 4413 over ``HUB_MAX_FRAME_BYTES`` (UTF-8 bytes), with 4429
        when frames come faster than the rate limit or after ``MAX_ERRORS``
        refused frames; otherwise a refused frame gets an ``error`` frame and
        the socket keeps serving.
        """
        if self.closing:
            return
        raw = text_data if text_data is not None else bytes_data
        if raw is None:
            return
        size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
        if size > settings.HUB_MAX_FRAME_BYTES:
            await self.send_json(
                {
                    "type": "error",
                    "code": "frame_too_big",
                    "message": f"frame of {size} bytes over "
                    f"{settings.HUB_MAX_FRAME_BYTES}",
                }
            )
            await self.close(code=CLOSE_TOO_BIG)
            return
        if not self._take_token():
            await self.send_json(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "message": "too many frames",
                }
            )
            await self.close(code=CLOSE_TOO_MANY_ERRORS)
            return
        frame_id = None
        try:
            try:
                frame = json.loads(raw)
            except (ValueError, RecursionError):
                # RecursionError: 64 KiB of "[" nests deeper than the parser goes.
                raise ProtocolError(
                    "invalid_json", "the frame is not valid JSON"
                ) from None
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise ProtocolError(
                    "invalid_frame", "a frame is a JSON object with a 'type'"
                )
            frame_id = frame.get("id")
            handler = self.HANDLERS.get(frame["type"])
            if handler is not None:
                await handler(self, frame)
            elif ephemeral.handler_for(frame["type"]) is not None:
                await self.on_ephemeral(frame)
            else:
                raise ProtocolError(
                    "unknown_type", f"unknown frame type {frame['type'][:40]!r}"
                )
        except ProtocolError as error:
            self.errors += 1
            reply = {
                "type": "error",
                "code": error.code,
                "message": error.message,
                **error.details,
            }
            if frame_id is not None:
                reply["id"] = frame_id
            await self.send_json(reply)
            if self.errors >= MAX_ERRORS:
                await self.close(code=CLOSE_TOO_MANY_ERRORS)

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
        write through the server's ``send_texts`` (``hub.uvicorn_ws``,
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

    def _take_token(self) -> bool:
        now = time.monotonic()
        self.tokens = min(
            RATE_BURST, self.tokens + (now - self.refilled_at) * RATE_PER_SECOND
        )
        self.refilled_at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    # Frames from the client ------------------------------------------------

    async def on_ping(self, frame: dict) -> None:
        """Answer ``{"type": "ping", "id": …}`` with a ``pong`` of the same id."""
        await self.send_json({"type": "pong", "id": frame.get("id")})

    async def on_subscribe(self, frame: dict) -> None:
        """Follow streams from now on: ``{"type": "subscribe", "streams": [...]}``.

        A stream the socket already follows keeps its position.
        """
        names = _stream_list(frame.get("streams"))
        await self._follow(
            {name: None for name in names}, frame.get("id"), "subscribed"
        )

    async def on_resume(self, frame: dict) -> None:
        """Follow streams from given positions, replaying what was missed.

        ``{"type": "resume", "streams": {"user:5": {"epoch": "…", "offset": 12}}}``;
        a position of ``null`` means "from now on", as ``subscribe``.
        """
        metrics.RESUMES.inc()
        wanted = frame.get("streams")
        if (
            not isinstance(wanted, dict)
            or not wanted
            or len(wanted) > MAX_STREAMS_PER_FRAME
        ):
            raise ProtocolError(
                "invalid_frame", "'streams' must map stream names to positions"
            )
        for name, position in wanted.items():
            if position is not None and not (
                isinstance(position, dict)
                and isinstance(position.get("epoch"), str)
                and isinstance(position.get("offset"), int)
                and not isinstance(position.get("offset"), bool)
                and position["offset"] >= 0
            ):
                raise ProtocolError(
                    "invalid_frame",
                    f"position of {name[:100]!r} must be {{epoch, offset>=0}}",
                )
        await self._follow(wanted, frame.get("id"), "resumed")

    async def on_unsubscribe(self, frame: dict) -> None:
        """Stop following streams; names not followed are ignored."""
        names = _stream_list(frame.get("streams"))
        for name in names:
            if self.positions.pop(name, None) is not None:
                self.fanout.unfollow(self, name)
        await self.send_json(
            {"type": "unsubscribed", "id": frame.get("id"), "streams": names}
        )

    async def on_seen(self, frame: dict) -> None:
        """An open, visible tab showed events: no push for them.

        ``{"type": "seen", "stream": "user:5", "offsets": [12, 13]}``; only
        streams this socket follows count, at most 500 offsets; no reply.
        """
        name = frame.get("stream")
        offsets = frame.get("offsets")
        if (
            not isinstance(name, str)
            or name not in self.positions
            or not isinstance(offsets, list)
        ):
            raise ProtocolError("bad_seen", "seen needs a followed stream and offsets")
        clean = [o for o in offsets[:500] if isinstance(o, int) and o > 0]
        await off_loop(mark_seen)(self.user, name, clean)

    async def on_ephemeral(self, frame: dict) -> None:
        """Relay an ephemeral frame (``typing``) through its domain handler.

        At most one frame per ``EPHEMERAL_INTERVAL`` seconds per subject is
        relayed; the others are dropped silently (they carry no state).
        """
        handler = ephemeral.handler_for(frame["type"])
        try:
            relay = await off_loop(handler)(self.user, frame)
        except ephemeral.EphemeralRefused as error:
            raise ProtocolError(error.code, str(error) or "not allowed") from None
        now = time.monotonic()
        throttle_key = f"{frame['type']}:{relay.key}"
        if (
            now - (self.relayed_at or {}).get(throttle_key, -EPHEMERAL_INTERVAL)
            < EPHEMERAL_INTERVAL
        ):
            return
        if self.relayed_at is None:
            self.relayed_at = {}
        self.relayed_at[throttle_key] = now
        message = {"type": "hub.ephemeral", "frame": relay.frame}
        await self.fanout.send_control(
            [(user_target(user_id), message) for user_id in relay.user_ids]
        )

    HANDLERS = {
        "ping": on_ping,
        "subscribe": on_subscribe,
        "resume": on_resume,
        "unsubscribe": on_unsubscribe,
        "seen": on_seen,
    }

    async def _follow(
        self, wanted: dict[str, dict | None], frame_id, reply_type: str
    ) -> None:
        """Follow ``wanted`` (name -> ``{epoch, offset}`` or ``None``) and reply.

        All or nothing: one stream the user may not read (or malformed, or
        missing: the same answer) refuses the frame with ``forbidden``. Events
        to replay and ``reset`` frames come before the reply, whose
        ``streams`` gives each stream's position after it.
        """
        allowed = await self._allowed(list(wanted))
        refused = [name for name in wanted if name not in allowed]
        if refused:
            raise ProtocolError(
                "forbidden",
                f"no such stream or not allowed: {refused[0][:100]}",
                streams=[name[:100] for name in refused],
            )
        # Follow before reading positions: an event committed after the read
        # then reaches this socket (queued behind this handler), and one at or
        # below the position read is ignored as a duplicate.
        for name in wanted:
            await self.fanout.follow(self, name)
        # Replayed events, resets and the reply: one write (_batched).
        async with self._batched():
            # One hop: positions, and the first events of each replay.
            current = await off_loop(log.read_after)(
                {name: (p or {}).get("offset") for name, p in wanted.items()},
                settings.HUB_REPLAY_LIMIT,
                REPLAY_BATCH,
            )
            result = {}
            for name, position in wanted.items():
                epoch, last, missed = current[name]
                held = self.positions.get(name)
                if position is None:
                    if held is None or held[0] != epoch:
                        self.positions[name] = [epoch, last]
                else:
                    reason = _reset_reason(position, epoch, last)
                    if reason is None:
                        self.positions[name] = [epoch, position["offset"]]
                        reason = await self._catch_up(name, last, missed)
                    if reason is not None:
                        await self._reset(name, reason)
                epoch, offset = self.positions[name]
                result[name] = {"epoch": epoch, "offset": offset}
            await self.send_json(
                {"type": reply_type, "id": frame_id, "streams": result}
            )

    async def _allowed(self, names: list[str]) -> set[str]:
        """The streams of ``names`` this socket's user may read (P3)."""
        unknown = [name for name in names if name not in self.readable]
        allowed = {name for name in names if name in self.readable}
        if unknown:
            allowed |= await off_loop(_may_read)(self.user, unknown)
        return allowed

    async def _catch_up(
        self, name: str, upto: int, read: Sequence[log.Envelope] = ()
    ) -> str | None:
        """Send the events of ``name`` from this socket's position to ``upto``.

        ``read``: the first events after the position, when the caller
        already has them (:func:`hub.streams.read_after`); the rest is read
        from the log in batches. Returns ``None`` once the socket is at
        ``upto``, or the reason to reset instead: ``too_far_behind`` (more
        than ``HUB_REPLAY_LIMIT`` events), ``retention`` (an offset in between
        was pruned), ``epoch`` (the log belongs to another epoch). The caller
        sends the ``reset``.
        """
        epoch, after = self.positions[name]
        if upto - after > settings.HUB_REPLAY_LIMIT:
            return "too_far_behind"
        batch = list(read)
        while after < upto:
            if not batch:
                await self._flush()
                batch = await off_loop(log.read_events)(name, after, upto, REPLAY_BATCH)
                if not batch:
                    return "retention"
            for envelope in batch:
                if envelope.epoch != epoch:
                    return "epoch"
                if envelope.offset != after + 1:
                    return "retention"
                await self.send_json(envelope.frame())
                metrics.DELIVERED_FROM_LOG.inc()
                after = envelope.offset
                self.positions[name] = [epoch, after]
            batch = []
        return None

    async def _reset(self, name: str, reason: str) -> None:
        """Move the socket to the stream's current end and send ``reset``."""
        metrics.RESETS.labels(reason).inc()
        current = await off_loop(log.positions)([name])
        epoch, last = current[name]
        self.positions[name] = [epoch, last]
        await self.send_json(
            {
                "type": "reset",
                "stream": name,
                "epoch": epoch,
                "offset": last,
                "reason": reason,
            }
        )

    # Messages queued to this consumer (_queue) -----------------------------

    async def hub_doorbell(self, message: dict) -> None:
        """Forward an event once, filling any gap from the log first.

        ``message["event"]`` is the ``event`` frame (see
        :meth:`hub.streams.Envelope.frame`). Redis may drop, delay or
        duplicate doorbells; positions make that invisible (P1).
        """
        event = message["event"]
        name = event["stream"]
        position = self.positions.get(name)
        if position is None or self.closing:
            return
        epoch, last = position
        if event["epoch"] != epoch:
            current = await off_loop(log.positions)([name])
            if current[name][0] != epoch:
                await self._reset(name, "epoch")
            # Otherwise a stale doorbell from before the socket's epoch.
            return
        offset = event["offset"]
        if offset <= last:
            return
        if offset == last + 1:
            await self.send_json(event)
            self.positions[name] = [epoch, offset]
            return
        async with self._batched():
            reason = await self._catch_up(name, offset)
            if reason is not None:
                await self._reset(name, reason)

    # Live events from the process's fan-out (hub.broadcast) ---------------

    def offer(
        self, event: dict, text: str, frame: bytes | None = None
    ) -> Awaitable[None] | None:
        """Take one live event (``text`` is its frame, already encoded;
        ``frame`` the same as a WebSocket frame, :func:`hub.broadcast.text_frame`).

        Written at once when it is the next offset of a followed stream and
        nothing else of this socket is in progress; a duplicate is dropped;
        anything else (gap, epoch, a replay running) goes through
        :meth:`hub_doorbell` in this consumer's turn. Closes the socket with
        :data:`CLOSE_TOO_SLOW` when its unsent bytes pass
        ``HUB_SEND_BUFFER_BYTES``.

        Returns ``None`` when done (written to the transport, dropped,
        queued), else what the caller awaits before the next socket: the
        text through the server's ``send`` (Daphne, a socket that
        compresses or must wait), or the slow socket's close. Not a
        coroutine itself: the fan-out calls it once per socket and event,
        and on uvicorn almost every call is done at once (issue 17).
        """
        if self.closing:
            return None
        position = self.positions.get(event["stream"])
        # While a handler runs (a subscribe or resume is setting positions
        # one stream at a time) the event waits its turn, even for a stream
        # with no position yet: dropping it here would lose it.
        busy = self.busy or self.queued
        if position is None and not busy:
            return None
        # (position is None only while busy)
        if busy or event["epoch"] != position[0] or event["offset"] != position[1] + 1:  # type: ignore[index]
            if (
                position
                and event["epoch"] == position[0]
                and event["offset"] <= position[1]
            ):
                return None
            self._queue({"type": "hub.doorbell", "event": event})
            return None
        if self._unsent_bytes() > settings.HUB_SEND_BUFFER_BYTES:
            return self._too_slow()
        assert position is not None  # not busy: see above
        position[1] = event["offset"]
        if frame is not None and self._write_frame(frame):
            return None
        # asgiref's event types require both bytes and text; servers do not.
        return self.base_send({"type": "websocket.send", "text": text})  # type: ignore[arg-type]

    def _write_frame(self, frame: bytes) -> bool:
        """Write the fan-out's ready-made frame to the transport where the
        server can (``hub.uvicorn_ws``'s ``write_frame``: an open socket
        with no extension); ``False`` elsewhere (Daphne, a socket that
        compresses, one that must wait): the caller sends the text."""
        write_frame = getattr(
            getattr(self.base_send, "__self__", None), "write_frame", None
        )
        return write_frame is not None and write_frame(frame)

    def catch_up_later(self) -> None:
        """Re-read the log of every followed stream in this consumer's turn
        (after the fan-out lost its Redis subscription for a while)."""
        self._queue({"type": "hub.poll"})

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

    async def _poll_forever(self) -> None:
        """Ask this consumer to look at the log every ``HUB_POLL_SECONDS``.

        Only without Redis (the embedded default, one process): events
        written by another process (``manage.py import_ical``) ring no
        doorbell here, so the log itself is the doorbell. The check is queued
        to this consumer (:meth:`_queue`), so it never runs beside another
        handler.
        """
        while True:
            await asyncio.sleep(settings.HUB_POLL_SECONDS)
            self._queue({"type": "hub.poll"})

    async def hub_poll(self, message: dict) -> None:
        """Recheck the account, then catch up every followed stream whose log
        moved past this socket.

        Without Redis, the control messages another process sends (a roster
        import run by the task worker or ``manage.py import_roster``, a
        ``changepassword``) reach no socket of this one: the poll itself sees
        a deactivated account or a changed password (the socket closes as
        ``hub.close`` would close it) and the streams the user may no longer
        read (dropped as ``hub.recheck`` would), before it delivers any event
        of theirs.
        """
        if self.closing:
            return
        reason, readable = await off_loop(_account_now)(self.user)
        if reason:
            await self.hub_close({"reason": reason})
            return
        await self._keep_readable(readable)
        if not self.positions:
            return
        # One hop: positions and the first events each stream missed.
        current = await off_loop(log.read_after)(
            {name: offset for name, (_epoch, offset) in self.positions.items()},
            settings.HUB_REPLAY_LIMIT,
            REPLAY_BATCH,
        )
        async with self._batched():
            for name, (epoch, last, missed) in current.items():
                position = self.positions.get(name)
                if position is None or last <= position[1] and epoch == position[0]:
                    continue
                reason = "epoch" if epoch != position[0] else None
                reason = reason or await self._catch_up(name, last, missed)
                if reason is not None:
                    await self._reset(name, reason)

    async def hub_recheck(self, message: dict) -> None:
        """Stop following the streams the user may no longer read (P3).

        Sent when the user's memberships change (see :mod:`hub.signals`);
        the client gets ``unsubscribed`` with ``reason: "forbidden"``.
        """
        if self.closing:
            return
        await self._keep_readable(await off_loop(readable_streams)(self.user))

    async def _keep_readable(self, readable: list[str]) -> None:
        """Follow only streams of ``readable``; tell the client what is dropped."""
        # Refreshed even when nothing is followed yet: later subscriptions
        # are checked against it.
        self.readable = set(readable)
        dropped = [name for name in self.positions if name not in self.readable]
        for name in dropped:
            del self.positions[name]
            self.fanout.unfollow(self, name)
        if dropped:
            await self.send_json(
                {"type": "unsubscribed", "streams": dropped, "reason": "forbidden"}
            )

    async def hub_ephemeral(self, message: dict) -> None:
        """Forward a relayed ephemeral frame (never stored, never replayed)."""
        if not self.closing:
            await self.send_json(message["frame"])

    async def going_away(self) -> None:
        """This process is stopping: ``bye`` (restart), then close with 4503
        so the client reconnects at once elsewhere and resumes."""
        if self.closing:
            return
        self.closing = True
        for name in list(self.positions):
            self.fanout.unfollow(self, name)
        # bye and the close frame in one write (10,000 of them in a drain).
        await self._write([BYE_RESTART], lifecycle.CLOSE_GOING_AWAY)

    async def hub_close(self, message: dict) -> None:
        """Close this socket: the user logged out or changed password."""
        if self.closing:
            return
        await self.send_json({"type": "bye", "reason": message.get("reason", "")})
        await self.close(code=CLOSE_SESSION_ENDED)


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


def _account_now(user) -> tuple[str, list[str]]:
    """Return why ``user``'s sockets must close now (``"deactivated"``,
    ``"password_changed"``; ``""`` if they may stay) and the streams the
    user may read now. Two statements (the log poll's recheck)."""
    row = (
        type(user)
        .objects.filter(pk=user.pk)
        .values_list("is_active", "password")
        .first()
    )
    if row is None or not row[0]:
        return "deactivated", []
    if row[1] != user.password:
        return "password_changed", []
    return "", readable_streams(user)


def _is_active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def _stream_list(value) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_STREAMS_PER_FRAME
        or not all(isinstance(v, str) for v in value)
    ):
        raise ProtocolError(
            "invalid_frame", "'streams' must be a non-empty list of names"
        )
    return list(dict.fromkeys(value))


def _may_read(user, names: list[str]) -> set[str]:
    return {name for name in names if can_read_stream(user, name)}


def _reset_reason(position: dict, epoch: str, last: int) -> str | None:
    if position["epoch"] != epoch:
        return "epoch"
    if position["offset"] > last:
        return "future"
    return None
