"""Error reports to Sentry (sentry-sdk), when ``SENTRY_DSN`` is set.

Nothing personal leaves (:data:`DATA_COLLECTION`, the successor of
``send_default_pii``, off): no cookies, no user, no client address, no
headers, no request body, no query string, no local variables of the stack
frames (they hold passwords and message texts).
The server-error page quotes the event's id as a reference
(:func:`event_id`, core/errors.py), and says the team was told only then.
"""

from typing import TYPE_CHECKING

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration

if TYPE_CHECKING:
    from sentry_sdk._types import DataCollectionUserOptions

# What integrations may collect (sentry-sdk's ``data_collection``, which
# supersedes ``send_default_pii``): no user, no cookies, no headers, no
# bodies, no query string, no SQL parameters, no local variables.
DATA_COLLECTION: "DataCollectionUserOptions" = {
    "user_info": False,
    "cookies": {"mode": "off"},
    "http_headers": {"request": {"mode": "off"}},
    "http_bodies": [],
    "url_query_params": {"mode": "off"},
    "database_query_data": False,
    "queues": False,
    "graphql": {"document": False, "variables": False},
    "gen_ai": {"inputs": False, "outputs": False},
    "stack_frame_variables": False,
}


def init_sentry(dsn: str, environment: str) -> None:
    """Send uncaught errors (and ERROR log lines) to ``dsn``."""
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration()],
        data_collection=DATA_COLLECTION,
        max_request_body_size="never",
    )


def event_id() -> str | None:
    """The id of the error this request just reported to Sentry, or ``None``
    (Sentry off, or nothing reported)."""
    if not sentry_sdk.is_initialized():
        return None
    return sentry_sdk.last_event_id()
