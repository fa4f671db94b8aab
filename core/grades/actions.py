"""Grades writes. Each action writes its rows, logs them and emits its events.

Rules (documented here, tested in tests/grades):

- **Draft, then published**: an evaluation is created as a draft; marks
  entered in the grid are saved without telling anyone. :func:`publish`
  sets ``published_at`` and sends each pupil with a result their own
  ``grades.mark`` event (pupil and guardians' ``user:`` streams). After
  publication, saving the grid sets ``edited_at`` and re-sends
  ``changed`` to the pupils whose result changed only; changing the
  evaluation itself (title, date, coefficient, out of…) re-sends to every
  pupil with a result. Removal is soft (``deleted_at``) and sends
  ``removed`` to those pupils when it had been published.
- **The grid** (:func:`save_marks`) takes the raw cells: a mark between 0
  and the evaluation's ``out_of`` with at most two decimals (comma or
  dot), or "abs", "disp", "nr" (also "n.r."), or nothing; a comment; a
  level 1 to 4 per skill. One bad cell saves nothing and raises
  :class:`GridError` with a message per pupil; the view shows the grid
  again with what was typed (nothing lost).
- **Periods**: an evaluation's period defaults to the school's period
  containing its date; staff define periods (:func:`save_period`) within
  the academic session, without overlapping another of the same session.
- The caller checked access (:mod:`core.grades.access`); every write is
  logged (``core.audit``).
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

import hub
from core.audit import log as audit
from core.grades import averages
from core.grades.events import MarkChanged, MarkData, SkillResult
from core.grades.models import (
    Evaluation,
    GradesPolicy,
    Mark,
    Period,
    Skill,
    SkillLevel,
)
from core.homework import access as homework_access
from core.roster.access import families, students_of_class
from core.roster.models import AcademicSession, Org, SchoolClass, User
from hub.streams import lock_streams, user_stream

MAX_COMMENT = 1000
# What a teacher may type in a mark cell instead of a mark.
STATUS_WORDS = {
    "abs": Mark.Status.ABSENT,
    "disp": Mark.Status.EXEMPT,
    "nr": Mark.Status.NOT_SUBMITTED,
    "n.r.": Mark.Status.NOT_SUBMITTED,
    "n.r": Mark.Status.NOT_SUBMITTED,
}
# How a status is written back in the grid.
STATUS_CELLS = {
    Mark.Status.ABSENT: "abs",
    Mark.Status.EXEMPT: "disp",
    Mark.Status.NOT_SUBMITTED: "nr",
}


class GradesError(ValueError):
    """A request the rules refuse; ``str(error)`` is a message for the user."""


class GridError(GradesError):
    """Some cells of the grid are wrong: ``errors`` maps a pupil id to the
    message of their row. Nothing was saved."""

    def __init__(self, errors: dict[int, str]):
        super().__init__(_("Some marks are wrong: nothing was saved."))
        self.errors = errors


@dataclass
class Entry:
    """One pupil's row of the grid, as typed."""

    mark: str = ""
    comment: str = ""
    skills: dict[int, str] = field(default_factory=dict)


def _audit(actor: User, action: str, evaluation: Evaluation, **detail) -> None:
    audit.record(
        actor=actor,
        action=action,
        target_type="evaluation",
        target_id=evaluation.pk,
        org_id=evaluation.school_class.org_id,
        detail=detail,
    )


def period_for(org_id: int, day: dt.date) -> Period | None:
    """The school's period containing ``day`` (the earliest if several)."""
    return (
        Period.objects.filter(org_id=org_id, start_date__lte=day, end_date__gte=day)
        .order_by("start_date")
        .first()
    )


def parse_cell(raw: str, out_of: Decimal | None) -> tuple[Decimal | None, str]:
    """``(value, status)`` of a grid cell; raise :class:`GradesError`.

    "" → no result; "abs", "disp", "nr"/"n.r." (any case) → that status;
    "12,5" or "12.5" → a mark, between 0 and ``out_of``, two decimals at most.
    """
    text = (raw or "").strip().lower()
    if not text:
        return None, ""
    if text in STATUS_WORDS:
        return None, STATUS_WORDS[text]
    if out_of is None:
        raise GradesError(_("This evaluation has no mark: only abs, disp or nr."))
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise GradesError(
            _("“%(text)s” is not a mark: type a number, abs, disp or nr.")
            % {"text": raw.strip()[:20]}
        ) from None
    if not value.is_finite():
        raise GradesError(
            _("“%(text)s” is not a mark: type a number, abs, disp or nr.")
            % {"text": raw.strip()[:20]}
        )
    if value < 0 or value > out_of:
        raise GradesError(
            _("The mark must be between 0 and %(out_of)s.")
            % {"out_of": cell(out_of, "")}
        )
    if value != value.quantize(Decimal("0.01")):
        raise GradesError(_("Two decimals at most."))
    return value.quantize(Decimal("0.01")), ""


def cell(value: Decimal | None, status: str) -> str:
    """How a stored result is written in the grid: "12,5", "abs", ""."""
    if status:
        return STATUS_CELLS.get(status, "")  # type: ignore[call-overload]  # Status is a str
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text.replace(".", ",")


def _check_fields(fields: dict, school_class: SchoolClass) -> dict:
    title = (fields.get("title") or "").strip()
    if not title:
        raise GradesError(_("Give the evaluation a title."))
    subject = (fields.get("subject") or "").strip()
    if not subject:
        raise GradesError(_("Choose a subject."))
    date = fields.get("date")
    if not isinstance(date, dt.date):
        raise GradesError(_("Give the evaluation's date."))
    coefficient = fields.get("coefficient")
    if coefficient is None or not Decimal("0.01") <= coefficient <= 20:
        raise GradesError(_("The coefficient must be between 0.01 and 20."))
    out_of = fields.get("out_of")
    skills = list(fields.get("skills") or [])
    if out_of is not None and not 1 <= out_of <= 200:
        raise GradesError(_("A mark is out of 1 to 200."))
    if out_of is None and not skills:
        raise GradesError(_("Give a mark out of N, skills to assess, or both."))
    if any(s.org_id not in (None, school_class.org_id) for s in skills):
        raise GradesError(_("Unknown skill."))
    period = fields.get("period") or period_for(school_class.org_id, date)
    if period is None:
        raise GradesError(
            _("No grading period of the school contains this date: ask the school.")
        )
    if period.org_id != school_class.org_id:
        raise GradesError(_("Unknown period."))
    return {
        "title": title[:200],
        "subject": subject[:300],
        "date": date,
        "kind": fields.get("kind") or Evaluation.Kind.TEST,
        "coefficient": coefficient,
        "out_of": out_of,
        "period": period,
        "skills": skills,
    }


def create_evaluation(
    *, teacher: User, school_class: SchoolClass, **fields
) -> Evaluation:
    """Create a draft evaluation (title, subject, date, kind, coefficient,
    out_of or None, skills, period or None for the date's)."""
    checked = _check_fields(fields, school_class)
    if not homework_access.teaches_subject(teacher, school_class, checked["subject"]):
        raise GradesError(_("You do not teach this subject in this class."))
    skills = checked.pop("skills")
    with transaction.atomic():
        evaluation = Evaluation.objects.create(
            school_class=school_class, teacher=teacher, **checked
        )
        evaluation.skills.set(skills)
        _audit(teacher, "evaluation.created", evaluation, subject=checked["subject"])
    return evaluation


def change_evaluation(
    *, evaluation: Evaluation, teacher: User, now: dt.datetime | None = None, **fields
) -> Evaluation:
    """Change an evaluation's fields (as :func:`create_evaluation`). After
    publication: ``edited_at``, and ``changed`` to every pupil with a result."""
    now = now or timezone.now()
    school_class = evaluation.school_class
    checked = _check_fields(fields, school_class)
    if not homework_access.teaches_subject(teacher, school_class, checked["subject"]):
        raise GradesError(_("You do not teach this subject in this class."))
    skills = checked.pop("skills")
    with transaction.atomic():
        locked = Evaluation.objects.select_for_update().get(pk=evaluation.pk)
        if locked.deleted_at:
            raise GradesError(_("This evaluation was removed."))
        out_of = checked["out_of"]
        marks = Mark.objects.filter(evaluation=locked, value__isnull=False)
        if out_of is None and marks.exists():
            raise GradesError(_("Marks were entered: the evaluation keeps a mark."))
        if out_of is not None and marks.filter(value__gt=out_of).exists():
            raise GradesError(
                _("Some marks are above %(out_of)s.") % {"out_of": cell(out_of, "")}
            )
        dropped = set(locked.skills.values_list("pk", flat=True)) - {
            s.pk for s in skills
        }
        SkillLevel.objects.filter(evaluation=locked, skill_id__in=dropped).delete()
        for name, value in checked.items():
            setattr(locked, name, value)
        if locked.published_at:
            locked.edited_at = now
        locked.save()
        locked.skills.set(skills)
        locked.school_class = school_class
        _audit(teacher, "evaluation.changed", locked)
        if locked.published_at:
            _emit(locked, _pupils_with_results(locked), "changed", teacher)
    return locked


def _pupils_with_results(evaluation: Evaluation) -> set[int]:
    return set(evaluation.marks.values_list("student_id", flat=True)) | set(
        evaluation.skill_levels.values_list("student_id", flat=True)
    )


def _state(evaluation: Evaluation) -> dict[int, tuple]:
    """Each pupil's current result: (value, status, comment, levels)."""
    state: dict[int, list] = {}
    for mark in evaluation.marks.all():
        state[mark.student_id] = [mark.value, mark.status, mark.comment, {}]
    for student_id, skill_id, level in evaluation.skill_levels.values_list(
        "student_id", "skill_id", "level"
    ):
        state.setdefault(student_id, [None, "", "", {}])[3][skill_id] = level
    return {
        pk: (v, s, c, tuple(sorted(lv.items()))) for pk, (v, s, c, lv) in state.items()
    }


def save_marks(
    *,
    evaluation: Evaluation,
    teacher: User,
    entries: dict[int, Entry],
    now: dt.datetime | None = None,
) -> set[int]:
    """Save the grid; return the ids of the pupils whose result changed.

    ``entries`` maps a pupil of the class to their row (:class:`Entry`).
    Raises :class:`GridError` (nothing saved) when a cell is wrong. After
    publication, ``changed`` goes to the pupils whose result changed.
    """
    now = now or timezone.now()
    pupils = set(
        students_of_class(evaluation.school_class).values_list("pk", flat=True)
    )
    skill_ids = set(evaluation.skills.values_list("pk", flat=True))
    rows: dict[int, tuple] = {}
    errors: dict[int, str] = {}
    for student_id, entry in entries.items():
        if student_id not in pupils:
            raise GradesError(_("This pupil is not in the class."))
        try:
            value, status = parse_cell(entry.mark, evaluation.out_of)
            levels = {}
            for skill_id, raw in entry.skills.items():
                if skill_id not in skill_ids:
                    raise GradesError(_("Unknown skill."))
                if not raw:
                    continue
                if raw not in {"1", "2", "3", "4"}:
                    raise GradesError(_("Choose a level from 1 to 4."))
                levels[skill_id] = int(raw)
        except GradesError as error:
            errors[student_id] = str(error)
            continue
        comment = (entry.comment or "").strip()[:MAX_COMMENT]
        rows[student_id] = (value, status, comment, tuple(sorted(levels.items())))
    if errors:
        raise GridError(errors)
    with transaction.atomic():
        locked = Evaluation.objects.select_for_update().get(pk=evaluation.pk)
        if locked.deleted_at:
            raise GradesError(_("This evaluation was removed."))
        locked.school_class = evaluation.school_class
        before = _state(locked)
        empty = (None, "", "", ())
        changed = {pk for pk, row in rows.items() if before.get(pk, empty) != row}
        existing = {
            m.student_id: m for m in locked.marks.filter(student_id__in=changed)
        }
        to_create, to_update, to_delete = [], [], []
        for pk in changed:
            value, status, comment, levels = rows[pk]
            mark = existing.get(pk)
            if value is None and not status and not comment:
                if mark:
                    to_delete.append(mark.pk)
                continue
            if mark is None:
                to_create.append(
                    Mark(
                        evaluation=locked,
                        student_id=pk,
                        value=value,
                        status=status,
                        comment=comment,
                    )
                )
            else:
                mark.value, mark.status, mark.comment = value, status, comment
                mark.updated_at = now
                to_update.append(mark)
        Mark.objects.filter(pk__in=to_delete).delete()
        Mark.objects.bulk_create(to_create)
        Mark.objects.bulk_update(
            to_update, ["value", "status", "comment", "updated_at"]
        )
        SkillLevel.objects.filter(evaluation=locked, student_id__in=changed).delete()
        SkillLevel.objects.bulk_create(
            SkillLevel(evaluation=locked, student_id=pk, skill_id=skill, level=level)
            for pk in changed
            for skill, level in rows[pk][3]
        )
        if locked.published_at and changed:
            locked.edited_at = now
            locked.save(update_fields=["edited_at"])
        _audit(
            teacher,
            "marks.saved",
            locked,
            pupils=len(rows),
            changed=len(changed),
            changed_pupils=sorted(changed),
            published=locked.published_at is not None,
        )
        if locked.published_at and changed:
            _emit(locked, changed, "changed", teacher)
    return changed


def publish(
    *, evaluation: Evaluation, teacher: User, now: dt.datetime | None = None
) -> Evaluation:
    """Publish a draft: families see it and each pupil with a result hears
    of it. Publishing again changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Evaluation.objects.select_for_update().get(pk=evaluation.pk)
        if locked.deleted_at:
            raise GradesError(_("This evaluation was removed."))
        if locked.published_at:
            return locked
        locked.published_at = now
        locked.save(update_fields=["published_at"])
        locked.school_class = evaluation.school_class
        pupils = _pupils_with_results(locked)
        _audit(teacher, "evaluation.published", locked, pupils=len(pupils))
        _emit(locked, pupils, "published", teacher)
    return locked


def remove_evaluation(
    *, evaluation: Evaluation, teacher: User, now: dt.datetime | None = None
) -> Evaluation:
    """Remove an evaluation (soft); ``removed`` to its pupils if published."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Evaluation.objects.select_for_update().get(pk=evaluation.pk)
        if locked.deleted_at:
            return locked
        locked.deleted_at = now
        locked.save(update_fields=["deleted_at"])
        locked.school_class = evaluation.school_class
        _audit(teacher, "evaluation.removed", locked)
        if locked.published_at:
            _emit(locked, _pupils_with_results(locked), "removed", teacher)
    return locked


def _number(value: Decimal | None) -> str | None:
    return None if value is None else str(averages.rounded(value))


def _emit(
    evaluation: Evaluation,
    student_ids,
    op: Literal["published", "changed", "removed"],
    actor: User | None,
) -> None:
    """Send each pupil of ``student_ids`` their own ``grades.mark`` on their
    and their guardians' ``user:`` streams. A constant number of queries
    whatever the number of pupils, plus one ``send_event`` each."""
    student_ids = sorted(student_ids)
    if not student_ids:
        return
    school_class = evaluation.school_class
    policy = averages.policy(school_class.org_id)
    marks = {
        student_id: (value, status)
        for student_id, value, status in evaluation.marks.filter(
            student_id__in=student_ids
        ).values_list("student_id", "value", "status")
    }
    levels: dict[int, list[SkillResult]] = {pk: [] for pk in student_ids}
    for level in (
        SkillLevel.objects.filter(evaluation=evaluation, student_id__in=student_ids)
        .select_related("skill")
        .order_by("skill__code")
    ):
        levels[level.student_id].append(
            SkillResult(
                code=level.skill.code,
                title=level.skill.title,
                level=level.level,
                label=str(SkillLevel.Level(level.level).label),
            )
        )
    stats = averages.for_families(averages.evaluation_stats(evaluation), policy)
    shown = {
        "class_average": _number(stats.average),
        "class_min": _number(stats.minimum),
        "class_max": _number(stats.maximum),
    }
    names = {
        pk: f"{first} {last}".strip()
        for pk, first, last in User.objects.filter(pk__in=student_ids).values_list(
            "pk", "first_name", "last_name"
        )
    }
    fams = families(student_ids)
    lock_streams(user_stream(pk) for ids in fams.values() for pk in ids)
    for student_id in student_ids:
        value, status = marks.get(student_id, (None, ""))
        removed = op == "removed"
        on_twenty = averages.on_twenty(
            value, status, evaluation.out_of, policy.not_submitted_counts_zero
        )
        data = MarkData(
            evaluation_id=evaluation.pk,
            class_id=school_class.pk,
            subject=evaluation.subject,
            title=evaluation.title,
            date=evaluation.date.isoformat(),
            period_id=evaluation.period_id,
            coefficient=str(evaluation.coefficient),
            out_of=None if evaluation.out_of is None else str(evaluation.out_of),
            value=None if removed else _number(value),
            on_twenty=None if removed or status else _number(on_twenty),
            status="" if removed else status,
            status_label=""
            if removed or not status
            else str(Mark.Status(status).label),
            skills=[] if removed else levels[student_id],
            **({} if removed else shown),
        )
        hub.send_event(
            [user_stream(pk) for pk in fams[student_id]],
            MarkChanged(
                op=op,
                org_id=school_class.org_id,
                student_id=student_id,
                student_name=names.get(student_id, ""),
                mark=data,
                actor_id=getattr(actor, "pk", None),
            ),
        )


def save_period(
    *,
    actor: User,
    org: Org,
    session: AcademicSession,
    kind: str,
    title: str,
    start_date: dt.date,
    end_date: dt.date,
    period: Period | None = None,
) -> Period:
    """Define (or change) a grading period of ``org``'s ``session``. The
    caller checked :func:`core.grades.access.period_orgs`."""
    title = (title or "").strip()[:100]
    if not title:
        raise GradesError(_("Give the period a title."))
    if session.org_id != org.pk:
        raise GradesError(_("Unknown school year."))
    if kind not in Period.Kind.values:
        raise GradesError(_("Choose trimester or semester."))
    if start_date > end_date:
        raise GradesError(_("The period ends before it starts."))
    if start_date < session.start_date or end_date > session.end_date:
        raise GradesError(_("The period must fall within the school year."))
    overlapping = Period.objects.filter(
        org=org, session=session, start_date__lte=end_date, end_date__gte=start_date
    )
    same_title = Period.objects.filter(org=org, session=session, title=title)
    if period is not None:
        overlapping = overlapping.exclude(pk=period.pk)
        same_title = same_title.exclude(pk=period.pk)
    if overlapping.exists():
        raise GradesError(_("The period overlaps another period of the year."))
    if same_title.exists():
        raise GradesError(_("Another period has this title."))
    with transaction.atomic():
        if period is None:
            period = Period(org=org, session=session)
        period.kind = kind
        period.title = title
        period.start_date = start_date
        period.end_date = end_date
        period.save()
        audit.record(
            actor=actor,
            action="period.saved",
            target_type="period",
            target_id=period.pk,
            org_id=org.pk,
        )
    return period


def save_policy(*, actor: User, policy: GradesPolicy) -> GradesPolicy:
    """Save a school's grades settings (the caller checked
    :func:`core.grades.access.period_orgs`)."""
    with transaction.atomic():
        policy.save()
        audit.record(
            actor=actor,
            action="grades_policy.saved",
            target_type="org",
            target_id=policy.org_id,
            org_id=policy.org_id,
            detail={
                "show_class_average": policy.show_class_average,
                "show_min_max": policy.show_min_max,
                "not_submitted_counts_zero": policy.not_submitted_counts_zero,
                "alert_below": str(policy.alert_below),
            },
        )
    return policy


def skills_for(org_id: int):
    """The skills an evaluation of ``org_id`` may assess: the socle commun's
    and the school's own."""
    return Skill.objects.filter(Q(org__isnull=True) | Q(org_id=org_id))
