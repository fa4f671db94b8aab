"""Who may write to whom: the per-school rules, checked on every send.

Defaults (``MessagingPolicy``, editable in the admin per school):
- staff (school-life, administration) and teachers may write to anyone of
  their school;
- guardians may write to their children's teachers and to the staff of their
  children's schools, not to other families or to pupils;
- pupils may write to their own teachers only if the school allows it;
- nobody writes across schools: sender and recipient must share an org
  (a guardian belongs to the orgs of their children).
"""

from django.db.models import F, Q
from django.utils import timezone

from core.messaging.models import Conversation, MessagingPolicy, WriteSuspension
from core.roster.access import orgs_of
from core.roster.models import Enrollment, Org, User

STAFF_ROLES = (User.Role.TEACHER, User.Role.ADMINISTRATOR)


def may_send_silently(user: User) -> bool:
    """Whether ``user`` is offered "send without notifying tonight" (staff, teachers)."""
    return user.role in STAFF_ROLES


def policy_for(org: Org | int) -> MessagingPolicy:
    """Return the org's policy, the defaults when none was saved."""
    org_id = org.pk if isinstance(org, Org) else org
    return MessagingPolicy.objects.filter(org_id=org_id).first() or MessagingPolicy(
        org_id=org_id
    )


def shared_orgs(sender: User, recipient: User) -> set[int]:
    """Return the ids of the orgs both users belong to."""
    mine = set(orgs_of(sender).values_list("pk", flat=True))
    return mine & set(orgs_of(recipient).values_list("pk", flat=True))


def may_write(sender: User, recipient: User, org_id: int) -> bool:
    """Return whether ``sender`` may write to ``recipient`` in org ``org_id``.

    Both must be active, distinct and members of the org; then the rules of
    the module doc and the org's ``MessagingPolicy`` decide.
    """
    if sender.pk == recipient.pk or not (sender.is_active and recipient.is_active):
        return False
    if org_id not in shared_orgs(sender, recipient):
        return False
    if sender.role in STAFF_ROLES:
        return True
    policy = policy_for(org_id)
    if sender.role == User.Role.GUARDIAN:
        if recipient.role == User.Role.ADMINISTRATOR:
            return policy.guardians_may_write_staff
        if recipient.role == User.Role.TEACHER:
            return policy.guardians_may_write_teachers and teaches_child_of(
                recipient, sender, org_id
            )
        return False
    if sender.role == User.Role.STUDENT and recipient.role == User.Role.TEACHER:
        return (
            policy.pupils_may_write_teachers
            and Enrollment.objects.filter(
                user=recipient,
                role=Enrollment.Role.TEACHER,
                school_class__org_id=org_id,
                school_class__enrollments__user=sender,
            ).exists()
        )
    return False


def may_write_in(conversation: Conversation, sender: User, user: User) -> bool:
    """Return whether ``sender`` may write to ``user`` in ``conversation``.

    :func:`may_write` decides; in a "reply to everyone" conversation the
    creator also vouches for the people they added while they may still
    write to them: guardians of a class answer each other there, which the
    policy alone (no writing to other families) would refuse.
    """
    org_id = conversation.org_id
    if may_write(sender, user, org_id):
        return True
    return conversation.reply_policy == Conversation.ReplyPolicy.ALL and may_write(
        conversation.created_by, user, org_id
    )


def may_reply(conversation: Conversation, user_id: int) -> bool:
    """Return whether ``user_id`` may write in ``conversation`` at all.

    Its creator always may; the others unless replies are closed. Who hears
    it is :func:`core.messaging.access.audience`; a suspension
    (:func:`is_suspended`) and each recipient (:func:`may_write_in`) are
    checked besides.
    """
    return (
        conversation.created_by_id == user_id
        or conversation.reply_policy != Conversation.ReplyPolicy.NONE
    )


def teaches_child_of(teacher: User, guardian: User, org_id: int) -> bool:
    """Return whether ``teacher`` teaches a class of one of ``guardian``'s children."""
    return Enrollment.objects.filter(
        user=teacher,
        role=Enrollment.Role.TEACHER,
        school_class__org_id=org_id,
        school_class__enrollments__user__guardians=guardian,
    ).exists()


def active_suspension(user: User, org_id: int) -> WriteSuspension | None:
    """Return the suspension keeping ``user`` from writing in ``org_id`` now.

    The longest one when several apply (an open-ended one first).
    """
    return (
        WriteSuspension.objects.filter(
            Q(until__isnull=True) | Q(until__gt=timezone.now()),
            user=user,
            org_id=org_id,
        )
        .order_by(F("until").desc(nulls_first=True))
        .first()
    )


def is_suspended(user: User, org_id: int) -> bool:
    """Return whether ``user`` is suspended from writing in ``org_id`` now."""
    return active_suspension(user, org_id) is not None


def allowed_recipients(sender: User, org_id: int):
    """Return the users ``sender`` may start a conversation with in ``org_id``.

    The candidates are the org's members; each passes :func:`may_write`.
    Ordered by role then name.
    """
    members = (
        User.objects.filter(
            Q(orgs=org_id)
            | Q(enrollments__school_class__org_id=org_id)
            | Q(children__enrollments__school_class__org_id=org_id),
            is_active=True,
        )
        .distinct()
        .order_by("role", "last_name", "first_name")
    )
    if sender.role in STAFF_ROLES:
        # What may_write answers for staff, in one query rather than several
        # per member (a collège has well over a thousand members).
        if not sender.is_active or not orgs_of(sender).filter(pk=org_id).exists():
            return []
        return list(members.exclude(pk=sender.pk))
    # Only these roles can pass may_write for a guardian or a pupil.
    reach: dict[str, list[str]] = {
        User.Role.GUARDIAN: [User.Role.ADMINISTRATOR, User.Role.TEACHER],
        User.Role.STUDENT: [User.Role.TEACHER],
    }
    reachable = reach.get(sender.role, [])
    return [
        user
        for user in members.filter(role__in=reachable)
        if may_write(sender, user, org_id)
    ]
