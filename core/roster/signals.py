"""Signals of the roster, for the modules whose access hangs off it.

``memberships_ended(sender, user_ids)``: some memberships of these users
ended (an enrollment, a guardian link, a staff link), by an import or an
edit. Sent inside the transaction that ended them, so what a receiver
removes goes with the membership or not at all. Receivers must accept users
whose memberships did not all end (they recompute from the live tables).
"""

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete
from django.dispatch import Signal, receiver

from core.roster.models import Enrollment, GuardianLink, User

memberships_ended = Signal()


@receiver(post_delete, sender=Enrollment)
def _enrollment_deleted(sender, instance: Enrollment, **kwargs) -> None:
    # The guardians of a pupil belong to the school through the pupil.
    users = [
        instance.user_id,
        *GuardianLink.objects.filter(student_id=instance.user_id).values_list(
            "guardian_id", flat=True
        ),
    ]
    memberships_ended.send(sender=Enrollment, user_ids=users)


@receiver(post_delete, sender=GuardianLink)
def _guardian_link_deleted(sender, instance: GuardianLink, **kwargs) -> None:
    memberships_ended.send(sender=GuardianLink, user_ids=[instance.guardian_id])


@receiver(m2m_changed, sender=User.orgs.through)
def _staff_link_removed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action == "post_remove":
        users = list(pk_set) if reverse else [instance.pk]
        memberships_ended.send(sender=User, user_ids=users)
    elif action == "pre_clear":
        # The links still exist now: tell once the clear is committed.
        users = (
            list(instance.staff.values_list("pk", flat=True))
            if reverse
            else [instance.pk]
        )
        transaction.on_commit(
            lambda: memberships_ended.send(sender=User, user_ids=users)
        )
