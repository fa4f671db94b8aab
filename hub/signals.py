"""Keep open sockets in step with the accounts and memberships behind them.

- Logout closes the sockets of that session (that device); a password change
  or a deactivation closes every socket of the user (``bye`` then close code
  4403), since Django then ends the user's other sessions too.
- A change of enrollments, guardian links or school staff asks the sockets of
  the users concerned to recheck the streams they follow (P3), so a parent
  whose child left a class stops receiving that class's events.

Messages are sent when the transaction commits: before that, the change may
still roll back, and a socket that rechecked would read the old rows.
"""

from functools import partial

from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from core.roster.models import Enrollment, GuardianLink, User
from hub.realtime.control import (
    close_session_sockets,
    close_user_sockets,
    recheck_user_sockets,
)


@receiver(user_logged_out)
def close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    """Close the sockets of the session that logged out, not the user's others.

    Another device keeps its own session: closing its sockets would only make
    it reload (and lose a half-filled form) to find itself still logged in.
    """
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        transaction.on_commit(partial(close_session_sockets, session_key, "logout"))


def account_change(instance: User, update_fields) -> str | None:
    """``"password_changed"`` or ``"deactivated"`` when saving ``instance``
    (a ``pre_save``, with its ``update_fields``) changes its password or
    disables it; ``None`` otherwise (a new user, a login's ``last_login``)."""
    if instance.pk is None:
        return None
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return None  # e.g. login's save(update_fields=["last_login"]): no query
    old = User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if old is None:
        return None
    if old["password"] != instance.password:
        return "password_changed"
    if old["is_active"] and not instance.is_active:
        return "deactivated"
    return None


@receiver(pre_save, sender=User)
def close_sockets_on_password_change(sender, instance: User, **kwargs) -> None:
    """Close the user's sockets when the password changes or the account is disabled."""
    reason = account_change(instance, kwargs.get("update_fields"))
    if reason is not None:
        transaction.on_commit(partial(close_user_sockets, instance.pk, reason))


@receiver(post_save, sender=Enrollment)
@receiver(post_delete, sender=Enrollment)
def recheck_on_enrollment_change(sender, instance: Enrollment, **kwargs) -> None:
    # The guardians of a student read the student's classes.
    users = [instance.user_id]
    users += GuardianLink.objects.filter(student_id=instance.user_id).values_list(
        "guardian_id", flat=True
    )
    _recheck_on_commit(users)


@receiver(post_save, sender=GuardianLink)
@receiver(post_delete, sender=GuardianLink)
def recheck_on_guardian_link_change(sender, instance: GuardianLink, **kwargs) -> None:
    _recheck_on_commit([instance.guardian_id])


@receiver(m2m_changed, sender=User.orgs.through)
def recheck_on_staff_change(
    sender, instance, action, reverse, pk_set, **kwargs
) -> None:
    """Recheck when staff leave an org (``user.orgs`` or ``org.staff``)."""
    if action == "post_remove":
        users = pk_set if reverse else [instance.pk]
    elif action == "pre_clear":
        users = (
            instance.staff.values_list("pk", flat=True) if reverse else [instance.pk]
        )
    else:
        return
    _recheck_on_commit(list(users))


def _recheck_on_commit(user_ids: list[int]) -> None:
    user_ids = [pk for pk in user_ids if pk is not None]
    if user_ids:
        transaction.on_commit(partial(recheck_user_sockets, user_ids))
