"""The WebSocket side of the ASGI application, in one step (decision 0005).

What Channels does with five nested middlewares (``AllowedHostsOriginValidator``,
``CookieMiddleware``, ``SessionMiddleware``, ``AuthMiddleware``, ``URLRouter``),
each with its own copy of the scope and its own coroutine frame that live as
long as the socket, :class:`SocketApp` does in one call:

1. the Origin check of Channels' ``AllowedHostsOriginValidator`` (its
   ``valid_origin``, against ``ALLOWED_HOSTS`` as they were when the
   application was built): a missing or foreign Origin is refused at the
   handshake (close before accept: HTTP 403), as Channels' ``WebsocketDenier``
   does;
2. the route (:data:`hub.routing.websocket_routes`): an unknown path is refused
   the same way;
3. the consumer, with a slim scope: ``type``, ``path`` and ``session_cookie``
   (the session cookie's value, or ``None``). The headers are not kept for the
   socket's lifetime.

The consumer accepts the socket, then loads the session and the user in one
hop with :func:`load_user` (Django's checks: the backend, the session hash):
an anonymous or inactive user is closed with 4401, a code the browser can act
on. Accepting first keeps a reconnect storm's handshakes from timing out
while sessions load (decision 0004).
"""

import functools
from importlib import import_module
from urllib.parse import urlparse

from channels.auth import get_user
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.db import connection
from django.http import parse_cookie
from django.utils import timezone


def load_user(session_key: str | None):
    """Return ``(user, session key)`` for a session cookie's value (sync,
    database work): ``AnonymousUser`` and ``None`` for no, an unknown or an
    expired session.

    Django's checks (Channels' ``get_user``: the backend, the session hash,
    an inactive user) on the configured session engine; with the database
    engine the session row is read in plain SQL (:func:`session_store`).
    """
    from django.contrib.auth.models import AnonymousUser

    if not session_key or not is_session_key(session_key):
        return AnonymousUser(), None
    session = session_store()(session_key)
    user = get_user.func({"session": session})
    # Loading an unknown key (or flushing a session whose hash no longer
    # matches) leaves it without one.
    return user, session.session_key if user.is_authenticated else None


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
        # Only for its valid_origin(): the same rules as Channels', with
        # ALLOWED_HOSTS read now, as AllowedHostsOriginValidator does.
        self.origins = AllowedHostsOriginValidator(None)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket":
            raise ValueError(f"SocketApp serves WebSockets, not {scope['type']!r}")
        origin = cookie = None
        for name, value in scope.get("headers", ()):
            if name == b"origin":
                try:
                    origin = urlparse(value.decode("latin1"))
                except (UnicodeDecodeError, ValueError):
                    origin = None
            elif name == b"cookie":
                cookie = value.decode("latin1")
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        consumer_class = self.routes.get(path)
        if consumer_class is None or not self.origins.valid_origin(origin):
            await _deny(receive, send)
            return
        key = parse_cookie(cookie).get(settings.SESSION_COOKIE_NAME) if cookie else None
        slim = {"type": "websocket", "path": path, "session_cookie": key}
        del scope, cookie, origin
        await consumer_class()(slim, receive, send)


async def _deny(receive, send) -> None:
    """Refuse the handshake: close before accepting (the server answers 403)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})
