"""What a commit tells open sockets (ARCHITECTURE.md P1, P4).

After a transaction commits, :func:`ring` publishes each event once per
stream through the process-local fan-out (:mod:`hub.broadcast`). The message
carries the event, so a socket that is up to date forwards it without
touching the database; a socket that sees a gap reads the missing offsets
from the log. A lost or doubled doorbell therefore never loses or doubles an
event for a client.

Control messages take the same fan-out, on its control channel
(:func:`hub.broadcast.publish_control`, docs/decisions/0005); ``type`` names
the consumer handler (``hub.x`` -> ``hub_x``):

- ``{"type": "hub.close", "reason": ...}`` to ``user:<id>`` (password
  change, deactivation) or to ``session:<key>`` (logout: that device only);
- ``{"type": "hub.recheck"}`` to ``user:<id>`` (memberships changed).

Every function here is called from sync code (``transaction.on_commit``
callbacks, signal receivers) and never raises: the database is already
committed, and a lost message is what P1 is designed for. Failures are logged.
"""

from hub import broadcast
from hub.streams import Envelope


def ring(envelopes: list[Envelope]) -> None:
    """Send each envelope's ``event`` frame to the sockets following its
    stream, in every process (:func:`hub.broadcast.publish`; P4)."""
    broadcast.publish([envelope.frame() for envelope in envelopes])


def close_user_sockets(user_id: int, reason: str) -> None:
    """Ask every socket of ``user_id`` to close (password change, deactivation)."""
    broadcast.publish_control(
        [(broadcast.user_target(user_id), {"type": "hub.close", "reason": reason})]
    )


def close_session_sockets(session_key: str, reason: str) -> None:
    """Ask the sockets of one session to close (its logout); other devices stay."""
    broadcast.publish_control(
        [
            (
                broadcast.session_target(session_key),
                {"type": "hub.close", "reason": reason},
            )
        ]
    )


def close_token_sockets(token_id: int, reason: str) -> None:
    """Ask the sockets opened with one API access token to close (its revocation)."""
    broadcast.publish_control(
        [(broadcast.token_target(token_id), {"type": "hub.close", "reason": reason})]
    )


def recheck_user_sockets(user_ids) -> None:
    """Ask every socket of ``user_ids`` to drop streams its user may no longer read."""
    broadcast.publish_control(
        [
            (broadcast.user_target(pk), {"type": "hub.recheck"})
            for pk in sorted(set(user_ids))
        ]
    )
