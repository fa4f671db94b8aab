"""Frames from the client: size and rate limits, JSON, one handler per
``type`` (docs/protocol.md); a refused frame answers ``error``."""

import json
import time

from django.conf import settings

from core import metrics
from hub.delivery.actions import mark_seen
from hub.realtime import ephemeral
from hub.realtime.commands import Commands
from hub.realtime.control import user_target
from hub.realtime.protocol import (
    CLOSE_TOO_BIG,
    CLOSE_TOO_MANY_ERRORS,
    EPHEMERAL_INTERVAL,
    MAX_ERRORS,
    MAX_STREAMS_PER_FRAME,
    RATE_BURST,
    RATE_PER_SECOND,
    ProtocolError,
)
from hub.realtime.threads import off_loop


class ClientFrames(Commands):
    """Read, check and handle client frames."""

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
