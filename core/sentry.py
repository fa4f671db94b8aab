"""Error reports to Sentry (sentry-sdk), when ``SENTRY_DSN`` is set.

Nothing personal leaves: no cookies, no user, no client address
(``send_default_pii`` off), no request body, no local variables of the
stack frames (they hold passwords and message texts), no query string.
The server-error page quotes the event's id as a reference
(:func:`event_id`, core/errors.py), and says the team was told only then.
"""

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration


def _scrub(event, hint):
    request = event.get("request")
    if request:
        request.pop("query_string", None)
        request.pop("data", None)
        request.pop("cookies", None)
    return event


def init_sentry(dsn: str, environment: str) -> None:
    """Send uncaught errors (and ERROR log lines) to ``dsn``."""
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        before_send=_scrub,
    )


def event_id() -> str | None:
    """The id of the error this request just reported to Sentry, or ``None``
    (Sentry off, or nothing reported)."""
    if not sentry_sdk.is_initialized():
        return None
    return sentry_sdk.last_event_id()
