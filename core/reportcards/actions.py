"""Report card writes. Each action validates, writes its rows in one
transaction, logs them (``core.audit``) and emits its events.

Rules (tested in tests/reportcards):

- **Appraisals** are at most :data:`~core.reportcards.models.MAX_APPRAISAL`
  characters, for pupils currently enrolled in the class; a bad one refuses
  the whole save (nothing written, the page keeps what was typed). An empty
  text clears the appraisal. Each changed appraisal is one audit entry (no
  text in the log).
- **Publishing** a period for a homeroom makes (or marks for remaking) the
  card of each pupil currently in it, bumps the publication's
  ``generation`` and enqueues :func:`core.reportcards.tasks.generate_report_cards`
  when the transaction commits. Publishing again after a correction is the
  same action: every card is made again.
- **Generation** runs in the background: :mod:`core.reportcards.generation`.
- The class's average, lowest and highest on a card follow the one rule of what
  families see (:func:`core.grades.averages.for_families`): the school's
  :class:`~core.grades.models.GradesPolicy`, and none over fewer than
  :data:`~core.grades.averages.MIN_RESULTS` pupils' averages (they would
  reveal a classmate's). The class's overall average likewise.
"""

from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import log as audit
from core.elision import of_name
from core.grades.models import Period
from core.reportcards.models import (
    MAX_APPRAISAL,
    Publication,
    ReportCard,
    SubjectAppraisal,
)
from core.reportcards.tasks import generate_report_cards
from core.roster.access import students_of_class
from core.roster.models import SchoolClass, User


class ReportCardError(ValueError):
    """A request the rules refuse; ``str(error)`` is a message for the user."""


def _checked_texts(school_class: SchoolClass, texts: dict) -> dict[int, str]:
    """``{pupil id: text}`` stripped, or :class:`ReportCardError` (a pupil
    not in the class, a text too long)."""
    pupils = {p.pk: p for p in students_of_class(school_class)}
    checked = {}
    for pupil_id, text in texts.items():
        pupil = pupils.get(pupil_id)
        if pupil is None:
            raise ReportCardError(_("This pupil is not in the class."))
        text = (text or "").replace("\r\n", "\n").strip()
        if len(text) > MAX_APPRAISAL:
            raise ReportCardError(
                _(
                    "The appraisal %(of_name)s is %(length)s characters long: "
                    "at most %(max)s."
                )
                % {
                    "of_name": of_name(pupil.get_full_name()),
                    "length": len(text),
                    "max": MAX_APPRAISAL,
                }
            )
        checked[pupil_id] = text
    return checked


def save_subject_appraisals(
    *,
    teacher: User,
    school_class: SchoolClass,
    period: Period,
    subject: str,
    texts: dict[int, str],
) -> int:
    """Write ``teacher``'s appraisals of ``subject`` (``{pupil id: text}``);
    return how many changed. The caller checked
    :func:`core.reportcards.access.subjects_to_appraise`."""
    checked = _checked_texts(school_class, texts)
    changed = 0
    with transaction.atomic():
        current = {
            a.student_id: a
            for a in SubjectAppraisal.objects.select_for_update().filter(
                school_class=school_class,
                period=period,
                subject=subject,
                student_id__in=list(checked),
            )
        }
        for pupil_id, text in checked.items():
            appraisal = current.get(pupil_id)
            if appraisal is None:
                if not text:
                    continue
                appraisal = SubjectAppraisal(
                    school_class=school_class,
                    period=period,
                    subject=subject,
                    student_id=pupil_id,
                )
            elif appraisal.text == text:
                continue
            appraisal.text = text
            appraisal.teacher = teacher
            appraisal.save()
            changed += 1
            audit.record(
                actor=teacher,
                action="reportcards.subject_appraisal_saved",
                target_type="school_class",
                target_id=school_class.pk,
                org_id=school_class.org_id,
                subject_id=pupil_id,
                detail={"period": period.pk, "subject": subject},
            )
    return changed


def save_head_appraisals(
    *,
    staff: User,
    school_class: SchoolClass,
    period: Period,
    texts: dict[int, str],
) -> int:
    """Write the head teacher's appraisals (``{pupil id: text}``) on the
    pupils' cards of ``period`` (made as drafts if need be); return how many
    changed. The caller checked :func:`core.reportcards.access.get_staff_class`."""
    checked = _checked_texts(school_class, texts)
    changed = 0
    with transaction.atomic():
        cards = {
            c.student_id: c
            for c in ReportCard.objects.select_for_update().filter(
                period=period, student_id__in=list(checked)
            )
        }
        for pupil_id, text in checked.items():
            card = cards.get(pupil_id)
            if card is None:
                if not text:
                    continue
                card = ReportCard(
                    student_id=pupil_id, period=period, school_class=school_class
                )
            elif card.head_appraisal == text:
                continue
            card.head_appraisal = text
            card.head_appraisal_by = staff
            card.save()
            changed += 1
            audit.record(
                actor=staff,
                action="reportcards.head_appraisal_saved",
                target_type="report_card",
                target_id=card.pk,
                org_id=school_class.org_id,
                subject_id=pupil_id,
                detail={"period": period.pk, "class": school_class.pk},
            )
    return changed


def publish(
    *, staff: User, school_class: SchoolClass, period: Period, now=None
) -> Publication:
    """Publish ``period`` for the homeroom ``school_class`` (or publish it
    again after a correction): see the module's rules. Raises
    :class:`ReportCardError` for a class without pupils."""
    now = now or timezone.now()
    pupils = list(students_of_class(school_class).values_list("pk", flat=True))
    if not pupils:
        raise ReportCardError(_("This class has no pupils."))
    with transaction.atomic():
        publication, created = Publication.objects.select_for_update().get_or_create(
            school_class=school_class,
            period=period,
            defaults={"published_at": now, "published_by": staff},
        )
        publication.published_at = now
        publication.published_by = staff
        publication.generation += 1
        publication.save()
        existing = set(
            ReportCard.objects.filter(period=period, student_id__in=pupils).values_list(
                "student_id", flat=True
            )
        )
        ReportCard.objects.bulk_create(
            [
                ReportCard(student_id=pk, period=period, school_class=school_class)
                for pk in pupils
                if pk not in existing
            ]
        )
        ReportCard.objects.filter(period=period, student_id__in=pupils).update(
            school_class=school_class, status=ReportCard.Status.PENDING
        )
        audit.record(
            actor=staff,
            action="reportcards.published" if created else "reportcards.republished",
            target_type="school_class",
            target_id=school_class.pk,
            org_id=school_class.org_id,
            detail={
                "period": period.pk,
                "pupils": len(pupils),
                "generation": publication.generation,
            },
        )
        transaction.on_commit(
            partial(
                generate_report_cards.enqueue, publication.pk, publication.generation
            )
        )
    return publication


def log_download(user: User, card: ReportCard) -> None:
    """Log a staff member's download of a pupil's card (a staff read)."""
    audit.record_read(
        actor=user,
        action="reportcard.downloaded",
        target_type="report_card",
        target_id=card.pk,
        org_ids=[card.school_class.org_id],
        subject_id=card.student_id,
    )
