"""Doorbells on the channel layer (ARCHITECTURE.md P1, P4).

After a transaction commits, :func:`ring` sends one message per stream to the
stream's group. The message carries the event, so a consumer that is up to
date forwards it without touching the database; a consumer that sees a gap
reads the missing offsets from the log. A lost or doubled doorbell therefore
never loses or doubles an event for a client.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from hub.streams import Envelope, group_name

logger = logging.getLogger(__name__)


def user_sockets_group(user_id: int) -> str:
    """Return the group every socket of one user joins (used to close them)."""
    return f"hub.sockets.{user_id}"


def ring(envelopes: list[Envelope]) -> None:
    """Send one ``hub.doorbell`` per envelope to its stream's group.

    Never raises: the events are already committed, and clients catch up from
    the log on their next doorbell or reconnect (P1). Failures are logged.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    for envelope in envelopes:
        message = {"type": "hub.doorbell", "event": envelope.frame()}
        try:
            _send(layer, group_name(envelope.stream), message)
        except Exception:
            logger.exception("doorbell for %s#%s failed", envelope.stream, envelope.offset)


def close_user_sockets(user_id: int, reason: str) -> None:
    """Ask every socket of ``user_id`` to close (logout, password change)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        _send(layer, user_sockets_group(user_id), {"type": "hub.close", "reason": reason})
    except Exception:
        logger.exception("could not close the sockets of user %s", user_id)


def _send(layer, group: str, message: dict) -> None:
    # Actions run in sync code (views, commands, or database_sync_to_async).
    async_to_sync(layer.group_send)(group, message)
