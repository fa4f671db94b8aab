"""Homework writes. Each action writes its rows, logs them and emits its events.

Rules (documented here, tested in tests/homework):

- **Due date**: by default the day of the next scheduled lesson of the same
  class and subject starting after the lesson it is set in (or after now),
  from the timetable's ``Occurrence`` rows; without one, the next weekday.
- **Scheduled publication**: ``publish_at`` in the future keeps the homework
  unpublished (no event, not shown to pupils and guardians);
  :func:`publish_due` (the scheduler, every minute) publishes it and emits
  ``published`` once, even with two schedulers (conditional update), and
  never once removed (the update requires it live).
- **Changes after publication** set ``edited_at`` ("modifié le …") and emit
  ``changed``; a removal is soft (``deleted_at``) and emits ``removed`` if
  it had been published, so open pages drop it with a note.
- **Hand-ins**: only where the teacher asked (``handin_required``). Before
  the deadline a hand-in is on time; after it, accepted and marked late when
  ``late_allowed``, refused otherwise. A new hand-in replaces the previous
  one (its file is deleted on commit) until the teacher returns it; a
  returned hand-in is final. Both lock the homework, then the hand-in, so
  a re-submission racing a return cannot wipe the return. The lateness of a replacement is that of the
  replacement.
- **"Fait"** is the pupil's own tick; it is told to the pupil's and
  guardians' ``user:`` streams only.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Literal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import hub
from core import files
from core.audit import log as audit
from core.homework import access, uploads
from core.homework.events import (
    DoneChanged,
    HandInChanged,
    HomeworkChanged,
    HomeworkData,
    HomeworkReminder,
)
from core.homework.models import (
    DoneMark,
    HandIn,
    Homework,
    Reminder,
    SessionContent,
)
from core.homework.uploads import CheckedFile
from core.roster.access import families
from core.roster.models import SchoolClass, User
from core.timetable.models import Occurrence
from hub.streams import class_stream, user_stream

# The evening reminder goes from this local hour (before the 18:00 digest)
# until REMINDER_UNTIL; a scheduler down all evening sends none that day.
REMINDER_FROM = 17
REMINDER_UNTIL = 21
MAX_LINKS = 5


class HomeworkError(ValueError):
    """A request the rules refuse; ``str(error)`` is a message for the user."""


def _zone(school_class: SchoolClass) -> ZoneInfo:
    return ZoneInfo(school_class.org.time_zone or "Europe/Paris")


def next_lesson(
    school_class: SchoolClass, subject: str, after: dt.datetime
) -> Occurrence | None:
    """The next scheduled lesson of ``school_class`` in ``subject`` starting
    after ``after`` on a later day."""
    day_end = dt.datetime.combine(
        after.astimezone(_zone(school_class)).date() + dt.timedelta(days=1),
        dt.time(),
        _zone(school_class),
    )
    return (
        Occurrence.objects.filter(
            school_class=school_class,
            subject=subject,
            status=Occurrence.Status.SCHEDULED,
            start__gte=day_end,
        )
        .order_by("start")
        .first()
    )


def default_due(
    school_class: SchoolClass, subject: str, after: dt.datetime
) -> tuple[dt.date, Occurrence | None]:
    """The default due date (and lesson): see the module's rules."""
    lesson = next_lesson(school_class, subject, after)
    if lesson is not None:
        return lesson.start.astimezone(_zone(school_class)).date(), lesson
    day = after.astimezone(_zone(school_class)).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day, None


def _clean_links(links) -> list[str]:
    cleaned = []
    for link in links or []:
        link = (link or "").strip()
        if not link:
            continue
        if not link.lower().startswith(("https://", "http://")) or len(link) > 500:
            raise HomeworkError(_("A link must start with https:// or http://."))
        cleaned.append(link)
    if len(cleaned) > MAX_LINKS:
        raise HomeworkError(_("At most 5 links."))
    return cleaned


def homework_data(homework: Homework) -> HomeworkData:
    """The event payload and JSON shape of ``homework``."""
    zone = _zone(homework.school_class)
    return HomeworkData(
        id=homework.pk,
        class_id=homework.school_class_id,
        class_title=homework.school_class.title,
        subject=homework.subject,
        teacher_name=homework.teacher.get_full_name(),
        kind=homework.kind,
        kind_label=str(Homework.Kind(homework.kind).label),
        title=homework.title,
        text=homework.text,
        links=list(homework.links),
        attachments=[
            {"id": a.pk, "name": a.name, "url": f"/homework/files/{a.pk}/"}
            for a in homework.attachments.all()
        ],
        due_date=homework.due_date.isoformat(),
        handin_required=homework.handin_required,
        handin_deadline=homework.handin_deadline.astimezone(zone).isoformat()
        if homework.handin_deadline
        else None,
        edited_at=homework.edited_at.astimezone(zone).isoformat()
        if homework.edited_at
        else None,
    )


def _emit(
    homework: Homework,
    op: Literal["published", "changed", "removed"],
    actor: User | None,
) -> None:
    hub.send_event(
        [class_stream(homework.school_class_id)],
        HomeworkChanged(
            op=op,
            org_id=homework.school_class.org_id,
            homework=homework_data(homework),
            actor_id=actor.pk if actor else None,
        ),
    )


def _audit(actor, action: str, homework: Homework, **detail) -> None:
    audit.record(
        actor=actor,
        action=action,
        target_type="homework",
        target_id=homework.pk,
        org_id=homework.school_class.org_id,
        detail={"class": homework.school_class_id, **detail},
    )


def _save_attachments(homework: Homework, checked: list[CheckedFile]) -> None:
    try:
        uploads.save_attachments(homework.attachments, checked)
    except uploads.TooManyFiles:
        raise HomeworkError(_("At most 5 files per homework.")) from None


def _check_fields(fields: dict, school_class: SchoolClass) -> dict:
    title = (fields.get("title") or "").strip()
    if not title:
        raise HomeworkError(_("Give the homework a title."))
    if fields.get("kind", Homework.Kind.EXERCISE) not in Homework.Kind.values:
        raise HomeworkError(_("Unknown kind of homework."))
    fields["title"] = title[:200]
    fields["text"] = (fields.get("text") or "").strip()[:5000]
    fields["links"] = _clean_links(fields.get("links"))
    if fields.get("handin_required") and not fields.get("handin_deadline"):
        due = fields["due_date"]
        fields["handin_deadline"] = dt.datetime.combine(
            due, dt.time(8, 0), _zone(school_class)
        )
    if not fields.get("handin_required"):
        fields["handin_deadline"] = None
    return fields


def set_homework(
    *,
    teacher: User,
    school_class: SchoolClass,
    subject: str,
    title: str,
    text: str = "",
    kind: str = Homework.Kind.EXERCISE,
    due_date: dt.date | None = None,
    set_in: Occurrence | None = None,
    links=(),
    attachments: Sequence[CheckedFile] = (),
    handin_required: bool = False,
    handin_deadline: dt.datetime | None = None,
    late_allowed: bool = True,
    publish_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Homework:
    """Set a homework; publish it now (event ``published``) or at ``publish_at``.

    ``due_date`` defaults to :func:`default_due`. Raises
    :class:`HomeworkError` when ``teacher`` may not set homework in
    ``subject`` for the class, for a due date in the past, a bad link, too
    many files.
    """
    now = now or timezone.now()
    subject = (subject or "").strip()
    if not access.teaches_subject(teacher, school_class, subject):
        raise HomeworkError(_("You do not teach this subject in this class."))
    after = set_in.end if set_in else now
    due_occurrence = None
    if due_date is None:
        due_date, due_occurrence = default_due(school_class, subject, after)
    else:
        due_occurrence = (
            Occurrence.objects.filter(
                school_class=school_class,
                subject=subject,
                status=Occurrence.Status.SCHEDULED,
                start__date=due_date,
            )
            .order_by("start")
            .first()
        )
    if due_date < now.astimezone(_zone(school_class)).date():
        raise HomeworkError(_("The due date is in the past."))
    fields = _check_fields(
        {
            "title": title,
            "text": text,
            "kind": kind,
            "links": links,
            "due_date": due_date,
            "handin_required": handin_required,
            "handin_deadline": handin_deadline,
        },
        school_class,
    )
    publish_at = publish_at or now
    with transaction.atomic():
        homework = Homework.objects.create(
            school_class=school_class,
            subject=subject,
            teacher=teacher,
            set_in=set_in,
            due_occurrence=due_occurrence,
            late_allowed=late_allowed,
            publish_at=publish_at,
            published=publish_at <= now,
            **fields,
        )
        _save_attachments(homework, list(attachments))
        _audit(
            teacher,
            "homework.set",
            homework,
            subject=subject,
            scheduled=not homework.published,
        )
        if homework.published:
            _emit(homework, "published", teacher)
    return homework


def change_homework(
    *,
    homework: Homework,
    teacher: User,
    attachments: Sequence[CheckedFile] = (),
    remove_attachments=(),
    now: dt.datetime | None = None,
    **changes,
) -> Homework:
    """Change a homework (title, text, kind, due_date, links, hand-in fields,
    publish_at); add or remove files. After publication: ``edited_at`` and
    event ``changed``. The caller checked :func:`access.may_manage`."""
    now = now or timezone.now()
    allowed = {
        "title",
        "text",
        "kind",
        "due_date",
        "links",
        "handin_required",
        "handin_deadline",
        "late_allowed",
        "publish_at",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise HomeworkError(f"unknown fields {sorted(unknown)}")
    with transaction.atomic():
        locked = Homework.objects.select_for_update().get(pk=homework.pk)
        if locked.deleted_at:
            raise HomeworkError(_("This homework was removed."))
        current = {name: getattr(locked, name) for name in allowed}
        current.update(changes)
        if (
            "due_date" in changes
            and changes["due_date"] != locked.due_date
            and changes["due_date"]
            < now.astimezone(_zone(homework.school_class)).date()
        ):
            raise HomeworkError(_("The due date is in the past."))
        late_allowed = current.pop("late_allowed")
        publish_at = current.pop("publish_at") or now
        fields = _check_fields(current, homework.school_class)
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.late_allowed = late_allowed
        if not locked.published:
            locked.publish_at = publish_at
            locked.published = publish_at <= now
            first_publication = locked.published
        else:
            locked.edited_at = now
            first_publication = False
        locked.save()
        if remove_attachments:
            for attachment in locked.attachments.filter(
                pk__in=list(remove_attachments)
            ):
                attachment.delete()
        _save_attachments(locked, list(attachments))
        _audit(teacher, "homework.changed", locked)
        if first_publication:
            _emit(locked, "published", teacher)
        elif locked.published:
            _emit(locked, "changed", teacher)
    return locked


def remove_homework(
    *, homework: Homework, teacher: User, now: dt.datetime | None = None
) -> Homework:
    """Remove a homework (soft); event ``removed`` if it had been published."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Homework.objects.select_for_update().get(pk=homework.pk)
        if locked.deleted_at:
            return locked
        locked.deleted_at = now
        locked.save(update_fields=["deleted_at"])
        _audit(teacher, "homework.removed", locked)
        if locked.published:
            _emit(locked, "removed", teacher)
    return locked


def publish_due(now: dt.datetime | None = None) -> int:
    """Publish every planned homework whose ``publish_at`` has come; return
    how many. Each is published (and announced) once: the flag is set by a
    conditional update, so two schedulers cannot both announce it."""
    now = now or timezone.now()
    due = list(
        Homework.objects.filter(
            published=False, deleted_at__isnull=True, publish_at__lte=now
        ).values_list("pk", flat=True)
    )
    published = 0
    for pk in due:
        with transaction.atomic():
            won = Homework.objects.filter(
                pk=pk, published=False, deleted_at__isnull=True
            ).update(published=True)
            if not won:
                continue
            homework = Homework.objects.select_related(
                "school_class__org", "teacher"
            ).get(pk=pk)
            audit.record(
                actor=None,
                action="homework.published",
                target_type="homework",
                target_id=pk,
                org_id=homework.school_class.org_id,
            )
            _emit(homework, "published", None)
            published += 1
    return published


def _family_streams(student_id: int) -> list[str]:
    """The ``user:`` streams of the pupil and the pupil's guardians."""
    return [user_stream(pk) for pk in families([student_id])[student_id]]


def set_done(*, homework: Homework, student: User, done: bool) -> bool:
    """Tick or untick "fait" for ``student``; return whether it changed.

    Event ``done``/``undone`` to the pupil and the guardians when it did.
    The caller checked the pupil sees the homework.
    """
    with transaction.atomic():
        if done:
            _mark, changed = DoneMark.objects.get_or_create(
                homework=homework, student=student
            )
        else:
            changed = bool(
                DoneMark.objects.filter(homework=homework, student=student).delete()[0]
            )
        if changed:
            audit.record(
                actor=student,
                action="homework.done" if done else "homework.undone",
                target_type="homework",
                target_id=homework.pk,
                org_id=homework.school_class.org_id,
                subject_id=student.pk,
            )
            hub.send_event(
                _family_streams(student.pk),
                DoneChanged(
                    op="done" if done else "undone",
                    homework_id=homework.pk,
                    student_id=student.pk,
                ),
            )
    return changed


def _handin_event(
    handin: HandIn, op: Literal["submitted", "returned"], actor: User
) -> HandInChanged:
    homework = handin.homework
    return HandInChanged(
        op=op,
        handin_id=handin.pk,
        homework_id=homework.pk,
        student_id=handin.student_id,
        student_name=handin.student.get_full_name(),
        org_id=homework.school_class.org_id,
        subject=homework.subject,
        title=homework.title,
        late=handin.late,
        submitted_at=handin.submitted_at.isoformat(),
        returned=handin.returned_at is not None,
        actor_id=actor.pk,
    )


def hand_in(
    *,
    homework: Homework,
    student: User,
    upload: CheckedFile,
    now: dt.datetime | None = None,
) -> HandIn:
    """Store ``student``'s work for ``homework`` (encrypted); see the rules.

    Event ``submitted`` to the pupil, the guardians and the teacher. Raises
    :class:`HomeworkError` when no hand-in is asked, the deadline has passed
    and late hand-ins are refused, or the work was already returned.
    """
    now = now or timezone.now()
    if not homework.handin_required:
        raise HomeworkError(_("No work is to be handed in for this homework."))
    late = bool(homework.handin_deadline and now > homework.handin_deadline)
    if late and not homework.late_allowed:
        raise HomeworkError(
            _("The deadline has passed: this work can no longer be handed in.")
        )
    with transaction.atomic():
        # Locks in one order everywhere (the homework, then the hand-in, as
        # return_handin): a return cannot slip between the read and the save.
        Homework.objects.select_for_update().filter(pk=homework.pk).first()
        handin = (
            HandIn.objects.select_for_update()
            .filter(homework=homework, student=student)
            .first()
        )
        if handin and handin.returned_at:
            raise HomeworkError(
                _("Your teacher has already returned this work: it cannot be replaced.")
            )
        created = handin is None
        if handin is None:  # created
            handin = HandIn(homework=homework, student=student)
        elif handin.file:
            storage, old_name = handin.file.storage, handin.file.name
            files.delete_on_commit(lambda: storage.delete(old_name))  # type: ignore[arg-type]  # a stored file's name
        handin.name = upload.name
        handin.mime = upload.mime
        handin.size = len(upload.data)
        handin.submitted_at = now
        handin.late = late
        handin.file.save("x", files.encrypted(upload.data), save=False)
        if created:
            handin.save()
        else:
            handin.save(
                update_fields=["name", "mime", "size", "submitted_at", "late", "file"]
            )
        audit.record(
            actor=student,
            action="handin.submitted",
            target_type="handin",
            target_id=handin.pk,
            org_id=homework.school_class.org_id,
            subject_id=student.pk,
            detail={"homework": homework.pk, "late": late},
        )
        hub.send_event(
            [*_family_streams(student.pk), user_stream(homework.teacher_id)],
            _handin_event(handin, "submitted", student),
        )
    return handin


def log_handins_listed(teacher: User, handins) -> None:
    """Log that ``teacher`` was shown the pupils of ``handins`` (the "to
    review" lists: the notebook's index, the home card), as the hand-ins
    page is: one entry per render and school shown, nothing when empty."""
    org_ids = {h.homework.school_class.org_id for h in handins}
    if org_ids:
        audit.record_read(
            actor=teacher,
            action="handins.listed",
            target_type="handin_queue",
            target_id=0,
            org_ids=org_ids,
            detail={"handins": len(handins)},
        )


def return_handin(
    *, handin: HandIn, teacher: User, comment: str, now: dt.datetime | None = None
) -> HandIn:
    """Return a hand-in with a comment (encrypted); event ``returned`` to the
    pupil and guardians. Returning again changes the comment."""
    now = now or timezone.now()
    comment = (comment or "").strip()[:2000]
    with transaction.atomic():
        # The homework first, then the hand-in: hand_in's order.
        Homework.objects.select_for_update().filter(pk=handin.homework_id).first()
        locked = HandIn.objects.select_for_update().get(pk=handin.pk)
        locked.comment = comment
        locked.returned_at = now
        locked.returned_by = teacher
        locked.save(update_fields=["comment", "returned_at", "returned_by"])
        locked.homework = handin.homework
        locked.student = handin.student
        audit.record(
            actor=teacher,
            action="handin.returned",
            target_type="handin",
            target_id=locked.pk,
            org_id=handin.homework.school_class.org_id,
            subject_id=locked.student_id,
        )
        hub.send_event(
            _family_streams(locked.student_id),
            _handin_event(locked, "returned", teacher),
        )
    return locked


def write_session_content(
    *, occurrence: Occurrence, teacher: User, text: str, now: dt.datetime | None = None
) -> SessionContent:
    """Write (or rewrite) what was done in ``occurrence``. The caller checked
    :func:`access.get_occurrence_to_write`."""
    now = now or timezone.now()
    text = (text or "").strip()[:5000]
    if not text:
        raise HomeworkError(_("Write what was done in the lesson."))
    with transaction.atomic():
        content, created = SessionContent.objects.get_or_create(
            occurrence=occurrence, defaults={"teacher": teacher, "text": text}
        )
        if not created:
            content.text = text
            content.teacher = teacher
            content.edited_at = now
            content.save()
        audit.record(
            actor=teacher,
            action="session_content.written",
            target_type="occurrence",
            target_id=occurrence.pk,
            org_id=occurrence.school_class.org_id,
        )
    return content


def send_reminders(now: dt.datetime | None = None) -> int:
    """Between 17:00 and 21:00 (local), remind each class of what is due
    tomorrow: one ``due_tomorrow`` event per class per day (``Reminder``
    rows make it once). Returns how many classes were reminded."""
    now = now or timezone.now()
    local = now.astimezone(ZoneInfo("Europe/Paris"))
    if not REMINDER_FROM <= local.hour < REMINDER_UNTIL:
        return 0
    tomorrow = local.date() + dt.timedelta(days=1)
    classes = (
        Homework.objects.filter(
            due_date=tomorrow, published=True, deleted_at__isnull=True
        )
        .exclude(
            school_class__in=Reminder.objects.filter(due_date=tomorrow).values(
                "school_class"
            )
        )
        .values_list("school_class_id", flat=True)
        .distinct()
    )
    sent = 0
    for class_id in sorted(set(classes)):
        with transaction.atomic():
            _reminder, created = Reminder.objects.get_or_create(
                school_class_id=class_id, due_date=tomorrow
            )
            if not created:
                continue
            school_class = SchoolClass.objects.get(pk=class_id)
            subjects = list(
                Homework.objects.filter(
                    school_class_id=class_id,
                    due_date=tomorrow,
                    published=True,
                    deleted_at__isnull=True,
                )
                .order_by("subject")
                .values_list("subject", flat=True)
            )
            hub.send_event(
                [class_stream(class_id)],
                HomeworkReminder(
                    op="due_tomorrow",
                    org_id=school_class.org_id,
                    class_id=class_id,
                    class_title=school_class.title,
                    due_date=tomorrow.isoformat(),
                    count=len(subjects),
                    subjects=list(dict.fromkeys(subjects)),
                ),
            )
            sent += 1
    return sent


def scheduled_jobs(now: dt.datetime | None = None) -> dict:
    """The homework jobs of the scheduler: publications, then reminders."""
    return {"published": publish_due(now), "reminded": send_reminders(now)}


def item_json(item: access.PupilItem) -> dict:
    """A homework as one pupil sees it: the homework, "fait", the hand-in."""
    return {
        **homework_data(item.homework).model_dump(),
        "done": item.done,
        "handed_in": item.handin is not None,
        "late": bool(item.handin and item.handin.late),
        "returned": bool(item.handin and item.handin.returned_at),
    }
