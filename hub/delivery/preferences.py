"""Reading a user's delivery choices, with their role's defaults filled in."""

from core.roster.models import User
from hub.delivery.categories import CATEGORIES, Category, Choice
from hub.delivery.models import DeliverySettings, Preference

# The categories each role is asked about on the settings page (few per screen).
ROLE_CATEGORIES: dict[str, list[str]] = {
    User.Role.GUARDIAN: [
        "absence",
        "excuse",
        "message",
        "timetable",
        "grades",
        "homework",
        "documents",
        "announcement",
    ],
    User.Role.STUDENT: [
        "absence",
        "message",
        "timetable",
        "grades",
        "homework",
        "documents",
        "announcement",
    ],
    User.Role.TEACHER: [
        "message",
        "roll_call",
        "timetable",
        "homework",
        "documents",
        "announcement",
    ],
    User.Role.ADMINISTRATOR: [
        "absence",
        "excuse",
        "message",
        "roll_call",
        "homework",
        "documents",
        "announcement",
    ],
}


def categories_for(user: User) -> list[Category]:
    """Return the categories ``user``'s role is asked about, in page order."""
    return [CATEGORIES[key] for key in ROLE_CATEGORIES.get(user.role, [])]


def _stored(row: Preference) -> Choice:
    return Choice(inapp=row.inapp, push=row.push, email=row.email, digest=row.digest)


def choices_of(users: list[User], category: str) -> dict[int, Choice]:
    """Return ``{user id: Choice}`` for ``category`` (one query for all users)."""
    rows = {
        row.user_id: _stored(row)
        for row in Preference.objects.filter(user__in=users, category=category)
    }
    spec = CATEGORIES.get(category)
    return {
        user.pk: rows.get(user.pk)
        or (spec.default_for(user.role) if spec else Choice())
        for user in users
    }


def choices_for(user: User) -> dict[str, Choice]:
    """Return ``{category: Choice}`` of every category for one user."""
    rows = {row.category: _stored(row) for row in Preference.objects.filter(user=user)}
    return {
        key: rows.get(key) or spec.default_for(user.role)
        for key, spec in CATEGORIES.items()
    }


def settings_of(users: list[User]) -> dict[int, DeliverySettings]:
    """Return each user's :class:`DeliverySettings` (unsaved defaults if none)."""
    rows = {row.user_id: row for row in DeliverySettings.objects.filter(user__in=users)}
    return {user.pk: rows.get(user.pk) or DeliverySettings(user=user) for user in users}


def school_zone(user: User) -> str:
    """Return the time zone of ``user``'s first school ("" if none)."""
    return school_zones([user]).get(user.pk, "")


def school_zones(users: list[User]) -> dict[int, str]:
    """Return ``{user id: time zone of their first school}`` in one query.

    A user's schools are :func:`core.roster.access.orgs_of` (staff links,
    then classes: their own, or their children's for guardians); the first
    is the first by name, then id (``Org``'s order). Users without a school
    are left out (their zone is then the default, :mod:`hub.delivery.zones`).
    """
    from core.roster.access import orgs_of_users

    return {
        user_id: orgs[0].time_zone for user_id, orgs in orgs_of_users(users).items()
    }
