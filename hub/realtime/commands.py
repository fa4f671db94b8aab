"""Messages queued to a socket by the server: control messages (close,
recheck, ephemeral relays; sent by :mod:`hub.realtime.control`), the log poll
and the drain of a stopping process (:mod:`hub.realtime.lifecycle`)."""

from django.conf import settings

from hub import streams as log
from hub.access import readable_streams
from hub.realtime import lifecycle
from hub.realtime.protocol import BYE_RESTART, CLOSE_SESSION_ENDED, REPLAY_BATCH
from hub.realtime.replay import Replay
from hub.realtime.threads import off_loop


class Commands(Replay):
    """What the server (not the client) asks of a socket."""

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
