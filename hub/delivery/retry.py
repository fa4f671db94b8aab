"""The one retry policy of delivery: how many attempts, how long between them.

Both channels follow the same rule, with their own budget: a permanent
:class:`~hub.delivery.transports.base.DeliveryError` is never retried; a
temporary one waits what the other side asked for (``Retry-After``) or,
when it did not say, an exponential back-off with full jitter (so a push
service or a relay that was down is not hit by every worker at the same
second when it comes back); after ``max_attempts`` the message is given up.
"""

import datetime
import email.utils
import random
import time
from dataclasses import dataclass

from hub.delivery.transports.base import DeliveryError


def backoff(attempts: int, base: float = 30, cap: float = 3600) -> float:
    """Return a retry delay in seconds after ``attempts`` failed attempts.

    Exponential with full jitter: uniform in ``[0, min(cap, base * 2 **
    (attempts - 1))]`` (1 attempt: up to 30 s, 2: 60 s, ... up to 1 h).
    """
    exponent = min(max(attempts, 1) - 1, 60)
    return random.uniform(0, min(cap, base * 2**exponent))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return a Retry-After header (RFC 9110 §10.2.3) in seconds from ``now``.

    Delay-seconds or an HTTP-date; ``None`` when absent or unreadable, 0 for a
    date in the past. ``now``: Unix seconds (default: the clock).
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class RetryPolicy:
    """A channel's retry budget: ``max_attempts`` in all, back-off from
    ``base`` seconds doubling up to ``cap``."""

    max_attempts: int
    base: float
    cap: float = 3600

    def gives_up(self, attempts: int) -> bool:
        """Whether ``attempts`` failures spend the budget."""
        return attempts >= self.max_attempts

    def wait(
        self, attempts: int, retry_after: datetime.timedelta | None = None
    ) -> datetime.timedelta:
        """How long to wait after the ``attempts``-th failure: what the other
        side asked for, else the jittered back-off."""
        if retry_after is not None:
            return retry_after
        return datetime.timedelta(seconds=backoff(attempts, self.base, self.cap))

    def after(self, attempts: int, error: DeliveryError) -> datetime.timedelta | None:
        """How long to wait before trying again after ``error`` (the
        ``attempts``-th failure), ``None`` when not to try again."""
        if error.permanent or self.gives_up(attempts):
            return None
        return self.wait(attempts, error.retry_after)


# Full-jitter back-off from 30 s capped at 1 h: twelve attempts span about
# three hours on average, within the TTL of the push kinds that matter (24 h).
PUSH = RetryPolicy(max_attempts=12, base=30)
# A relay that defers is usually greylisting or busy: start at a minute; six
# attempts span about an hour on average.
EMAIL = RetryPolicy(max_attempts=6, base=60)
