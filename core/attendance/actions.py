"""Attendance writes. Each action writes its rows and emits its events.

Who hears what: an absence or lateness, and every step of its excuse, goes to
the pupil, the pupil's guardians and the school-life staff of the org (their
``user:<id>`` streams), except the person who took the step. A missing roll call goes to the lesson's teachers and
the school-life staff.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Literal

from django.db import transaction
from django.utils import timezone

import hub
from core import files
from core.attendance.events import (
    AttendanceRecorded,
    ExcuseChanged,
    LessonRef,
    RollCallMissing,
)
from core.attendance.models import AttendanceRecord, Excuse, MissingRollCall, RollCall
from core.audit import log as audit
from core.roster.access import families, school_life_staff, students_of_class
from core.roster.models import Enrollment, User
from core.timetable.models import Occurrence
from hub.streams import user_stream

# A roll call may be taken from this long before the lesson starts.
ROLL_CALL_OPENS_BEFORE = dt.timedelta(minutes=15)
# A roll call not taken this long after the start is flagged.
ROLL_CALL_GRACE = dt.timedelta(minutes=15)
# Lessons older than this are not flagged (a server started after a holiday).
ROLL_CALL_LOOKBACK = dt.timedelta(hours=12)
MAX_MINUTES_LATE = 240

Status = AttendanceRecord.Status


class AttendanceError(ValueError):
    """A request the rules refuse; ``str(error)`` is a message for the user."""


def take_roll_call(
    *,
    occurrence: Occurrence,
    teacher: User,
    marks: Mapping[int, tuple[str, int | None]],
    now: dt.datetime | None = None,
) -> RollCall:
    """Record the roll call of ``occurrence`` and tell who must know.

    ``marks`` maps a pupil's user id to ``(status, minutes_late)``; status is
    ``present``, ``absent`` or ``late`` (minutes 1-240, required for late).
    Pupils of the class left out of ``marks`` are present. Taking it again
    corrects it: one event per pupil whose mark changed (``recorded``,
    ``updated`` or ``cleared``), none for pupils present before and after.

    Raises :class:`AttendanceError` for a cancelled lesson, a lesson that has
    not started (15 minutes' leeway), a pupil not in the class, or a bad mark.
    The caller checked that ``teacher`` teaches the lesson.
    """
    now = now or timezone.now()
    if occurrence.status == Occurrence.Status.CANCELLED:
        raise AttendanceError("Ce cours est annulé : pas d'appel.")
    if occurrence.start - ROLL_CALL_OPENS_BEFORE > now:
        raise AttendanceError("L'appel ne peut pas être fait avant le début du cours.")
    pupils = {p.pk: p for p in students_of_class(occurrence.school_class)}
    unknown = set(marks) - set(pupils)
    if unknown:
        raise AttendanceError("Un élève ne fait pas partie de cette classe.")
    cleaned = {pk: _clean_mark(*marks.get(pk, (Status.PRESENT, None))) for pk in pupils}

    with transaction.atomic():
        roll_call, _ = RollCall.objects.get_or_create(
            occurrence=occurrence, defaults={"taken_by": teacher}
        )
        roll_call.taken_by = teacher
        roll_call.save()
        existing = {r.student_id: r for r in roll_call.records.all()}
        created, changed = [], []
        for pk, (status, minutes) in cleaned.items():
            record = existing.get(pk)
            before = (
                (record.status, record.minutes_late)
                if record
                else (Status.PRESENT, None)
            )
            if record is None:
                record = AttendanceRecord(
                    roll_call=roll_call,
                    student_id=pk,
                    status=status,
                    minutes_late=minutes,
                )
                created.append(record)
            elif before != (status, minutes):
                record.status, record.minutes_late = status, minutes
                record.save(update_fields=["status", "minutes_late", "recorded_at"])
            op = _record_op(before[0], status, before != (status, minutes))
            if op:
                changed.append((record, op))
        AttendanceRecord.objects.bulk_create(created)
        lesson = lesson_ref(occurrence)
        _announce(
            [
                AttendanceRecorded(
                    op=op,
                    record_id=record.pk,
                    student_id=record.student_id,
                    student_name=pupils[record.student_id].get_full_name(),
                    org_id=occurrence.school_class.org_id,
                    status=record.status,
                    minutes_late=record.minutes_late,
                    lesson=lesson,
                )
                for record, op in changed
            ]
        )
        org_id = occurrence.school_class.org_id
        audit.record(
            actor=teacher,
            action="roll_call.taken",
            target_type="roll_call",
            target_id=roll_call.pk,
            org_id=org_id,
            detail={"occurrence": occurrence.pk, "changed": len(changed)},
        )
        for record, op in changed:
            audit.record(
                actor=teacher,
                action=f"attendance.{op}",
                target_type="attendance_record",
                target_id=record.pk,
                org_id=org_id,
                subject_id=record.student_id,
                detail={"status": record.status, "minutes_late": record.minutes_late},
            )
    return roll_call


def submit_excuse(
    *,
    record: AttendanceRecord,
    guardian: User,
    reason: str,
    comment: str = "",
    document=None,
) -> Excuse:
    """Store a guardian's excuse for an absence or lateness; emit ``submitted``.

    ``reason`` is an :class:`Excuse.Reason` value; ``document`` an optional
    uploaded file already checked by the form (PDF or image, 5 MB at most).
    Raises :class:`AttendanceError` when the record is a presence, an excuse is
    already pending, or one was already accepted.
    """
    if record.status == Status.PRESENT:
        raise AttendanceError("Il n'y a rien à justifier pour ce cours.")
    if reason not in Excuse.Reason.values:
        raise AttendanceError("Motif inconnu.")
    with transaction.atomic():
        locked = AttendanceRecord.objects.select_for_update().get(pk=record.pk)
        if locked.excuses.filter(status=Excuse.Status.PENDING).exists():
            raise AttendanceError("Un justificatif est déjà en attente de validation.")
        if locked.excuses.filter(status=Excuse.Status.ACCEPTED).exists():
            raise AttendanceError("Cette absence est déjà justifiée.")
        excuse = Excuse(
            record=record, submitted_by=guardian, reason=reason, comment=comment
        )
        if document:
            document.seek(0)
            excuse.document.save(
                document.name, files.encrypted(document.read()), save=False
            )
        excuse.save()
        _emit_excuse(excuse, "submitted", guardian)
    return excuse


def review_excuse(
    *, excuse: Excuse, reviewer: User, accept: bool, note: str = ""
) -> Excuse:
    """Accept or refuse a pending excuse; emit ``accepted`` or ``refused``.

    Raises :class:`AttendanceError` if it is no longer pending (reviewed by
    someone else meanwhile).
    """
    with transaction.atomic():
        locked = Excuse.objects.select_for_update().get(pk=excuse.pk)
        if locked.status != Excuse.Status.PENDING:
            raise AttendanceError("Ce justificatif a déjà été traité.")
        locked.status = Excuse.Status.ACCEPTED if accept else Excuse.Status.REFUSED
        locked.reviewed_by = reviewer
        locked.reviewed_at = timezone.now()
        locked.review_note = note.strip()[:300]
        locked.save()
        _emit_excuse(locked, locked.status, reviewer)  # type: ignore[arg-type]  # accepted or refused
    return locked


def flag_missing_roll_calls(*, now: dt.datetime | None = None) -> int:
    """Flag every lesson whose roll call is still missing 15 minutes after it began.

    Looks at scheduled occurrences that started between 12 hours and 15
    minutes before ``now``, in classes with pupils. Each is flagged once
    (``MissingRollCall``) with one event to its teachers and the school-life
    staff. Returns how many were flagged. Safe to run from several schedulers.
    """
    now = now or timezone.now()
    candidates = (
        Occurrence.objects.filter(
            status=Occurrence.Status.SCHEDULED,
            start__lte=now - ROLL_CALL_GRACE,
            start__gte=now - ROLL_CALL_LOOKBACK,
            roll_call__isnull=True,
            school_class__enrollments__role=Enrollment.Role.STUDENT,
        )
        .exclude(pk__in=MissingRollCall.objects.values("occurrence_id"))
        .select_related("school_class")
        .distinct()
    )
    flagged = 0
    for occurrence in candidates:
        with transaction.atomic():
            _, created = MissingRollCall.objects.get_or_create(occurrence=occurrence)
            if not created:
                continue
            teachers = list(occurrence.teachers.values_list("pk", flat=True)) or list(
                Enrollment.objects.filter(
                    school_class_id=occurrence.school_class_id,
                    role=Enrollment.Role.TEACHER,
                ).values_list("user_id", flat=True)
            )
            staff = school_life_staff(
                occurrence.school_class.org_id, "attendance.view_missingrollcall"
            ).values_list("pk", flat=True)
            audit.record(
                actor=None,
                action="roll_call.flagged_missing",
                target_type="occurrence",
                target_id=occurrence.pk,
                org_id=occurrence.school_class.org_id,
            )
            hub.send_event(
                [user_stream(pk) for pk in [*teachers, *staff]],
                RollCallMissing(
                    op="missing",
                    org_id=occurrence.school_class.org_id,
                    lesson=lesson_ref(occurrence),
                ),
            )
            flagged += 1
    return flagged


def log_staff_read(
    user, records, action: str, target_type: str, target_id: int, **extra
):
    """Staff reading pupils' attendance leave a trace (families reading their
    own don't), in the schools of the records shown: each school's readers
    see the reads of their own pupils, and a read that showed nothing is
    not one."""
    if not (user.role in (User.Role.TEACHER, User.Role.ADMINISTRATOR) or user.is_staff):
        return
    org_ids = set(
        records.order_by()
        .values_list("roll_call__occurrence__school_class__org_id", flat=True)
        .distinct()
    )
    if org_ids:
        audit.record_read(
            actor=user,
            action=action,
            target_type=target_type,
            target_id=target_id,
            org_ids=org_ids,
            **extra,
        )


def lesson_ref(occurrence: Occurrence) -> LessonRef:
    """Return the event payload naming ``occurrence`` (times ISO 8601, local)."""
    tz = timezone.get_default_timezone()
    return LessonRef(
        id=occurrence.pk,
        class_id=occurrence.school_class_id,
        class_title=occurrence.school_class.title,
        subject=occurrence.subject,
        start=occurrence.start.astimezone(tz).isoformat(),
        end=occurrence.end.astimezone(tz).isoformat(),
    )


def _clean_mark(status: str, minutes: int | None) -> tuple[str, int | None]:
    if status not in Status.values:
        raise AttendanceError(f"Statut inconnu : {status[:20]}")
    if status != Status.LATE:
        return status, None
    if not isinstance(minutes, int) or not 1 <= minutes <= MAX_MINUTES_LATE:
        raise AttendanceError(
            f"Un retard se compte en minutes, de 1 à {MAX_MINUTES_LATE}."
        )
    return status, minutes


def _record_op(
    before: str, after: str, changed: bool
) -> Literal["recorded", "updated", "cleared"] | None:
    if not changed:
        return None
    if after == Status.PRESENT:
        return "cleared"
    return "recorded" if before == Status.PRESENT else "updated"


def _changes(record: AttendanceRecord | None, status: str, minutes) -> bool:
    """Whether marking ``status`` over ``record`` emits an event."""
    before = (record.status, record.minutes_late) if record else (Status.PRESENT, None)
    return bool(_record_op(before[0], status, before != (status, minutes)))


def _announce(events: list, actor: User | None = None) -> None:
    """Send attendance events to each pupil and guardians, then to the school-life staff.

    ``events`` are :class:`AttendanceRecorded` or :class:`ExcuseChanged` of
    one org; ``actor`` (who took the step) is left out. Locks are taken in
    one order by every attendance action, so two of them never deadlock: the
    attendance rows (the caller's), the families' streams in name order, and
    last the staff's streams. A school's staff streams are written by every
    roll call of the school (the hot rows, bench S3): taken last, they are
    held only for the end of the transaction.
    """
    if not events:
        return
    skip = {user_stream(actor.pk)} if actor else set()
    members = families({e.student_id for e in events})
    streams = [{user_stream(pk) for pk in members[e.student_id]} - skip for e in events]
    hub.lock_streams(set().union(*streams))
    for event, family in zip(events, streams, strict=True):
        hub.send_event(family, event)
    staff = {
        user_stream(pk)
        for pk in school_life_staff(
            events[0].org_id, "attendance.view_attendancerecord"
        ).values_list("pk", flat=True)
    } - skip
    for event, family in zip(events, streams, strict=True):
        if staff - family:
            hub.send_event(staff - family, event)


def _emit_excuse(
    excuse: Excuse, op: Literal["submitted", "accepted", "refused"], actor: User
) -> None:
    """Tell the pupil, guardians and staff, but not the one who acted; log it."""
    record = excuse.record
    occurrence = record.roll_call.occurrence
    audit.record(
        actor=actor,
        action=f"excuse.{op}",
        target_type="excuse",
        target_id=excuse.pk,
        org_id=occurrence.school_class.org_id,
        subject_id=record.student_id,
        detail={"reason": excuse.reason, "document": bool(excuse.document)},
    )
    _announce(
        [
            ExcuseChanged(
                op=op,
                excuse_id=excuse.pk,
                record_id=record.pk,
                student_id=record.student_id,
                student_name=record.student.get_full_name(),
                org_id=occurrence.school_class.org_id,
                reason=excuse.reason,
                status=excuse.status,
                lesson=lesson_ref(occurrence),
            )
        ],
        actor,
    )
