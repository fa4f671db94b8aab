"""The WebSocket side of the ASGI application, in one step (decision 0005).

What Channels does with five nested middlewares (``AllowedHostsOriginValidator``,
``CookieMiddleware``, ``SessionMiddleware``, ``AuthMiddleware``, ``URLRouter``),
each with its own copy of the scope and its own coroutine frame that live as
long as the socket, :class:`SocketApp` does in one call:

1. the Origin check (:meth:`SocketApp.origin_allowed`): Channels'
   ``AllowedHostsOriginValidator`` (the Origin's host in ``ALLOWED_HOSTS``)
   and Django's CSRF rule for an Origin (the page's own scheme, host and
   port, or one of ``CSRF_TRUSTED_ORIGINS``), so a page served from another
   port or scheme of the same host is refused too. A missing or foreign Origin is refused at
   the handshake (close before accept: HTTP 403), as Channels'
   ``WebsocketDenier`` does;
2. the route (:data:`hub.realtime.routing.websocket_routes`): an unknown path is refused
   the same way;
3. the consumer, with a slim scope: ``type``, ``path``, ``session_cookie``
   (the session cookie's value, or ``None``), ``access_token`` (see below,
   or ``None``) and ``client_address`` (the client's IP address, or
   ``None``). The headers are not kept for the socket's lifetime.

A client that is no browser (an app, a script: docs/api.md) sends no Origin;
it may authenticate with ``Authorization: Bearer <token>``, a personal
access token of the API with the ``read`` scope (:func:`load_token_user`).
Only without an Origin, and then the cookie is ignored: a browser always
sends an Origin and cannot set that header on a WebSocket, so its path is
unchanged, and a cookie without an Origin (or without a token) is still
refused at the handshake.

The consumer accepts the socket, then loads the session and the user in one
hop with :func:`load_user` (Django's checks: the backend, the session hash):
an anonymous or inactive user is closed with 4401, a code the browser can act
on. Accepting first keeps a reconnect storm's handshakes from timing out
while sessions load (decision 0004).
"""

import functools
from collections.abc import Mapping
from urllib.parse import urlsplit

from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.http import parse_cookie
from django.http.request import split_domain_port
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.http import is_same_domain

from core import logs
from core.audit.ip import client_ip
from core.request_id import clean as clean_request_id


class SocketApp:
    """ASGI application for every WebSocket connection of the hub."""

    def __init__(self, routes: Mapping[str, type]) -> None:
        """``routes`` maps a path (``"/ws/"``) to a consumer class."""
        self.routes = routes

    def origin_allowed(
        self, origin: str | None, host: str | None, secure: bool = False
    ) -> bool:
        """Whether a page of ``origin`` (the handshake's ``Origin`` header)
        may open a socket on ``host`` (its ``Host`` header); ``secure``: the
        socket came over TLS (the scope's scheme is ``wss``: uvicorn's
        ``--proxy-headers`` take it from the proxy's ``X-Forwarded-Proto``,
        as Django's HTTP requests on the same server do).

        Both checks must pass: Channels' ``AllowedHostsOriginValidator`` (the
        Origin's host name matches ``ALLOWED_HOSTS``; it ignores the port) and
        the rule of Django's CSRF Origin check
        (``CsrfViewMiddleware._origin_verified``): the Origin is exactly the
        page's own, ``http(s)://`` + ``Host`` (case aside), or listed in
        ``CSRF_TRUSTED_ORIGINS`` (exactly, or under a ``https://*.domain``
        entry). One difference, because the socket has no CSRF token behind
        its Origin check: a ``Host`` without a port makes the page's own
        origin only if it is also ``SITE_URL``'s. A proxy that drops the port
        from ``Host`` (nginx's ``$host``) would otherwise let a page on port
        80 or 443 of the same host in (found by a fresh-user trial); the site
        on a default port (``https://ent.example.fr``, its ``SITE_URL``) is
        served as before, and a site elsewhere lists its origin in
        ``CSRF_TRUSTED_ORIGINS`` or has its proxy pass the ``Host`` with its
        port (nginx's ``$http_host``, as ``deploy/nginx.conf``).
        """
        if not origin:
            return False
        try:
            parsed = urlsplit(origin)
            parsed.port  # noqa: B018 (raises ValueError for a bad port)
        except ValueError:
            return False
        hosts, csrf = _origin_rules(
            tuple(settings.ALLOWED_HOSTS),
            tuple(settings.CSRF_TRUSTED_ORIGINS),
            settings.DEBUG,
        )
        if not hosts.valid_origin(parsed):
            return False
        own = f"{'https' if secure else 'http'}://{host}".lower()
        if host and origin.lower() == own:
            if split_domain_port(host)[1] or own == _site_origin(settings.SITE_URL):
                return True
        if origin in csrf.allowed_origins_exact:
            return True
        return any(
            is_same_domain(parsed.netloc, pattern)
            for pattern in csrf.allowed_origin_subdomains.get(parsed.scheme, ())
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket":
            raise ValueError(f"SocketApp serves WebSockets, not {scope['type']!r}")
        origin = cookie = host = authorization = request_id = None
        repeated = False  # a second Origin, Host or Authorization
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                repeated = repeated or authorization is not None
                authorization = value.decode("latin1")
            elif name == b"origin":
                repeated = repeated or origin is not None
                origin = value.decode("latin1")
            elif name == b"cookie":
                cookie = value.decode("latin1")
            elif name == b"host":
                repeated = repeated or host is not None
                host = value.decode("latin1")
            elif name == b"x-request-id":
                request_id = value.decode("latin1")
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        consumer_class = self.routes.get(path)
        secure = scope.get("scheme") in ("wss", "https")
        token = _bearer(authorization) if origin is None else None
        if (
            consumer_class is None
            or repeated
            or not (token or self.origin_allowed(origin, host, secure))
        ):
            await _deny(receive, send)
            return
        key = None
        if cookie and not token:
            key = parse_cookie(cookie).get(settings.SESSION_COOKIE_NAME)
        slim = {
            "type": "websocket",
            "path": path,
            "session_cookie": key,
            "access_token": token,
            # The client's address, as the audit log and the throttles read
            # it (trusted proxy hops only): the cap of HUB_MAX_SOCKETS_PER_IP.
            "client_address": client_ip(scope),
        }
        del scope, cookie, origin, host, authorization, token
        # The socket's log lines, in every task of its consumer (core/logs.py).
        logs.request_id.set(clean_request_id(request_id))
        await consumer_class()(slim, receive, send)


def _bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    scheme, _space, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


@functools.lru_cache(maxsize=4)
def _site_origin(site_url: str) -> str:
    """``scheme://host[:port]`` of ``SITE_URL``, lower case."""
    parts = urlsplit(site_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@functools.lru_cache(maxsize=4)
def _origin_rules(allowed_hosts: tuple, trusted_origins: tuple, debug: bool):
    """Channels' validator (for its ``valid_origin``) and Django's CSRF
    middleware (for its parsed ``CSRF_TRUSTED_ORIGINS``), built once per
    value of the settings they read."""
    return (
        # Neither wraps an application: only their checks are called.
        AllowedHostsOriginValidator(None),  # type: ignore[arg-type]
        CsrfViewMiddleware(lambda request: None),  # type: ignore[arg-type]
    )


async def _deny(receive, send) -> None:
    """Refuse the handshake: close before accepting (the server answers 403)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})
