"""Sessions and devices: what "Mes appareils" lists, and the new-device e-mail.

A **session** is Django's (``SESSION_ENGINE``); beside it a
:class:`~core.accounts.models.UserSession` row says whose it is, from which
browser and address, and when it was last used. The row is written at login
(:func:`record_login`), its ``last_activity`` by
:class:`~core.accounts.middleware.SessionsMiddleware`, and it goes at logout
(:func:`forget_logout`) or when the user ends the session
(:func:`core.accounts.actions.end_sessions`). A row whose session no longer
logs anyone in (expired, its password changed since, deleted) is dropped
when the list is read (:func:`live_sessions`).

A **device** is a browser, known by a random id in a long-lived cookie
(``hub_device``, HttpOnly, one per browser, for every user of that
browser); the server keeps only its keyed hash per user
(:class:`~core.accounts.models.KnownDevice`). A login from a browser whose
cookie this user has not logged in with before (no cookie: a new browser,
a private window, cleared cookies) is a **new device**: the user gets an
e-mail (:func:`core.accounts.tasks.send_new_device_email`), unless it is
their first known device (first login, or the first since this feature
came: nothing to compare with) or they have no address. A cookie rather
than browser and address: addresses change all day on a phone, and
browsers update every month; both would make every login look new.
"""

import re
import secrets
import time
from functools import partial

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.crypto import salted_hmac

from core.accounts import tasks
from core.accounts.models import KnownDevice, UserSession
from core.audit.ip import client_ip
from hub.realtime.sessions import session_store, session_user

DEVICE_COOKIE = "hub_device"
DEVICE_COOKIE_AGE = 400 * 24 * 3600  # browsers cap cookies at 400 days
_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{20,64}")
# A session's row is touched at most this often (seconds); the mark in the
# session says when it last was, and for which key (a key that changed, as
# after a password change, makes a new row).
TOUCH_SECONDS = 300
MARK = "_accounts_seen"


def user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:300]


def device_hash(device_id: str) -> str:
    """The keyed hash of a device cookie's value (``SECRET_KEY``)."""
    return salted_hmac(
        "core.accounts.device", device_id, algorithm="sha256"
    ).hexdigest()


@receiver(user_logged_in)
def record_login(sender, request, user, **kwargs) -> None:
    """Write this session's row; note the device, e-mail if it is new."""
    session = getattr(request, "session", None)
    if request is None or session is None or not session.session_key:
        return
    now = timezone.now()
    agent = user_agent(request)
    UserSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={
            "user": user,
            "created_at": now,
            "last_activity": now,
            "ip": client_ip(request),
            "user_agent": agent,
        },
    )
    session[MARK] = [session.session_key, time.time()]
    device_id = request.COOKIES.get(DEVICE_COOKIE, "")
    if not _DEVICE_ID.fullmatch(device_id):
        device_id = secrets.token_urlsafe(24)
    # The middleware sets (or renews) the cookie on the response.
    request.accounts_device_id = device_id
    digest = device_hash(device_id)
    devices = KnownDevice.objects.filter(user=user)
    had_one = devices.exists()
    updated = devices.filter(device_hash=digest).update(last_seen=now)
    if updated:
        return
    _, created = KnownDevice.objects.get_or_create(
        user=user, device_hash=digest, defaults={"first_seen": now, "last_seen": now}
    )
    if created and had_one and user.email:
        transaction.on_commit(
            partial(
                tasks.send_new_device_email.enqueue, user.pk, now.isoformat(), agent
            )
        )


@receiver(user_logged_out)
def forget_logout(sender, request, user, **kwargs) -> None:
    """Drop the row of the session that logs out (its sockets are closed by
    ``core.roster.socket_access``)."""
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        UserSession.objects.filter(session_key=key).delete()


def touch(request, force: bool = False) -> None:
    """Note this request's activity on its session's row, at most every
    ``TOUCH_SECONDS`` (unless ``force``), and only if the view read the
    session already (no session is loaded for this)."""
    session = getattr(request, "session", None)
    if session is None or not session.accessed or not session.session_key:
        return
    if SESSION_KEY not in session:
        return
    key = session.session_key
    mark = session.get(MARK)
    now = time.time()
    if (
        not force
        and isinstance(mark, list)
        and len(mark) == 2
        and mark[0] == key
        and now - float(mark[1]) < TOUCH_SECONDS
    ):
        return
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return
    UserSession.objects.update_or_create(
        session_key=key,
        defaults={
            "user": user,
            "last_activity": timezone.now(),
            "ip": client_ip(request),
            "user_agent": user_agent(request),
        },
    )
    session[MARK] = [key, now]


def live_sessions(user) -> list[UserSession]:
    """The sessions of ``user`` that still log them in, most recent first;
    rows of sessions that no longer do are deleted on the way."""
    store = session_store()
    alive: list[UserSession] = []
    dead: list[UserSession] = []
    for row in UserSession.objects.filter(user=user).order_by("-last_activity"):
        owner = session_user(store(row.session_key))
        (alive if owner is not None and owner.pk == user.pk else dead).append(row)
    if dead:
        UserSession.objects.filter(pk__in=[row.pk for row in dead]).delete()
    return alive
