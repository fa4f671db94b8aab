"""Keep each logged-in session's row (:mod:`core.accounts.sessions`) and the
browser's device cookie.

After the view, inside Django's ``SessionMiddleware`` (which then saves the
session's mark): the device cookie chosen at login is set (or renewed), and
the session's ``last_activity`` noted at most every few minutes.
"""

from django.conf import settings

from core.accounts import sessions


class SessionsMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        device_id = getattr(request, "accounts_device_id", None)
        if device_id:
            response.set_cookie(
                sessions.DEVICE_COOKIE,
                device_id,
                max_age=sessions.DEVICE_COOKIE_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        if response.status_code < 500:
            # Not after a server error: when the database is unreachable, a
            # second wait for it would only delay the 503 the client needs.
            sessions.touch(request)
        return response
