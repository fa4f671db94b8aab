"""Which streams a user may read (ARCHITECTURE.md P3).

``user:<id>``: only that user. ``class:<id>``: its students and teachers, the
guardians of its students, the school-life staff of its org.
``org:<id>``: anyone who belongs to the org (staff, teachers and students of
its classes, guardians of those students). "Not found" and "not allowed" give
the same answer, so a socket cannot probe for ids.
"""

from core.roster.access import classes_of, orgs_of
from core.roster.models import User
from hub.streams import (
    InvalidStreamName,
    class_stream,
    org_stream,
    parse_stream,
    user_stream,
)


def can_read_stream(user: User, name: str) -> bool:
    """Return whether ``user`` may subscribe to the stream ``name``.

    Malformed names and missing objects answer ``False``; inactive and
    anonymous users may read nothing.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    try:
        scope, object_id = parse_stream(name)
    except InvalidStreamName:
        return False
    if scope == "user":
        return object_id == user.pk
    if scope == "class":
        return classes_of(user).filter(pk=object_id).exists()
    return orgs_of(user).filter(pk=object_id).exists()


def readable_streams(user: User) -> list[str]:
    """Return every stream ``user`` may read, personal stream first."""
    names = [user_stream(user.pk)]
    names += [class_stream(pk) for pk in classes_of(user).values_list("pk", flat=True)]
    names += [org_stream(pk) for pk in orgs_of(user).values_list("pk", flat=True)]
    return names
