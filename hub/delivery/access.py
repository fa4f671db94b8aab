"""Delivery reads with the permission check inside.

- :func:`log_orgs`: the schools whose delivery log a user may read
  (:func:`core.roster.access.staff_orgs` with :data:`LOG_PERMISSION`).
- :func:`members_for_staff` / :func:`get_member_for_staff`: the people whose
  delivery log a member of school-life staff may read (the members of their
  own schools); "not found" and "not allowed" are the same ``Http404``.
- :func:`get_muted_conversation`: a conversation the user may mute.
- :func:`active_mute`: the mute in force on a key, if any.
- :func:`recent_notifications`: a member's delivery log, limited to the
  staff's own schools (after the check).
"""

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from core.roster.access import members_of_orgs, staff_orgs
from core.roster.models import Org, User
from hub.delivery.models import Delivery, Mute, Notification

CONVERSATION_PREFIX = "conversation:"


# Reading the log is reading deliveries: the model's view permission.
LOG_PERMISSION = "delivery.view_delivery"


def log_orgs(user: User) -> QuerySet[Org]:
    """Return the schools whose delivery log ``user`` may read.

    School-life staff holding :data:`LOG_PERMISSION` (the "Vie scolaire"
    group), for their own orgs; superusers, for all. ``is_staff`` alone
    (a teacher given the admin) reads nothing.
    """
    return staff_orgs(user, LOG_PERMISSION)


def is_delivery_staff(user: User) -> bool:
    """Whether ``user`` may read the delivery log of at least one school."""
    return log_orgs(user).exists()


def members_for_staff(staff: User) -> QuerySet[User]:
    """Return the users of ``staff``'s schools, by name (none for others).

    A member is someone linked to one of the orgs of :func:`log_orgs`
    ``(staff)``: staff and teachers of the org, pupils of its classes,
    guardians of those pupils (the same membership as the messaging policy).
    """
    orgs = list(log_orgs(staff).values_list("pk", flat=True))
    if not orgs:
        return User.objects.none()
    return (
        members_of_orgs(orgs).distinct().order_by("last_name", "first_name", "username")
    )


def search_members(staff: User, query: str, limit: int = 20) -> list[User]:
    """Return up to ``limit`` members of ``staff``'s schools matching ``query``.

    ``query`` is matched (case-insensitive) against the first name, last
    name, "first last", "last first" and the username.
    """
    words = query.split()
    if not words:
        return []
    members = members_for_staff(staff)
    for word in words[:4]:
        members = members.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(username__icontains=word)
        )
    return list(members[:limit])


def get_member_for_staff(staff: User, user_id: int) -> User:
    """Return the user ``user_id`` if ``staff`` may read their log, else raise Http404."""
    member = members_for_staff(staff).filter(pk=user_id).first()
    if member is None:
        raise Http404("no such user")
    return member


def conversation_key(conversation_id: int) -> str:
    """Return the mute key of a conversation (``conversation:12``)."""
    return f"{CONVERSATION_PREFIX}{conversation_id}"


def get_muted_conversation(user: User, key: str):
    """Return the conversation named by ``key`` if ``user`` takes part in it.

    ``key`` must be ``conversation:<id>``; anything else, or a conversation
    the user is not in, raises ``Http404``.
    """
    from core.messaging.access import get_conversation_for_user

    if not key.startswith(CONVERSATION_PREFIX):
        raise Http404("nothing to mute")
    raw = key.removeprefix(CONVERSATION_PREFIX)
    if not raw.isdecimal() or len(raw) > 18 or raw.startswith("0"):
        raise Http404("nothing to mute")
    return get_conversation_for_user(user, int(raw))


def active_mute(user: User, key: str) -> Mute | None:
    """Return ``user``'s mute of ``key`` still in force, or ``None``."""
    return Mute.objects.filter(user=user, key=key, until__gt=timezone.now()).first()


def recent_notifications(
    staff: User, member: User, limit: int = 100
) -> list[Notification]:
    """Return ``member``'s last ``limit`` notifications of ``staff``'s schools.

    Newest first; only notifications whose org is one of :func:`log_orgs`
    ``(staff)`` (a family with children in two schools: each school's staff
    read their own school's). Each has ``deliveries`` prefetched (oldest
    first, with their device). The caller has checked it may read
    ``member`` (:func:`get_member_for_staff`).
    """
    deliveries = Prefetch(
        "deliveries",
        queryset=Delivery.objects.select_related("subscription").order_by(
            "created_at", "pk"
        ),
    )
    return list(
        Notification.objects.filter(user=member, org__in=log_orgs(staff))
        .order_by("-created_at", "-pk")
        .prefetch_related(deliveries)[:limit]
    )
