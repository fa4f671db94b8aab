"""What the realtime server needs from the domain, filled by ``core`` at start-up.

The server reads log rows and Redis messages and writes frames; the rules
behind them are the domain's: who may read a stream, what a ``seen`` frame
does, whose socket an API token opens, whether a session passed its second
factor, a client's address, and the log context of a socket's lines. The
domain registers them once (:func:`register`, from
``core.roster.apps.RosterConfig.ready`` through :mod:`core.sockets`), as it
registers its ephemeral frames (:mod:`hub.realtime.ephemeral`), so this
package imports nothing from ``core`` nor from delivery.

Callers take :func:`domain` where they use a rule: one module global and one
attribute per socket open, ``seen`` frame or recheck; nothing per event.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Domain:
    """The domain's answers, each a plain function (sync ones run off the loop)."""

    # Every stream ``user`` may read, ``user:<id>`` first (sync, database).
    readable_streams: Callable[[Any], list[str]]
    # Whether ``user`` may read the stream ``name`` (sync, database).
    can_read_stream: Callable[[Any, str], bool]
    # A ``seen`` frame: ``user`` saw ``offsets`` of stream ``name`` in an open
    # tab (sync, database).
    seen: Callable[[Any, str, list[int]], object]
    # ``(user, token id)`` for an API token that may read, else
    # ``(AnonymousUser, None)`` (sync, database).
    token_user: Callable[[str], tuple[Any, int | None]]
    # Whether ``session`` of ``user`` passed the second factor it owes.
    session_passed: Callable[[Any, Any], bool]
    # The client's address from an ASGI scope (trusted proxies applied).
    client_ip: Callable[[Mapping], str | None]
    # Name the current context's log lines after a request id (the
    # handshake's ``X-Request-ID``, cleaned, or a new one) ...
    log_request: Callable[[str | None], None]
    # ... and after a user id.
    log_user: Callable[[int], None]
    # A model whose rows say whose a session is (a unique ``session_key`` and
    # a ``user`` foreign key), or ``None``: with the database session engine
    # the socket then reads the session and its user in one statement
    # (:func:`hub.realtime.sessions.session_store`). A hint only: the user is
    # taken from it when its id is the one the session itself holds.
    session_owners: Any = None


_domain: Domain | None = None


def register(domain: Domain) -> None:
    """Install the domain's answers (once per process; again replaces them)."""
    global _domain
    _domain = domain


def domain() -> Domain:
    """The registered :class:`Domain`; raises if the domain registered none."""
    if _domain is None:
        raise ImproperlyConfigured(
            "hub.realtime has no domain: core.sockets.register_domain() "
            "runs in core.roster's AppConfig.ready"
        )
    return _domain
