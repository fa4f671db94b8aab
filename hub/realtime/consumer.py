"""The one WebSocket consumer of the hub (``/ws/``); protocol in docs/protocol.md.

It is served by :class:`hub.realtime.app.SocketApp` (Origin, route), accepts, loads
its user from the session cookie (:func:`hub.realtime.sessions.load_user`), lets a
socket subscribe only to streams its user may read, replays missed events
from the log on ``resume`` and forwards doorbells, filling any gap from the
log. It holds no domain logic.

It is a Channels consumer (handlers, ``accept``, ``send``, ``close``) without
a channel-layer channel (decision 0005): it reads only the ASGI ``receive``.
Everything else reaches it through the process's fan-out (:mod:`hub.realtime.fanout`):

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
import time
from typing import Any

from channels.exceptions import StopConsumer
from django.conf import settings

from hub.realtime import lifecycle
from hub.realtime.base import _transport_of
from hub.realtime.control import session_target, token_target, user_target
from hub.realtime.fanout import fanout_for_running_loop
from hub.realtime.frames import ClientFrames
from hub.realtime.protocol import (
    BYE_RESTART,
    CLOSE_TOO_MANY_SOCKETS,
    CLOSE_UNAUTHENTICATED,
)
from hub.realtime.registry import domain
from hub.realtime.sessions import is_session_key, load_user
from hub.realtime.threads import off_loop


class HubConsumer(ClientFrames):
    """One socket: its user, the streams it follows and its position in each.

    ``self.positions`` maps a followed stream name to ``[epoch, offset]``: the
    last offset this socket has sent (or the offset it started following at).
    Doorbells at or below it are duplicates and ignored; one above
    ``offset + 1`` means doorbells were lost, and the gap is read from the log
    before the event is sent, so the client sees every offset once, in order.
    """

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
        behind the calls of sockets already in (:func:`hub.realtime.threads.off_loop`
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
        self.frame_writer = getattr(
            getattr(self.base_send, "__self__", None), "write_frame", None
        )
        if hasattr(self.transport, "set_write_buffer_limits"):
            # asyncio servers (uvicorn) make `send` wait while the transport
            # holds more than its high-water mark (64 KiB by default): above
            # our own bound, so the fan-out never waits on one socket.
            self.transport.set_write_buffer_limits(
                high=2 * settings.HUB_SEND_BUFFER_BYTES
            )
        self.refilled_at = time.monotonic()
        await self.accept()
        # Both keys put in the scope by hub.realtime.sessions's middleware.
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
            self.user, token_id, readable = await off_loop(
                _with_readable, admission=True
            )(domain().token_user, secret)
            if token_id is not None:
                target = token_target(token_id)
                self.targets = [*self.targets, target]
                await self.fanout.join(self, [target], since=loading_since)
        else:
            self.user, _key, readable = await off_loop(_with_readable, admission=True)(
                load_user, cookie
            )
        if _is_active(self.user):
            # The socket's log lines name its user (core/logs.py).
            log_user = domain().log_user
            log_user(self.user.pk)
            self.context.run(log_user, self.user.pk)
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
        # Subscriptions are checked against the readable streams (a name
        # missing from them is checked in the database: access granted
        # since); a change of the user's memberships refreshes them
        # (hub_recheck, also one that came while they were read: joined with
        # ``since`` above).
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


def _is_active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def _with_readable(load, credential) -> tuple[Any, Any, list[str]]:
    """``load(credential)`` (:func:`load_user` or the registry's ``token_user``:
    ``(user, key or token id)``), then the streams that user may read for
    ``hello``, in one call off the loop (sync, database work).

    One hop instead of two per socket opened: each hop is a thread switch,
    a future and a wait for the GIL on both sides (bench S1, S5). An
    anonymous or inactive user reads no stream (and is closed with 4401).
    """
    user, found = load(credential)
    return user, found, domain().readable_streams(user) if _is_active(user) else []
