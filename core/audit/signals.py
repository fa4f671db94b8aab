"""Logins in the audit log: each success and each failure, never a password.

Django sends ``user_logged_in`` and ``user_login_failed`` for every login
form (the site's, the admin's, activation's automatic login). A failure
records the login only when it names an account (an unknown "login" may be
a password typed in the wrong field), never the password; the entry
concerns that account, so its school's staff see attempts on it, and says
whether the login lockout refused it or this failure set the lock
(``locked_out``: axes' receiver runs first, ``axes`` coming before
``core.audit`` in INSTALLED_APPS).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from core.audit.ip import client_ip
from core.audit.log import record


@receiver(user_logged_in, dispatch_uid="audit_login")
def audit_login(sender, request, user, **kwargs):
    record(
        actor=user,
        action="login.succeeded",
        target_type="user",
        target_id=user.pk,
        subject_id=user.pk,
        ip=client_ip(request) if request is not None else None,
    )


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    User = get_user_model()
    login = str(
        credentials.get(User.USERNAME_FIELD) or credentials.get("username") or ""
    )
    login = login.strip()[:150]
    account = (
        User.objects.filter(**{f"{User.USERNAME_FIELD}__iexact": login}).first()
        if login
        else None
    )
    record(
        actor=None,
        actor_name="anonymous",
        action="login.failed",
        target_type="user",
        target_id=account.pk if account else 0,
        subject_id=account.pk if account else None,
        ip=client_ip(request) if request is not None else None,
        detail={
            "login": login if account else "",
            "locked_out": bool(getattr(request, "axes_locked_out", False)),
        },
    )
