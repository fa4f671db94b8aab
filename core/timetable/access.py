"""Reads of the timetable, with the permission check inside.

Who may read a class's timetable: its teachers and pupils, the pupils'
guardians and the school-life staff of its org (``core.roster.access.
classes_of``). A class or occurrence that does not exist and one the user may
not read raise the same ``Http404``, so ids cannot be probed.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.http import Http404

from core.roster.access import classes_of
from core.roster.models import SchoolClass, User
from core.timetable.models import Occurrence


def get_class_for_user(user: User, school_class_id: int) -> SchoolClass:
    """Return the class ``school_class_id`` if ``user`` may read it.

    Raises ``Http404`` when it does not exist or ``user`` may not read it.
    """
    if not getattr(user, "is_authenticated", False):
        raise Http404("No such class.")
    school_class = (
        classes_of(user).select_related("org").filter(pk=school_class_id).first()
    )
    if school_class is None:
        raise Http404("No such class.")
    return school_class


def week_for_user(
    user: User, school_class_id: int, monday: dt.date
) -> list[Occurrence]:
    """Return the occurrences of a class's week, cancelled ones included.

    The week is Monday 00:00 to the next Monday 00:00 in the org's time zone
    (Europe/Paris); a ``monday`` that is another day means the week holding
    it. As :func:`days_for_user`.
    """
    monday = monday - dt.timedelta(days=monday.weekday())
    return days_for_user(user, school_class_id, monday, monday + dt.timedelta(days=6))


def days_for_user(
    user: User, school_class_id: int, first: dt.date, last: dt.date
) -> list[Occurrence]:
    """Return the occurrences of a class that start on the days ``first`` to
    ``last`` (both included, in the org's time zone), cancelled ones included.

    Occurrences come in start order, with their teachers prefetched and
    ``school_class.org`` selected (ready for ``actions.occurrence_data``).

    Raises ``Http404`` when the class does not exist or ``user`` may not read
    it.
    """
    school_class = get_class_for_user(user, school_class_id)
    zone = ZoneInfo(school_class.org.time_zone)
    start = dt.datetime.combine(first, dt.time(), zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone)
    return list(
        Occurrence.objects.filter(
            school_class=school_class, start__gte=start, start__lt=end
        )
        .select_related("school_class__org", "lesson")
        .prefetch_related("teachers")
        .order_by("start", "pk")
    )


def get_occurrence_for_user(user: User, occurrence_id: int) -> Occurrence:
    """Return the occurrence ``occurrence_id`` if ``user`` may read it.

    Readers are those of its class, and the teachers linked to the
    occurrence itself (a substitute who is not enrolled in the class).
    Raises ``Http404`` when it does not exist or ``user`` may not read it.
    """
    if not getattr(user, "is_authenticated", False):
        raise Http404("No such lesson.")
    occurrence = (
        Occurrence.objects.filter(
            Q(school_class__in=classes_of(user)) | Q(teachers=user), pk=occurrence_id
        )
        .select_related("school_class__org", "lesson")
        .first()
    )
    if occurrence is None:
        raise Http404("No such lesson.")
    return occurrence
