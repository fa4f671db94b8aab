"""Session authentication of sockets: Channels' ``AuthMiddlewareStack``, with
the session and user lookup on :func:`hub.db.off_loop` (decision 0004)."""

from channels.auth import AuthMiddleware, get_user
from channels.sessions import CookieMiddleware, SessionMiddleware

from hub.db import off_loop


class SocketAuthMiddleware(AuthMiddleware):
    """Channels' ``AuthMiddleware``; ``scope["user"]`` is resolved off the loop
    on the shared pool of threads instead of Channels' one thread."""

    async def resolve_scope(self, scope):
        scope["user"]._wrapped = await off_loop(get_user.func)(scope)


def SocketAuthStack(inner):  # noqa: N802 (named as Channels' AuthMiddlewareStack)
    """Cookies, session, then the user: ``scope["session"]`` and ``scope["user"]``."""
    return CookieMiddleware(SessionMiddleware(SocketAuthMiddleware(inner)))
