"""The token bucket: one refill-and-take rule for every rate limit.

A bucket holds up to ``burst`` tokens and gains ``per_second`` a second; an
action takes one. The callers keep the state where it belongs to them: a
database row per user for messaging sends (``core.messaging.actions``, so
the limit holds across processes), two attributes of the socket for client
frames (``hub.realtime.frames``, per frame, so nothing here may cost more
than a few arithmetic operations). Pure arithmetic, no Django, no clock: the caller
says how many seconds passed.
"""


def take(
    tokens: float, elapsed: float, burst: float, per_second: float
) -> tuple[float, float]:
    """Refill a bucket that held ``tokens`` ``elapsed`` seconds ago, take one.

    Returns ``(tokens, wait)``: with ``wait == 0.0`` a token was taken and
    ``tokens`` is what is left; otherwise none was, ``tokens`` is the refilled
    bucket and ``wait`` the seconds until it holds a whole token. A clock that
    went backwards refills nothing.
    """
    tokens = min(burst, tokens + max(0.0, elapsed) * per_second)
    if tokens < 1:
        return tokens, (1 - tokens) / per_second
    return tokens - 1, 0.0
