"""The domain's answers to the realtime server (:mod:`hub.realtime.registry`).

The socket server imports nothing from ``core``: what it needs to know (who
may read a stream, what a ``seen`` frame does, whose socket an API token
opens, the second factor of a session, the client's address, the log context)
is registered here once, at start-up (``core.roster``'s ``AppConfig.ready``).
"""

from django.contrib.auth.models import AnonymousUser

from core import logs
from core.accounts.models import UserSession
from core.api.tokens import TokenRejected, authenticate
from core.audit.ip import client_ip
from core.request_id import clean as clean_request_id
from core.roster.streams import can_read_stream, readable_streams
from core.twofactor.policy import session_passed
from hub.delivery.actions import mark_seen
from hub.realtime import registry


def token_user(secret: str):
    """Return ``(user, token id)`` for an API access token with the ``read``
    scope (sync, database work): ``AnonymousUser`` and ``None`` for a token
    that opens nothing (:func:`core.api.tokens.authenticate`: unknown,
    revoked, expired, an inactive user's, without ``read``)."""
    try:
        token = authenticate(secret, "read")
    except TokenRejected:
        return AnonymousUser(), None
    return token.user, token.pk


def log_request(request_id: str | None) -> None:
    """Name the current context's log lines after the socket's request id."""
    logs.request_id.set(clean_request_id(request_id))


def log_user(user_id: int) -> None:
    """Name the current context's log lines after the socket's user."""
    logs.user_id.set(user_id)


def register_domain() -> None:
    """Give the realtime server the domain's rules (once per process)."""
    registry.register(
        registry.Domain(
            readable_streams=readable_streams,
            can_read_stream=can_read_stream,
            seen=mark_seen,
            token_user=token_user,
            session_passed=session_passed,
            client_ip=client_ip,
            log_request=log_request,
            log_user=log_user,
            session_owners=UserSession,
        )
    )
