"""Limits that django-axes does not cover: activation-code guesses and
password-reset e-mails.

Axes (``core.accounts.lockout``) counts failed ``authenticate()`` calls, that
is wrong passwords. An activation code is no password (it is checked by
``actions.check_code``, before the account has one), and a reset request
is no failed login at all; counting either as one would lock the password
login of the family asking for help. So these two keep their own counters:

- activation codes: once a login has had ``LIMIT`` wrong codes, or an
  address ``IP_LIMIT``, every try of that login or from that address is
  refused until the window ends, right code or not. An address gets more
  tries than a login: a school's Wi-Fi on an activation evening puts every
  family behind one address;
- reset e-mails: ``RESET_LIMIT`` per address asked for and
  ``RESET_IP_LIMIT`` per client in a window (:func:`allow_reset_mail`).

The counters live in the ``throttle`` cache (``cache.add`` then
``cache.incr``), each for ``WINDOW`` seconds from its first count: Redis
(``REDIS_URL``'s database) when the hub has one, so the limits hold across
server processes; otherwise the process's memory (one process: the embedded
default). Logins are hashed in the keys (a cache is not the place for
personal data).
"""

import hashlib

from django.core.cache import caches

LIMIT = 10  # wrong tries per login
IP_LIMIT = 50  # wrong tries per client address
WINDOW = 15 * 60  # seconds
# Password reset e-mails: per address asked for, per client address, a window.
RESET_LIMIT = 3
RESET_IP_LIMIT = 20


def _cache():
    return caches["throttle"]


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
    counts = _cache().get_many(_keys(ip, login, scope))
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
    cache = _cache()
    for key in _keys(ip, login, scope):
        if not cache.add(key, 1, WINDOW):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, WINDOW)


def forget(login: str) -> None:
    """Clear the login's counter after it succeeded (the IP's stays)."""
    _cache().delete_many(_keys(None, login))
