"""Making a publication's report cards, in the background (the work of
:func:`core.reportcards.tasks.generate_report_cards`).

Rules (tested in tests/reportcards): each card's PDF is made from the
averages of :mod:`core.grades.averages` (the one rule) at that moment, stored
encrypted, and the staff's open pages hear each one
(``reportcards.progress``). When none is left to make, the cards are
announced to each pupil's current guardians, once per generation (a
conditional update of ``notified_generation``): ``published`` the first time,
``updated`` after a correction. A task of an older generation stops at its
next card (a newer publication remakes them all).

Apart from :mod:`core.reportcards.actions`: the worker needs none of the
writes, and the actions module imports the task to enqueue it.
"""

import logging
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from django.db import transaction
from django.utils import timezone

import hub
from core import files
from core.audit import log as audit
from core.grades import averages as rule
from core.grades.models import Evaluation, Period, SkillLevel
from core.reportcards import pdf
from core.reportcards.access import PUBLISH_PERMISSION
from core.reportcards.events import GenerationProgress, ReportCardAvailable
from core.reportcards.models import (
    Publication,
    ReportCard,
    SubjectAppraisal,
)
from core.roster.access import families, school_life_staff, students_of_class
from core.roster.models import SchoolClass
from hub.streams import user_stream

log = logging.getLogger(__name__)


def _skill_levels(student_ids: list[int], period: Period) -> dict[int, list]:
    """``{pupil: [SkillLine]}``: the mean level (rounded half up) of each
    skill assessed in the period's published evaluations."""
    levels: dict[tuple[int, int], list[int]] = defaultdict(list)
    names: dict[int, tuple[str, str]] = {}
    for student_id, skill_id, code, title, level in SkillLevel.objects.filter(
        student_id__in=student_ids,
        evaluation__period=period,
        evaluation__published_at__isnull=False,
        evaluation__deleted_at__isnull=True,
    ).values_list("student_id", "skill_id", "skill__code", "skill__title", "level"):
        levels[(student_id, skill_id)].append(level)
        names[skill_id] = (code, title)
    found: dict[int, list] = {pk: [] for pk in student_ids}
    for (student_id, skill_id), values in levels.items():
        mean = (Decimal(sum(values)) / len(values)).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        code, title = names[skill_id]
        found[student_id].append(pdf.SkillLine(code=code, title=title, level=int(mean)))
    for lines in found.values():
        lines.sort(key=lambda line: line.code)
    return found


class _ClassFacts:
    """What every card of a class and period needs, read once (a constant
    number of queries whatever the number of pupils)."""

    def __init__(self, school_class: SchoolClass, period: Period, card_pupils):
        self.school_class = school_class
        self.period = period
        class_ids = list(students_of_class(school_class).values_list("pk", flat=True))
        ids = sorted(set(class_ids) | set(card_pupils))
        self.averages = rule.subject_averages(ids, period)
        in_class = {pk: self.averages[pk] for pk in class_ids}
        policy = rule.policy(school_class.org_id)
        self.stats = {
            subject: rule.for_families(found, policy)
            for subject, found in rule.class_subject_stats(in_class).items()
        }
        self.class_overall = rule.for_families(
            rule.stats(rule.overall(values) for values in in_class.values()), policy
        ).average
        self.appraisals: dict[tuple[int, str], SubjectAppraisal] = {
            (a.student_id, a.subject): a
            for a in SubjectAppraisal.objects.filter(
                period=period, student_id__in=ids
            ).select_related("teacher")
        }
        self.teachers: dict[str, str] = {}
        for subject, first, last in (
            Evaluation.objects.filter(
                period=period,
                marks__student_id__in=ids,
                published_at__isnull=False,
                deleted_at__isnull=True,
            )
            .order_by("subject", "-date")
            .values_list("subject", "teacher__first_name", "teacher__last_name")
            .distinct()
        ):
            self.teachers.setdefault(subject, f"{first} {last}".strip())
        self.skills = _skill_levels(ids, period)

    def card_data(self, card: ReportCard, today) -> pdf.CardData:
        pupil_averages = self.averages.get(card.student_id, {})
        subjects = sorted(
            set(pupil_averages)
            | {s for (pk, s), a in self.appraisals.items() if pk == card.student_id}
        )
        lines = []
        for subject in subjects:
            appraisal = self.appraisals.get((card.student_id, subject))
            stats = self.stats.get(subject, rule.NO_STATS)
            teacher = (
                appraisal.teacher.get_full_name()
                if appraisal
                else self.teachers.get(subject, "")
            )
            lines.append(
                pdf.SubjectLine(
                    subject=subject,
                    average=pupil_averages.get(subject),
                    class_average=stats.average,
                    minimum=stats.minimum,
                    maximum=stats.maximum,
                    teacher=teacher,
                    appraisal=appraisal.text if appraisal else "",
                )
            )
        org = self.school_class.org
        return pdf.CardData(
            school=org.name,
            uai=org.uai,
            pupil=card.student.get_full_name(),
            class_title=self.school_class.title,
            period=self.period.title,
            year=self.school_class.session.title,
            subjects=lines,
            overall=rule.overall(pupil_averages),
            class_overall=self.class_overall,
            skills=self.skills.get(card.student_id, []),
            head_appraisal=card.head_appraisal,
            generated_on=today,
        )


def _staff_streams(school_class: SchoolClass) -> list[str]:
    return [
        user_stream(pk)
        for pk in school_life_staff(school_class.org_id, PUBLISH_PERMISSION)
        .values_list("pk", flat=True)
        .order_by("pk")
    ]


def _progress(
    publication: Publication, op: Literal["generated", "failed", "done"]
) -> None:
    counts: defaultdict[str, int] = defaultdict(int)
    for status in ReportCard.objects.filter(
        school_class_id=publication.school_class_id, period_id=publication.period_id
    ).values_list("status", flat=True):
        counts[status] += 1
    streams = _staff_streams(publication.school_class)
    if streams:
        hub.send_event(
            streams,
            GenerationProgress(
                op=op,
                class_id=publication.school_class_id,
                period_id=publication.period_id,
                ready=counts[ReportCard.Status.READY],
                failed=counts[ReportCard.Status.FAILED],
                total=sum(counts.values()),
            ),
        )


def generate(publication_id: int, generation: int) -> dict:
    """Make the PDFs of ``generation`` of the publication, then announce the
    cards (see the module's rules). Returns counts for the task's result."""
    publication = (
        Publication.objects.select_related(
            "school_class__org", "school_class__session", "period", "published_by"
        )
        .filter(pk=publication_id)
        .first()
    )
    if publication is None or publication.generation != generation:
        return {"status": "superseded"}
    school_class, period = publication.school_class, publication.period
    pending = list(
        ReportCard.objects.filter(
            school_class=school_class,
            period=period,
            status=ReportCard.Status.PENDING,
        ).select_related("student")
    )
    facts = _ClassFacts(school_class, period, [c.student_id for c in pending])
    today = timezone.localdate()
    made = failed = 0
    for card in pending:
        try:
            data = pdf.build(facts.card_data(card, today))
        except Exception as error:  # one bad card does not stop the others
            log.error("report card %s: %s", card.pk, type(error).__name__)
            data = None
        with transaction.atomic():
            current = Publication.objects.select_for_update().get(pk=publication_id)
            if current.generation != generation:
                return {"status": "superseded", "made": made}
            locked = ReportCard.objects.select_for_update().get(pk=card.pk)
            if data is None:
                locked.status = ReportCard.Status.FAILED
                locked.save(update_fields=["status"])
                failed += 1
            else:
                if locked.file:
                    storage, old = locked.file.storage, locked.file.name
                    files.delete_on_commit(lambda s=storage, n=old: s.delete(n))  # type: ignore[misc]
                locked.file.save("x", files.encrypted(data), save=False)
                locked.status = ReportCard.Status.READY
                locked.generated_at = timezone.now()
                locked.save(update_fields=["file", "status", "generated_at"])
                made += 1
            audit.record(
                actor=None,
                action="reportcard.generated"
                if data is not None
                else "reportcard.failed",
                target_type="report_card",
                target_id=card.pk,
                org_id=school_class.org_id,
                subject_id=card.student_id,
                detail={"period": period.pk, "generation": generation},
            )
            _progress(current, "generated" if data is not None else "failed")
    announced = _announce(publication_id, generation)
    return {"status": "done", "made": made, "failed": failed, "announced": announced}


def _announce(publication_id: int, generation: int) -> int:
    """Tell each pupil's current guardians their card is there, once per
    generation; return how many cards were announced."""
    with transaction.atomic():
        publication = (
            Publication.objects.select_for_update()
            .select_related("school_class__org", "period")
            .get(pk=publication_id)
        )
        if publication.generation != generation:
            return 0
        cards = list(
            ReportCard.objects.filter(
                school_class=publication.school_class, period=publication.period
            ).select_related("student")
        )
        if any(c.status == ReportCard.Status.PENDING for c in cards):
            return 0
        if publication.notified_generation >= generation:
            return 0
        op: Literal["published", "updated"] = (
            "updated" if publication.notified_generation else "published"
        )
        publication.notified_generation = generation
        publication.save(update_fields=["notified_generation"])
        ready = [c for c in cards if c.status == ReportCard.Status.READY and c.file]
        family = families([c.student_id for c in ready])
        streams = {
            c.pk: [user_stream(pk) for pk in family[c.student_id][1:]] for c in ready
        }
        # Every stream this transaction writes, locked first in one order.
        hub.lock_streams(
            {s for names in streams.values() for s in names}
            | set(_staff_streams(publication.school_class))
        )
        _progress(publication, "done")
        for card in ready:
            if not streams[card.pk]:
                continue
            hub.send_event(
                streams[card.pk],
                ReportCardAvailable(
                    op=op,
                    report_card_id=card.pk,
                    student_id=card.student_id,
                    student_name=card.student.get_full_name(),
                    org_id=publication.school_class.org_id,
                    class_title=publication.school_class.title,
                    period_title=publication.period.title,
                    actor_id=publication.published_by_id,
                ),
            )
        audit.record(
            actor=None,
            action="reportcards.announced",
            target_type="school_class",
            target_id=publication.school_class_id,
            org_id=publication.school_class.org_id,
            detail={
                "period": publication.period_id,
                "cards": len(ready),
                "op": op,
            },
        )
    return len(ready)
