"""Login throttling and lockout: django-axes, with the hub's two limits.

Axes watches every call of ``django.contrib.auth.authenticate`` made with a
request: the site's login form, the admin's, and any later step that
authenticates with a password. Its backend (:class:`LockoutBackend`, first in
``AUTHENTICATION_BACKENDS``) refuses a locked login or address before the
password is even checked; its middleware turns that refusal into the page of
:func:`lockout_response` (HTTP 429, French). The login view itself is
Django's, unchanged.

Two limits, both over ``AXES_COOLOFF_TIME`` (15 minutes) from the last
counted failure:

- ``AXES_FAILURE_LIMIT`` (5) wrong passwords for one login, from any
  address, lock that login;
- ``ACCOUNTS_LOGIN_IP_FAILURE_LIMIT`` (50) from one address, whatever the
  logins, lock that address: a school's Wi-Fi puts every family and teacher
  behind one address, which must not be locked by a few typos.

Axes compares one count with one limit (the larger of its per-parameter
counts); :meth:`LockoutHandler.get_failures` scales the address's count to
the login's limit so each has its own. While locked, tries are refused and
not counted (``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False``): an
attacker hammering a login does not push its owner's unlock further away.

Staff unlock a login with the user admin's action "Déverrouiller la
connexion" (:func:`unlock`), in axes' own admin ("Access attempts": delete
the rows) or with ``manage.py axes_reset_username <login>``.

The client address is the project's one reading of it,
:func:`core.audit.ip.client_ip` (``AXES_CLIENT_IP_CALLABLE``): the trusted
proxy hops only, so a forged ``X-Forwarded-For`` cannot spread the count.
"""

import datetime as dt
import math

from axes.attempts import get_cool_off_threshold
from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import (
    get_client_username,
    get_cool_off,
    get_failure_limit,
)
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.shortcuts import render
from django.utils import timezone

from core.audit import log as audit
from core.audit.ip import client_ip
from core.roster.models import User


class LockoutBackend(AxesStandaloneBackend):
    """Axes' backend: refuses a locked login or address before any password
    check. A call without a request (a management command, the test client's
    ``login()``) has no client to count and is left to the next backend."""

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(
            request, username=username, password=password, **kwargs
        )


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler (attempts shared by every server process) with
    a limit per login and another, larger, per address."""

    def get_failures(self, request, credentials=None) -> int:
        since = get_cool_off_threshold(request)
        recent = AccessAttempt.objects.filter(attempt_time__gte=since)
        username = get_client_username(request, credentials)
        ip = request.axes_ip_address
        by_login = _failures(recent.filter(username=username)) if username else 0
        by_ip = _failures(recent.filter(ip_address=ip)) if ip else 0
        limit = get_failure_limit(request, credentials)
        # In the login's scale: by_ip reaches the address's limit exactly when
        # this reaches ``limit``.
        return max(by_login, by_ip * limit // settings.ACCOUNTS_LOGIN_IP_FAILURE_LIMIT)

    def user_logged_in(self, sender, request, user, **kwargs):
        """A right password clears the wrong tries of this login from this
        address and browser (its owner's typos), not those made elsewhere
        nor the address's count of other logins."""
        if request is None:  # a login with no client: nothing to count
            return
        super().user_logged_in(sender, request, user, **kwargs)
        AccessAttempt.objects.filter(
            username=user.get_username(),
            ip_address=request.axes_ip_address,
            user_agent=request.axes_user_agent,
        ).delete()

    def user_logged_out(self, sender, request, user, **kwargs):
        if request is None:  # the signal sent by hand, with no client
            return
        super().user_logged_out(sender, request, user, **kwargs)


def _failures(attempts) -> int:
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


def minutes_left(request, credentials=None) -> int:
    """Whole minutes (at least 1) until the lock of this request's login or
    address ends: the cool-off from the last counted failure."""
    username = get_client_username(request, credentials)
    ip = client_ip(request)
    cool_off = get_cool_off(request) or dt.timedelta(minutes=15)
    attempts = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - cool_off)
    last = max(
        (
            attempts.filter(**{field: value}).aggregate(t=Max("attempt_time"))["t"]
            for field, value in (("username", username), ("ip_address", ip))
            if value
        ),
        default=None,
        key=lambda t: t or dt.datetime.min.replace(tzinfo=dt.UTC),
    )
    if last is None:
        return math.ceil(cool_off.total_seconds() / 60)
    seconds = (last + cool_off - timezone.now()).total_seconds()
    return max(1, math.ceil(seconds / 60))


def lockout_response(request, *args, **kwargs):
    """The page of a locked login or address (axes' ``AXES_LOCKOUT_CALLABLE``),
    for the site's login form and the admin's alike."""
    credentials = kwargs.get("credentials")
    if credentials is None and args and isinstance(args[-1], dict):
        credentials = args[-1]
    return render(
        request,
        "accounts/locked_out.html",
        {"minutes": minutes_left(request, credentials)},
        status=settings.AXES_HTTP_RESPONSE_CODE,  # type: ignore[misc]  # axes.conf's
    )


def unlock(*, user: User, by: User | None, ip: str | None = None) -> int:
    """Forget the wrong tries of ``user``'s login (staff's unlock); return
    how many attempt rows went. The addresses' counts of other logins stay."""
    count = AxesProxyHandler.reset_attempts(username=user.get_username())
    audit.record(
        actor=by,
        action="account.unlocked",
        target_type="user",
        target_id=user.pk,
        ip=ip,
        detail={"attempts": count},
    )
    return count
