"""Who needs a second factor, and whether a session has passed it.

The one definition of the rule, used by the pages
(:mod:`core.twofactor.middleware`) and the sockets (:func:`hub.realtime.sessions.load_user`):

- teachers, school staff (``administrator``) and anyone with admin access
  (``is_staff``, ``is_superuser``) must have a second factor: they go to
  enrolment until they have one;
- families (guardians, pupils) may add one; once they have, each login asks
  for it;
- a session has passed when django-otp's ``otp_device_id`` is in it (set by
  :func:`django_otp.login` after a right code or passkey). A login by password
  of someone who has a device, or must have one, leaves
  :data:`PENDING_SESSION_KEY` in the session (:mod:`core.twofactor.signals`),
  so the socket's check reads the session alone, without a query.
"""

import time

from django.conf import settings
from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice

from core.roster.models import User

MANDATORY_ROLES = frozenset({User.Role.TEACHER, User.Role.ADMINISTRATOR})
PENDING_SESSION_KEY = "_twofactor_pending"
REAUTH_SESSION_KEY = "_twofactor_password_at"


def must_have_second_factor(user) -> bool:
    """Whether ``user`` may not use the hub without a second factor (no query)."""
    return bool(
        user.is_staff
        or user.is_superuser
        or getattr(user, "role", None) in MANDATORY_ROLES
    )


def second_factors(user) -> list:
    """The confirmed TOTP devices and passkeys of ``user`` (not recovery codes)."""
    return [
        device
        for device in devices_for_user(user, confirmed=True)
        if not isinstance(device, StaticDevice)
    ]


def has_second_factor(user) -> bool:
    """Whether ``user`` has a confirmed TOTP device or passkey."""
    return bool(second_factors(user))


def needs_second_step(user) -> bool:
    """Whether a password login of ``user`` must be followed by a second step."""
    return must_have_second_factor(user) or has_second_factor(user)


def owes_second_factor(session, user) -> bool:
    """Whether ``session`` of ``user`` must pass a second factor before use:
    its user must have one, or its login was pending one (no query)."""
    return bool(must_have_second_factor(user) or session.get(PENDING_SESSION_KEY))


def session_passed(session, user) -> bool:
    """Whether ``session`` (a session store or dict) of ``user`` may be used:
    it passed a second factor, or its user needs none (no query; the pages
    also check that the device still exists, ``user.is_verified()``)."""
    return bool(session.get(DEVICE_ID_SESSION_KEY)) or not owes_second_factor(
        session, user
    )


def mark_password_checked(session) -> None:
    """Remember that the password was typed now (a login or a confirmation)."""
    session[REAUTH_SESSION_KEY] = time.time()


def password_recently_checked(session) -> bool:
    """Whether the password was typed in this session within
    ``TWOFACTOR_REAUTH_SECONDS``: changing second factors asks for it again."""
    at = session.get(REAUTH_SESSION_KEY)
    try:
        age = time.time() - float(at)
    except (TypeError, ValueError):
        return False
    return 0 <= age <= settings.TWOFACTOR_REAUTH_SECONDS
