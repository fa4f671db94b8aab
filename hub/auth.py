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
2. the route (:data:`hub.routing.websocket_routes`): an unknown path is refused
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
from importlib import import_module
from urllib.parse import urlsplit

from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Manager
from django.http import parse_cookie
from django.http.request import is_same_domain, split_domain_port
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from core.audit.ip import client_ip
from core.twofactor.policy import session_passed
from hub.rows import columns, converted


def load_user(session_key: str | None):
    """Return ``(user, session key)`` for a session cookie's value (sync,
    database work): ``AnonymousUser`` and ``None`` for no, an unknown or an
    expired session.

    Django's checks (those of Channels' ``get_user``: the backend, the
    session hash, an inactive user; :func:`session_user`), then the second
    factor (:func:`core.twofactor.policy.session_passed`) on the configured
    session engine; with the database engine the session row is read in
    plain SQL (:func:`session_store`).
    """
    from django.contrib.auth.models import AnonymousUser

    if not session_key or not is_session_key(session_key):
        return AnonymousUser(), None
    session = session_store()(session_key)
    user = session_user(session)
    # A session that owes its second factor (a login by password of staff, or
    # of someone who added one) opens no socket: the session alone says so.
    if user is not None and not session_passed(session, user):
        user = None
    user = user or AnonymousUser()
    # Loading an unknown key (or flushing a session whose hash no longer
    # matches) leaves it without one.
    return user, session.session_key if user.is_authenticated else None


def load_token_user(secret: str):
    """Return ``(user, token id)`` for an API access token with the ``read``
    scope (sync, database work): ``AnonymousUser`` and ``None`` for a token
    that opens nothing (:func:`core.api.tokens.authenticate`: unknown,
    revoked, expired, an inactive user's, without ``read``)."""
    from django.contrib.auth.models import AnonymousUser

    from core.api.tokens import TokenRejected, authenticate

    try:
        token = authenticate(secret, "read")
    except TokenRejected:
        return AnonymousUser(), None
    return token.user, token.pk


def session_user(session):
    """The active user ``session`` is logged in as, or ``None`` (sync, database).

    Channels' ``channels.auth.get_user`` step for step (the user id and the
    backend path from the session, the backend among
    ``AUTHENTICATION_BACKENDS``, the session hash compared in constant time,
    the session flushed when it does not match, a hash of a key of
    ``SECRET_KEY_FALLBACKS`` accepted as Django's ``get_user`` does), with one
    change: for
    Django's ``ModelBackend`` lookup the user row is read by
    :func:`user_by_pk` in plain SQL instead of the ORM's
    ``_default_manager.get(pk=...)`` (120 against 390 us of CPU per socket on
    PostgreSQL: bench S5, decision 0004's second addendum); ``user_can_authenticate``
    (an inactive user) is still the backend's. Another backend's own
    ``get_user`` is called as Channels does.
    """
    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except (KeyError, ValidationError):
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    backend = load_backend(backend_path)
    if not hasattr(backend, "get_user"):
        # A backend that only refuses (the login lockout) logs no one in.
        return None
    if _plain_lookup(type(backend)):
        user = user_by_pk(user_id)
        if user is not None and not backend.user_can_authenticate(user):
            user = None
    else:
        user = backend.get_user(user_id)
    if user is None:
        return None
    session_hash = session.get(HASH_SESSION_KEY)
    if not (
        session_hash
        and constant_time_compare(session_hash, user.get_session_auth_hash())
        or _fallback_hash_matches(user, session_hash)
    ):
        session.flush()
        return None
    return user


def _fallback_hash_matches(user, session_hash) -> bool:
    """Whether ``session_hash`` is ``user``'s under one of
    ``SECRET_KEY_FALLBACKS`` (a session of before a key rotation), as
    Django's ``get_user`` accepts it. Only reached when the current key's
    hash did not match (the usual path costs nothing more). Unlike Django,
    the socket leaves the session as it is: the page's next request moves it
    to the current key (Django cycles its key then; the socket keeps the
    session it was opened with)."""
    return bool(session_hash) and any(
        constant_time_compare(session_hash, fallback)
        for fallback in user.get_session_auth_fallback_hash()
    )


@functools.cache
def _plain_lookup(backend_class: type) -> bool:
    """Whether ``backend_class.get_user`` is ModelBackend's (a primary-key
    lookup through a default manager that filters nothing)."""
    manager = get_user_model()._default_manager
    return (
        backend_class.get_user is ModelBackend.get_user
        and type(manager).get_queryset is Manager.get_queryset
    )


def user_by_pk(user_id):
    """The user model's instance of primary key ``user_id``, or ``None``
    (sync, one plain SQL query on the default database).

    What ``_default_manager.get(pk=user_id)`` returns (every concrete field,
    values converted as the ORM does: :func:`hub.rows.converted`,
    ``Model.from_db``), without building a query each time.
    """
    model = get_user_model()
    sql, names, attnames = _user_query(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [model._meta.pk.get_db_prep_value(user_id, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    (values,) = converted(model, names, [row])
    return model.from_db(connection.alias, attnames, values)


@functools.cache
def _user_query(vendor: str) -> tuple[str, tuple[str, ...], list[str]]:
    """SQL, field names and attribute names of :func:`user_by_pk` on the
    default connection (whose ``vendor`` keys the cache)."""
    model = get_user_model()
    fields = model._meta.concrete_fields
    names = tuple(field.name for field in fields)
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {columns(model, names)} FROM {quote(model._meta.db_table)}"
        f" WHERE {quote(model._meta.pk.column)} = %s"
    )
    return sql, names, [field.attname for field in fields]


def is_session_key(value: str) -> bool:
    """Whether a cookie's ``value`` can be a session key: 8 to 64 of the
    characters Django makes keys of (``VALID_KEY_CHARS``). Anything else (a
    NUL byte, which PostgreSQL refuses in a query, an 8 KB string) is no
    session, without a query."""
    return 8 <= len(value) <= 64 and set(value) <= _KEY_CHARS


_KEY_CHARS = frozenset(VALID_KEY_CHARS)


@functools.cache
def session_store() -> type:
    """The ``SessionStore`` class sockets load sessions with.

    ``SESSION_ENGINE``'s own, except for Django's database engine: then a
    subclass whose ``load()`` reads the row in one plain SQL query (what
    ``SessionStore.load`` does through the ORM, whose own work was three
    times the query's on every handshake: bench S5). Decoding, expiry and
    everything else stay Django's.
    """
    engine = import_module(settings.SESSION_ENGINE)
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return engine.SessionStore

    class SocketSessionStore(engine.SessionStore):
        @property
        def key_salt(self) -> str:
            # Django salts the signature with the class's name: keep the
            # engine's, or every session would read as corrupted.
            return super().key_salt.replace(
                type(self).__qualname__, engine.SessionStore.__qualname__
            )

        def load(self) -> dict:
            key = self.session_key
            table = connection.ops.quote_name(self.model._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT session_data FROM {table}"
                    " WHERE session_key = %s AND expire_date > %s",
                    [key, timezone.now()],
                )
                row = cursor.fetchone()
            if row is None:
                self._session_key = None  # as Django's load() for a missing row
                return {}
            return self.decode(row[0])

    return SocketSessionStore


class SocketApp:
    """ASGI application for every WebSocket connection of the hub."""

    def __init__(self, routes: dict[str, type]) -> None:
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
        origin = cookie = host = authorization = None
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
        AllowedHostsOriginValidator(None),
        CsrfViewMiddleware(lambda request: None),
    )


async def _deny(receive, send) -> None:
    """Refuse the handshake: close before accepting (the server answers 403)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})
