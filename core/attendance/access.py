"""Reads of attendance data, each with its permission check inside.

"Not found" and "not allowed" raise the same ``Http404`` (Zulip's
``access_*_by_id``), so ids cannot be probed.
"""

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from core.attendance.models import AttendanceRecord, Excuse, MissingRollCall, RollCall
from core.roster.access import staff_orgs
from core.roster.models import Enrollment, User
from core.timetable.models import Occurrence


def teaches(user: User, occurrence: Occurrence) -> bool:
    """Return whether ``user`` may take the roll call of ``occurrence``.

    The occurrence's own teachers may; when the export named none we know,
    any teacher enrolled in the class may.
    """
    if user.role != User.Role.TEACHER or not user.is_active:
        return False
    if occurrence.teachers.filter(pk=user.pk).exists():
        return True
    return (
        not occurrence.teachers.exists()
        and Enrollment.objects.filter(
            user=user,
            school_class_id=occurrence.school_class_id,
            role=Enrollment.Role.TEACHER,
        ).exists()
    )


def get_occurrence_for_roll_call(user: User, occurrence_id: int) -> Occurrence:
    """Return the occurrence ``user`` may take the roll call of, or raise Http404."""
    occurrence = (
        Occurrence.objects.select_related("school_class__org")
        .filter(pk=occurrence_id)
        .first()
    )
    if occurrence is None or not teaches(user, occurrence):
        raise Http404("no such lesson")
    return occurrence


def taught_by(user: User) -> QuerySet[Occurrence]:
    """Return every occurrence whose roll call ``user`` takes (see :func:`teaches`)."""
    taught_classes = Enrollment.objects.filter(
        user=user, role=Enrollment.Role.TEACHER
    ).values("school_class_id")
    return (
        Occurrence.objects.filter(
            Q(teachers=user)
            | Q(teachers__isnull=True, school_class_id__in=taught_classes)
        )
        .select_related("school_class")
        .distinct()
    )


def lessons_to_call(user: User, day: dt.date) -> QuerySet[Occurrence]:
    """Return the scheduled occurrences of ``day`` whose roll call ``user`` takes.

    ``day`` is a local date (Europe/Paris, the org's zone).
    """
    return (
        taught_by(user)
        .filter(start__date=day, status=Occurrence.Status.SCHEDULED)
        .annotate(
            roll_call_taken=Exists(RollCall.objects.filter(occurrence=OuterRef("pk")))
        )
        .order_by("start")
    )


def visible_records(user: User) -> QuerySet[AttendanceRecord]:
    """Return the absence and lateness records ``user`` may see.

    Guardians: their children's; students: their own; school-life staff:
    those of the orgs where they hold ``attendance.view_attendancerecord``
    (:func:`core.roster.access.staff_orgs`); teachers: those of the roll
    calls they took.
    """
    records = AttendanceRecord.objects.exclude(status=AttendanceRecord.Status.PRESENT)
    if user.role == User.Role.GUARDIAN:
        records = records.filter(student__guardians=user)
    elif user.role == User.Role.STUDENT:
        records = records.filter(student=user)
    elif user.role == User.Role.ADMINISTRATOR:
        records = records.filter(
            roll_call__occurrence__school_class__org__in=staff_orgs(
                user, "attendance.view_attendancerecord"
            )
        )
    else:
        records = records.filter(roll_call__taken_by=user)
    return (
        records.select_related("student", "roll_call__occurrence__school_class")
        .prefetch_related("excuses")
        .order_by("-roll_call__occurrence__start", "student__last_name")
    )


def get_record_for_guardian(user: User, record_id: int) -> AttendanceRecord:
    """Return an absence or lateness of one of ``user``'s children, or raise Http404."""
    if user.role != User.Role.GUARDIAN:
        raise Http404("no such record")
    record = visible_records(user).filter(pk=record_id).first()
    if record is None:
        raise Http404("no such record")
    return record


def excuse_queue(user: User) -> QuerySet[Excuse]:
    """Return the pending excuses school-life staff ``user`` must review:
    those of the orgs where they hold ``attendance.change_excuse``."""
    if user.role != User.Role.ADMINISTRATOR:
        return Excuse.objects.none()
    return (
        Excuse.objects.filter(
            status=Excuse.Status.PENDING,
            record__roll_call__occurrence__school_class__org__in=staff_orgs(
                user, "attendance.change_excuse"
            ),
        )
        .select_related(
            "record__student", "record__roll_call__occurrence__school_class"
        )
        .order_by("submitted_at")
    )


def missing_roll_calls(user: User, day: dt.date) -> QuerySet[Occurrence]:
    """Return the lessons of ``day`` flagged as missing a roll call and still
    without one, in the orgs where school-life staff ``user`` hold
    ``attendance.view_missingrollcall`` (empty otherwise)."""
    if user.role != User.Role.ADMINISTRATOR:
        return Occurrence.objects.none()
    return (
        Occurrence.objects.filter(
            start__date=day,
            school_class__org__in=staff_orgs(user, "attendance.view_missingrollcall"),
            roll_call__isnull=True,
            pk__in=MissingRollCall.objects.values("occurrence_id"),
        )
        .select_related("school_class")
        .prefetch_related("teachers")
        .order_by("start")
    )


def get_excuse_for_review(user: User, excuse_id: int) -> Excuse:
    """Return a pending excuse of ``user``'s orgs, or raise Http404."""
    excuse = excuse_queue(user).filter(pk=excuse_id).first()
    if excuse is None:
        raise Http404("no such excuse")
    return excuse


def get_excuse_document(user: User, excuse_id: int) -> Excuse:
    """Return an excuse whose document ``user`` may download, or raise Http404.

    The guardians who can see the record and the school-life staff of its org.
    """
    excuse = (
        Excuse.objects.filter(pk=excuse_id, record__in=visible_records(user))
        .exclude(document="")
        .first()
    )
    if excuse is None or user.role not in (User.Role.GUARDIAN, User.Role.ADMINISTRATOR):
        raise Http404("no such document")
    return excuse


def week_taught_by(user: User, monday: dt.date) -> list[Occurrence]:
    """Return the occurrences of ``monday``'s week whose roll call ``user``
    takes (:func:`taught_by`), every class, cancelled ones included.

    The week is Monday to Sunday; a ``monday`` that is another day means
    its week. As :func:`days_taught_by`.
    """
    monday = monday - dt.timedelta(days=monday.weekday())
    return days_taught_by(user, monday, monday + dt.timedelta(days=6))


def days_taught_by(user: User, first: dt.date, last: dt.date) -> list[Occurrence]:
    """Return the occurrences starting on the days ``first`` to ``last``
    (both included, Europe/Paris: the project's zone) whose roll call
    ``user`` takes (:func:`taught_by`), every class, cancelled ones included,
    in start order. Ready for ``core.timetable.actions.occurrence_data``.
    """
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(first, dt.time(), zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone)
    return list(
        taught_by(user)
        .filter(start__gte=start, start__lt=end)
        .select_related("school_class__org")
        .order_by("start", "pk")
    )
