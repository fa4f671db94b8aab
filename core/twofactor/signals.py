"""Mark a fresh login that still owes its second step (:mod:`policy`)."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from core.twofactor.policy import (
    PENDING_SESSION_KEY,
    mark_password_checked,
    needs_second_step,
)


@receiver(user_logged_in)
def owe_second_step(sender, request, user, **kwargs) -> None:
    """A login of someone who has or must have a second factor is pending
    until :func:`django_otp.login` marks the session verified."""
    session = getattr(request, "session", None)
    if session is None:
        return
    mark_password_checked(session)
    if needs_second_step(user):
        session[PENDING_SESSION_KEY] = True
    else:
        session.pop(PENDING_SESSION_KEY, None)
