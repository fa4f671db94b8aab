"""Ephemeral frames: relayed to other users' open sockets, never stored.

A domain module registers a frame type with a handler; the consumer calls it
for each such frame from a client, throttled, and relays the frame it returns
to the sockets of the users it names. Typing indicators use this
(``core/messaging/typing.py``). Nothing here touches the stream log.
"""

from collections.abc import Callable
from dataclasses import dataclass


class EphemeralRefused(Exception):
    """The user may not send this frame.

    ``code`` is the ``error`` frame's: ``forbidden`` (not found and not
    allowed alike) unless the handler names another, such as ``suspended``.
    """

    def __init__(self, message: str = "", code: str = "forbidden") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Relay:
    """What to relay: ``frame`` to every socket of ``user_ids``.

    ``key`` names what the frame is about (a conversation), for throttling.
    """

    user_ids: list[int]
    frame: dict
    key: str


Handler = Callable[[object, dict], Relay]
_HANDLERS: dict[str, Handler] = {}


def register(frame_type: str, handler: Handler) -> None:
    """Declare that client frames of ``frame_type`` go through ``handler``.

    ``handler(user, frame)`` runs in a thread with database access, returns
    a :class:`Relay`, and raises :class:`EphemeralRefused` to refuse.
    """
    _HANDLERS[frame_type] = handler


def handler_for(frame_type: str) -> Handler | None:
    """Return the handler registered for ``frame_type``, if any."""
    return _HANDLERS.get(frame_type)
