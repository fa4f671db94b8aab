"""Following streams from a position: replay and resume, doorbells, gap
filling from the log, live events in order (P1, P2).

A socket's ``positions`` only move forward: an event is sent once, in
offset order, read from the log whenever the fan-out's copy cannot be
sent as is."""

import asyncio
from collections.abc import Awaitable, Sequence

from django.conf import settings

from hub import streams as log
from hub.realtime import metrics
from hub.realtime.base import SocketBase
from hub.realtime.protocol import REPLAY_BATCH, ProtocolError
from hub.realtime.registry import domain
from hub.realtime.threads import off_loop


class Replay(SocketBase):
    """Follow streams, replay what a socket missed, take live events."""

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

    # Live events from the process's fan-out (hub.realtime.fanout) ---------------

    def offer(
        self, event: dict, text: str, frame: bytes | None = None
    ) -> Awaitable[None] | None:
        """Take one live event (``text`` is its frame, already encoded;
        ``frame`` the same as a WebSocket frame,
        :func:`hub.realtime.fanout.text_frame`).

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
        server can (:meth:`hub.realtime.uvicorn.SlimWebSocketProtocol.write_frame`:
        an open socket with no extension); ``False`` elsewhere (Daphne, a
        socket that compresses, one that must wait): the caller sends the
        text."""
        return self.frame_writer is not None and self.frame_writer(frame)

    def catch_up_later(self) -> None:
        """Re-read the log of every followed stream in this consumer's turn
        (after the fan-out lost its Redis subscription for a while)."""
        self._queue({"type": "hub.poll"})

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


def _may_read(user, names: list[str]) -> set[str]:
    can_read = domain().can_read_stream
    return {name for name in names if can_read(user, name)}


def _reset_reason(position: dict, epoch: str, last: int) -> str | None:
    if position["epoch"] != epoch:
        return "epoch"
    if position["offset"] > last:
        return "future"
    return None
