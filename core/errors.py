"""The server-error page, which tells a database outage apart.

When PostgreSQL is briefly unreachable (failover, network cut), a request
fails with ``OperationalError``/``InterfaceError`` before or inside its
transaction. The transaction is rolled back by the server, so nothing is
half-stored; the writer gets **503** with ``Retry-After: 5`` and a message
saying to try again (JSON ``{"error": "database_unavailable"}`` for the
pages' scripts), not a bare 500. Retrying a write is safe: writes that
matter carry an idempotency key (messaging) or are idempotent (roll call).

Any other error is a 500 that says the team was told only when it is true:
Sentry is on and took the error, whose event id is shown as a reference
(core/sentry.py). Otherwise the page says what the user can do.

``json_error`` is the one shape of every error a page's script or a JSON
endpoint receives, so that clients read ``error`` (a stable code) and, when
there is one, ``message`` (for people) the same way everywhere.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _

from core import sentry

RETRY_AFTER_SECONDS = 5


def json_error(code: str, status: int, message: str = "", **extra) -> JsonResponse:
    """Return ``{"error": code}`` with ``status``, plus ``message`` if given.

    ``extra`` adds fields a client acts on (``retry_after`` of a rate limit).
    """
    body: dict = {"error": code}
    if message:
        body["message"] = message
    body.update(extra)
    return JsonResponse(body, status=status)


def server_error(request):
    """``handler500``: 503 for a database outage, 500 otherwise (no details).

    Reads the exception being handled (``sys.exc_info()``), as Django calls
    it from inside its exception handling.
    """
    error = sys.exc_info()[1]
    outage = isinstance(error, (OperationalError, InterfaceError))
    status = 503 if outage else 500
    reference = None if outage else sentry.event_id()
    if outage:
        message = _(
            "The service is briefly unavailable; nothing was saved. Try again in a few seconds."
        )
    elif reference:
        message = _(
            "Server error: the team has been told (reference %(reference)s)."
        ) % {"reference": reference}
    else:
        message = _(
            "Server error. Try again later; if it happens again, tell your school "
            "the time it happened."
        )
    if (
        "application/json" in request.headers.get("Accept", "")
        or "/api/" in request.path
    ):
        response = JsonResponse(
            {
                "error": "database_unavailable" if outage else "server_error",
                "message": message,
                **({"reference": reference} if reference else {}),
            },
            status=status,
        )
    else:
        response = HttpResponse(
            f"<!doctype html><meta charset=utf-8><title>{status}</title><p>{escape(message)}</p>",
            status=status,
        )
    if outage:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
