"""How a request to the API authenticates (docs/api.md, "Authentication").

Each operation names the scope it needs: ``auth=READ`` or ``auth=WRITE``.
Both accept, in this order:

1. ``Authorization: Bearer <token>``: a personal access token
   (:func:`core.api.tokens.authenticate`). A token that opens nothing is a
   401 at once (the session is not tried), one without the scope a 403;
2. the site's own session (its pages' scripts), with Django's CSRF check on
   a request that changes something (ninja's cookie check, as its
   ``django_auth``). A session holds every scope.

The authenticated user is ``request.auth``. ``request.user`` stays what
Django's middleware made of the session (token requests carry none), so
nothing that keeps sessions mixes a token's user into one.
"""

from django.conf import settings
from ninja.security import APIKeyCookie, HttpBearer

from core.api import tokens


class TokenAuth(HttpBearer):
    """A personal access token with ``scope``."""

    def __init__(self, scope: str) -> None:
        if scope not in tokens.SCOPES:
            raise ValueError(f"unknown scope {scope!r}")
        self.scope = scope
        super().__init__()

    def authenticate(self, request, token: str):
        found = tokens.authenticate(token, self.scope)
        return found.user


class SessionAuth(APIKeyCookie):
    """The site's session cookie; CSRF checked on unsafe methods.

    Unlike ninja's ``django_auth``, a request without a logged-in session is
    simply not this (so the answer is a 401, not a CSRF 403).
    """

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request):
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)

    def authenticate(self, request, key):
        return request.user


READ = [TokenAuth("read"), SessionAuth()]
WRITE = [TokenAuth("write"), SessionAuth()]
