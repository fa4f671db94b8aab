"""The one WebSocket consumer of the hub (``/ws/``); protocol in docs/protocol.md.

It authenticates from the session (``AuthMiddlewareStack``), lets a socket
subscribe only to streams its user may read, replays missed events from the
log on ``resume`` and forwards doorbells. It holds no domain logic.
"""

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from hub import streams as log
from hub.access import can_read_stream, readable_streams
from hub.fanout import user_sockets_group

logger = logging.getLogger(__name__)

# Close codes (RFC 6455 §7.4: 4000-4999 are the application's).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_SESSION_ENDED = 4403
CLOSE_TOO_BIG = 1009
CLOSE_TOO_MANY_ERRORS = 4429

MAX_STREAMS_PER_FRAME = 200
MAX_ERRORS = 20


class ProtocolError(Exception):
    """A frame the server refuses; becomes an ``error`` frame with ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class HubConsumer(AsyncWebsocketConsumer):
    """One socket: its user, the streams it follows and its position in each.

    ``self.positions`` maps a stream name to ``[epoch, offset]``: the last
    offset this socket has delivered. Doorbells at or below it are ignored
    (duplicates); above ``offset + 1`` the gap is read from the log.
    """

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.positions: dict[str, list] = {}
        self.errors = 0
        if not getattr(self.user, "is_authenticated", False) or not self.user.is_active:
            # Accept then close, so the browser sees a close code it can act on
            # (a rejected handshake only shows 1006).
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.channel_layer.group_add(user_sockets_group(self.user.pk), self.channel_name)
        await self.accept()
        await self.send_json({
            "type": "hello",
            "user": self.user.pk,
            "streams": await database_sync_to_async(readable_streams)(self.user),
            "heartbeat": settings.HUB_HEARTBEAT_SECONDS,
            "max_frame": settings.HUB_MAX_FRAME_BYTES,
        })

    async def disconnect(self, code: int) -> None:
        if not getattr(self.user, "is_authenticated", False):
            return
        await self.channel_layer.group_discard(
            user_sockets_group(self.user.pk), self.channel_name
        )
        for name in list(self.positions):
            await self.channel_layer.group_discard(log.group_name(name), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        raw = text_data if text_data is not None else bytes_data
        if raw is None:
            return
        size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
        if size > settings.HUB_MAX_FRAME_BYTES:
            await self.send_json({
                "type": "error",
                "code": "frame_too_big",
                "message": f"frame of {size} bytes over {settings.HUB_MAX_FRAME_BYTES}",
            })
            await self.close(code=CLOSE_TOO_BIG)
            return
        frame_id = None
        try:
            try:
                frame = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise ProtocolError("invalid_json", "the frame is not valid JSON") from None
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise ProtocolError("invalid_frame", "a frame is a JSON object with a 'type'")
            frame_id = frame.get("id")
            handler = self.HANDLERS.get(frame["type"])
            if handler is None:
                raise ProtocolError("unknown_type", f"unknown frame type {frame['type'][:40]!r}")
            await handler(self, frame)
        except ProtocolError as error:
            self.errors += 1
            reply = {"type": "error", "code": error.code, "message": error.message}
            if frame_id is not None:
                reply["id"] = frame_id
            await self.send_json(reply)
            if self.errors > MAX_ERRORS:
                await self.close(code=CLOSE_TOO_MANY_ERRORS)

    async def send_json(self, content: dict) -> None:
        await self.send(text_data=json.dumps(content, separators=(",", ":")))

    # Frames from the client ------------------------------------------------

    async def on_ping(self, frame: dict) -> None:
        await self.send_json({"type": "pong", "id": frame.get("id")})

    async def on_subscribe(self, frame: dict) -> None:
        """Follow streams from now on: ``{"type": "subscribe", "streams": [...]}``."""
        names = _stream_list(frame.get("streams"))
        await self._follow({name: None for name in names}, frame.get("id"), "subscribed")

    async def on_resume(self, frame: dict) -> None:
        """Follow streams from given positions, replaying what was missed.

        ``{"type": "resume", "streams": {"user:5": {"epoch": "…", "offset": 12}}}``.
        """
        wanted = frame.get("streams")
        if not isinstance(wanted, dict) or not wanted or len(wanted) > MAX_STREAMS_PER_FRAME:
            raise ProtocolError("invalid_frame", "'streams' must map stream names to positions")
        positions = {}
        for name, position in wanted.items():
            if not isinstance(name, str):
                raise ProtocolError("invalid_frame", "stream names are strings")
            if position is not None and not (
                isinstance(position, dict)
                and isinstance(position.get("epoch"), str)
                and isinstance(position.get("offset"), int)
                and not isinstance(position.get("offset"), bool)
                and position["offset"] >= 0
            ):
                raise ProtocolError(
                    "invalid_frame", f"position of {name[:100]!r} must be {{epoch, offset>=0}}"
                )
            positions[name] = position
        await self._follow(positions, frame.get("id"), "resumed")

    async def on_unsubscribe(self, frame: dict) -> None:
        for name in _stream_list(frame.get("streams")):
            if self.positions.pop(name, None) is not None:
                await self.channel_layer.group_discard(log.group_name(name), self.channel_name)
        await self.send_json({"type": "unsubscribed", "id": frame.get("id")})

    HANDLERS = {
        "ping": on_ping,
        "subscribe": on_subscribe,
        "resume": on_resume,
        "unsubscribe": on_unsubscribe,
    }

    async def _follow(self, wanted: dict[str, dict | None], frame_id, reply_type: str) -> None:
        allowed = await database_sync_to_async(_allowed)(self.user, list(wanted))
        refused = [name for name in wanted if name not in allowed]
        if refused:
            # Same answer for "does not exist" and "not yours".
            raise ProtocolError("forbidden", f"no such stream or not allowed: {refused[0][:100]}")
        # Join the groups before reading positions, so no doorbell falls between.
        for name in wanted:
            await self.channel_layer.group_add(log.group_name(name), self.channel_name)
        current = await database_sync_to_async(log.positions)(list(wanted))
        result = {}
        for name, position in wanted.items():
            epoch, last = current[name]
            result[name] = {"epoch": epoch, "offset": last}
            if position is None:
                self.positions[name] = [epoch, last]
                continue
            reason = _reset_reason(position, epoch, last)
            if reason is None:
                reason = await self._replay(name, epoch, position["offset"], last)
            if reason is not None:
                self.positions[name] = [epoch, last]
                await self.send_json({
                    "type": "reset", "stream": name, "epoch": epoch,
                    "offset": last, "reason": reason,
                })
        await self.send_json({"type": reply_type, "id": frame_id, "streams": result})

    async def _replay(self, name: str, epoch: str, after: int, upto: int) -> str | None:
        """Send events ``after < offset <= upto``; return a reset reason or None."""
        if upto - after > settings.HUB_REPLAY_LIMIT:
            return "too_far_behind"
        if after < upto:
            oldest = await database_sync_to_async(log.oldest_offset)(name)
            if oldest > after + 1:
                return "retention"
        self.positions[name] = [epoch, after]
        await self._deliver_from_log(name, upto)
        return None

    async def _deliver_from_log(self, name: str, upto: int) -> None:
        epoch, after = self.positions[name]
        while after < upto:
            batch = await database_sync_to_async(log.read_events)(name, after, upto, 200)
            if not batch:
                break
            for envelope in batch:
                await self.send_json(envelope.frame())
                after = envelope.offset
            self.positions[name] = [epoch, after]

    # Messages from the channel layer --------------------------------------

    async def hub_doorbell(self, message: dict) -> None:
        """Forward an event once, filling any gap from the log first."""
        event = message["event"]
        name = event["stream"]
        position = self.positions.get(name)
        if position is None:
            return
        epoch, last = position
        if event["epoch"] != epoch:
            latest = await database_sync_to_async(log.positions)([name])
            epoch, offset = latest[name]
            self.positions[name] = [epoch, offset]
            await self.send_json({
                "type": "reset", "stream": name, "epoch": epoch,
                "offset": offset, "reason": "epoch",
            })
            return
        if event["offset"] <= last:
            return
        if event["offset"] > last + 1:
            await self._deliver_from_log(name, event["offset"])
            return
        await self.send_json(event)
        self.positions[name] = [epoch, event["offset"]]

    async def hub_close(self, message: dict) -> None:
        """Close this socket: the user logged out or changed password."""
        await self.send_json({"type": "bye", "reason": message.get("reason", "")})
        await self.close(code=CLOSE_SESSION_ENDED)


def _stream_list(value) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_STREAMS_PER_FRAME
        or not all(isinstance(v, str) for v in value)
    ):
        raise ProtocolError("invalid_frame", "'streams' must be a non-empty list of names")
    return list(dict.fromkeys(value))


def _allowed(user, names: list[str]) -> set[str]:
    return {name for name in names if can_read_stream(user, name)}


def _reset_reason(position: dict, epoch: str, last: int) -> str | None:
    if position["epoch"] != epoch:
        return "epoch"
    if position["offset"] > last:
        return "future"
    return None
