"""Control messages: close or recheck the sockets of a user, a session or an
API token, and relay ephemeral frames, in every process (decision 0005).

Control messages take the same fan-out, on its control channel
(:func:`publish_control`, docs/decisions/0005); ``type`` names
the consumer handler (``hub.x`` -> ``hub_x``):

- ``{"type": "hub.close", "reason": ...}`` to ``user:<id>`` (password
  change, deactivation) or to ``session:<key>`` (logout: that device only);
- ``{"type": "hub.recheck"}`` to ``user:<id>`` (memberships changed).

Every function here is called from sync code (``transaction.on_commit``
callbacks, signal receivers) and never raises: the database is already
committed, and a lost message is what P1 is designed for. Failures are logged.
"""

import json

from django.conf import settings

from hub.realtime.loops import _local_fanouts
from hub.realtime.publish import _publish_on_redis


def control_channel() -> str:
    """The one Redis channel of control messages: ``<HUB_CHANNEL_PREFIX>:control``."""
    return f"{settings.HUB_CHANNEL_PREFIX}:control"


def user_target(user_id: int) -> str:
    """The control target of every socket of one user."""
    return f"user:{user_id}"


def session_target(session_key: str) -> str:
    """The control target of the sockets opened with one session (a device)."""
    return f"session:{session_key}"


def token_target(token_id: int) -> str:
    """The control target of the sockets opened with one API access token."""
    return f"token:{token_id}"


def publish_control(messages: list[tuple[str, dict]]) -> None:
    """Hand control messages to the sockets of their targets in every process;
    never raises.

    ``messages`` are ``(target, message)`` pairs: ``target`` is
    :func:`user_target` or :func:`session_target`, ``message`` a
    consumer message (``{"type": "hub.close", "reason": "logout"}``, handled
    by ``hub_close``). Called from sync code, any thread. With Redis: one
    ``PUBLISH`` each on :func:`control_channel`, in one pipeline round trip;
    without: handed to every event loop of this process. A failure is logged:
    delivery is best effort, as it was on the channel layer.
    """
    if not messages:
        return
    if settings.REDIS_URL:
        channel = control_channel()
        _publish_on_redis(
            [(channel, _control_text(target, m)) for target, m in messages],
            "control message",
        )
        return
    for fanout in _local_fanouts():
        for target, message in messages:
            fanout.control_threadsafe(target, message)


def _control_text(target: str, message: dict) -> str:
    return json.dumps(
        {"target": target, "message": message},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def close_user_sockets(user_id: int, reason: str) -> None:
    """Ask every socket of ``user_id`` to close (password change, deactivation)."""
    publish_control([(user_target(user_id), {"type": "hub.close", "reason": reason})])


def close_session_sockets(session_key: str, reason: str) -> None:
    """Ask the sockets of one session to close (its logout); other devices stay."""
    publish_control(
        [
            (
                session_target(session_key),
                {"type": "hub.close", "reason": reason},
            )
        ]
    )


def close_token_sockets(token_id: int, reason: str) -> None:
    """Ask the sockets opened with one API access token to close (its revocation)."""
    publish_control([(token_target(token_id), {"type": "hub.close", "reason": reason})])


def recheck_user_sockets(user_ids) -> None:
    """Ask every socket of ``user_ids`` to drop streams its user may no longer read."""
    publish_control(
        [(user_target(pk), {"type": "hub.recheck"}) for pk in sorted(set(user_ids))]
    )
