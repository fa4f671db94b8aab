"""Doorbells on the channel layer (ARCHITECTURE.md P1, P4).

After a transaction commits, :func:`ring` publishes each event once per
stream through the process-local fan-out (:mod:`hub.broadcast`). The message
carries the event, so a socket that is up to date forwards it without
touching the database; a socket that sees a gap reads the missing offsets
from the log. A lost or doubled doorbell therefore never loses or doubles an
event for a client.

Control messages go through the channel layer (``type`` names the consumer
handler, ``hub.x`` -> ``hub_x``):

- ``{"type": "hub.close", "reason": "logout"}`` to ``hub.sockets.<user id>``;
- ``{"type": "hub.recheck"}`` to ``hub.sockets.<user id>``.

Every function here is called from sync code (``transaction.on_commit``
callbacks, signal receivers) and never raises: the database is already
committed, and a lost message is what P1 is designed for. Failures are logged.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from hub.streams import Envelope

logger = logging.getLogger(__name__)


def user_sockets_group(user_id: int) -> str:
    """Return the group every socket of one user joins (to close or recheck them)."""
    return f"hub.sockets.{user_id}"


def ring(envelopes: list[Envelope]) -> None:
    """Send each envelope's ``event`` frame to the sockets following its
    stream, in every process (:func:`hub.broadcast.publish`; P4)."""
    from hub import broadcast

    broadcast.publish([envelope.frame() for envelope in envelopes])


def session_sockets_group(session_key: str) -> str:
    """Return the group of the sockets opened with one session (a device)."""
    return f"hub.session.{session_key}"


def close_user_sockets(user_id: int, reason: str) -> None:
    """Ask every socket of ``user_id`` to close (password change, deactivation)."""
    _send_all([(user_sockets_group(user_id), {"type": "hub.close", "reason": reason})])


def close_session_sockets(session_key: str, reason: str) -> None:
    """Ask the sockets of one session to close (its logout); other devices stay."""
    _send_all(
        [(session_sockets_group(session_key), {"type": "hub.close", "reason": reason})]
    )


def recheck_user_sockets(user_ids) -> None:
    """Ask every socket of ``user_ids`` to drop streams its user may no longer read."""
    _send_all(
        [
            (user_sockets_group(pk), {"type": "hub.recheck"})
            for pk in sorted(set(user_ids))
        ]
    )


def _send_all(messages: list[tuple[str, dict]]) -> None:
    """Send ``(group, message)`` pairs in order; log failures, never raise."""
    if not messages:
        return
    layer = get_channel_layer()
    if layer is None:
        return

    async def send() -> None:
        for group, message in messages:
            try:
                await layer.group_send(group, message)
            except Exception:
                logger.exception("could not send %s to %s", message["type"], group)

    try:
        # One hop to the event loop for all the messages of a commit.
        async_to_sync(send)()
    except Exception:
        # E.g. called from a thread running an event loop: a caller's bug, but
        # the transaction is committed and clients will catch up (P1).
        logger.exception("could not send %d hub message(s)", len(messages))
