"""The request id: one per HTTP request and per socket, in every log line.

A well-formed ``X-Request-ID`` from the proxy (nginx's ``$request_id``,
deploy/nginx.conf) is kept, so the proxy's access log and the hub's lines
share it; anything else (missing, too long, characters outside
``A-Z a-z 0-9 . _ -``) is replaced by a fresh one. The response carries it
back in ``X-Request-ID``.

:class:`RequestIdMiddleware` also writes one line per request
(``hub.requests``): method, the URL *pattern* (``/calendar/<str:token>.ics``,
never the path: paths can hold tokens and ids), status and duration.
"""

import logging
import re
import time
import uuid

from core import logs

HEADER = "X-Request-ID"
WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{8,128}")

logger = logging.getLogger("hub.requests")


def clean(value: str | None) -> str:
    """``value`` when it is a well-formed request id, else a new one."""
    if value and WELL_FORMED.fullmatch(value):
        return value
    return uuid.uuid4().hex


def _user_pk(request) -> int | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return user.pk


class RequestIdMiddleware:
    """Outermost middleware: sets the request id (and, once the session is
    read, the user id) for the log lines of the request, returns the id in
    the response and logs the request."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = clean(request.headers.get(HEADER))
        # Set, not reset afterwards: Django's own line about a 4xx answer is
        # written after the last middleware returns, and must carry them.
        # Each request sets both first (under ASGI each runs in a context of
        # its own).
        logs.request_id.set(request.request_id)
        logs.user_id.set(None)
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        logger.info(
            "%s %s %s %.0fms",
            request.method,
            "/" + match.route if match else "-",
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        response[HEADER] = request.request_id
        return response

    def process_view(self, request, view, args, kwargs):
        """Every middleware has run (the second-factor middleware read the
        session's user): the view's lines carry the user id."""
        logs.user_id.set(_user_pk(request))


def logged_in(sender, request, user, **kwargs) -> None:
    """``user_logged_in``: the rest of the request is the user's."""
    logs.user_id.set(user.pk)


def logged_out(sender, request, user, **kwargs) -> None:
    """``user_logged_out``: the rest of the request is anonymous."""
    logs.user_id.set(None)
