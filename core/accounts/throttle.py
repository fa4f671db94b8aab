"""Lock out code guessing: wrong tries counted per client IP and per login.

Django's cache holds the counters (``cache.add`` then ``cache.incr``), each
for ``WINDOW`` seconds from its first wrong try. Once a login has had
``LIMIT`` wrong tries, or an address ``IP_LIMIT``, every try of that login or
from that address is refused until the window ends, right code or not. An
address gets more tries than a login: a school's Wi-Fi on an activation
evening puts every family behind one address. Logins are hashed in the keys (a cache is not the
place for personal data). With several server processes the cache must be
shared (Redis) for the limit to hold across them; with the default
per-process cache each process counts on its own.
"""

import hashlib

from django.core.cache import cache

LIMIT = 10  # wrong tries per login
IP_LIMIT = 50  # wrong tries per client address
WINDOW = 15 * 60  # seconds
# Password reset e-mails: per address asked for, per client address, a window.
RESET_LIMIT = 3
RESET_IP_LIMIT = 20


def _keys(ip: str | None, login: str, scope: str = "wrong") -> list[str]:
    login_key = hashlib.sha256(login.strip().lower().encode()).hexdigest()[:32]
    keys = [f"accounts:{scope}:login:{login_key}"]
    if ip:
        keys.append(f"accounts:{scope}:ip:{ip}")
    return keys


def is_locked(
    ip: str | None,
    login: str,
    scope: str = "wrong",
    limits: tuple[int, int] = (LIMIT, IP_LIMIT),
) -> bool:
    """Tell whether this IP or this login has used up its wrong tries."""
    counts = cache.get_many(_keys(ip, login, scope))
    login_limit, ip_limit = limits
    return any(
        count >= (ip_limit if ":ip:" in key else login_limit)
        for key, count in counts.items()
    )


def allow_reset_mail(ip: str | None, email: str) -> bool:
    """Count a password reset asked for ``email`` from ``ip``; tell whether
    its e-mail may go (``RESET_LIMIT`` per address, ``RESET_IP_LIMIT`` per
    client, each per ``WINDOW``): the form must not become a way to flood a
    family's mailbox."""
    limits = (RESET_LIMIT, RESET_IP_LIMIT)
    if is_locked(ip, email, "reset", limits):
        return False
    count_wrong_try(ip, email, "reset")
    return True


def count_wrong_try(ip: str | None, login: str, scope: str = "wrong") -> None:
    """Count one wrong try against this IP and this login."""
    for key in _keys(ip, login, scope):
        if not cache.add(key, 1, WINDOW):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, WINDOW)


def forget(login: str) -> None:
    """Clear the login's counter after it succeeded (the IP's stays)."""
    cache.delete_many(_keys(None, login))
