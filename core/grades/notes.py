"""A pupil's notes as families read them, on the Notes page and in the API.

The caller has checked the reader (``access.get_pupil``); this reads the
periods, the marks, the skill levels and the averages the school's policy
lets families see.
"""

from collections import defaultdict
from typing import Any

from django.utils import timezone

from core.grades import access, actions, averages
from core.grades.models import Evaluation, Period, SkillLevel
from core.roster.models import User


def chosen_period(periods: list[Period], wanted: int | None) -> Period | None:
    """Period ``wanted`` (``?period=``) among ``periods``, else the one of
    today, else the last begun, else the first."""
    for period in periods:
        if period.pk == wanted:
            return period
    today = timezone.localdate()
    current = [p for p in periods if p.start_date <= today <= p.end_date]
    begun = [p for p in periods if p.start_date <= today]
    found = current or begun[-1:] or periods[:1]
    return found[0] if found else None


def pupil_notes(pupil: User, period_id: int | None) -> dict:
    """What the Notes page shows of ``pupil`` (the caller checked the
    reader: ``access.get_pupil``): the periods of the pupil's school years,
    the one shown (``period_id``, else :func:`chosen_period`'s) and, for
    it, :func:`_pupil_notes`."""
    classes = list(access.student_classes(pupil))
    periods = list(
        Period.objects.filter(session__in={c.session_id for c in classes}).order_by(
            "start_date", "org"
        )
    )
    period = chosen_period(periods, period_id)
    found = {"periods": periods, "period": period, "subjects": []}
    if period is not None:
        found.update(_pupil_notes(pupil, period, classes))
    return found


def _pupil_notes(pupil: User, period: Period, classes) -> dict:
    """The pupil's published marks of ``period`` per subject, with the
    averages and (by :func:`averages.for_families`) the class's figures.
    The marks listed are the ones the averages count: the pupil's own in
    the period, whatever class they were given in."""
    policy = averages.policy(period.org_id)
    marks = list(
        access.published_marks(pupil)
        .filter(evaluation__period=period)
        .select_related("evaluation__school_class")
        .order_by("evaluation__subject", "evaluation__date", "evaluation__pk")
    )
    evaluations = [m.evaluation for m in marks]
    stats = {
        pk: averages.for_families(found, policy)
        for pk, found in averages.evaluations_stats(evaluations).items()
    }
    levels = defaultdict(list)
    for level in (
        SkillLevel.objects.filter(
            student=pupil,
            evaluation__period=period,
            evaluation__published_at__isnull=False,
            evaluation__deleted_at__isnull=True,
        )
        .select_related("skill", "evaluation")
        .order_by("skill__code", "evaluation__date")
    ):
        levels[level.evaluation_id].append(level)
    own = averages.subject_averages([pupil.pk], period)[pupil.pk]
    classmates = set(
        User.objects.filter(
            enrollments__school_class__in=classes,
            enrollments__role="student",
        ).values_list("pk", flat=True)
    )
    class_stats = averages.class_subject_stats(
        averages.subject_averages(classmates, period)
    )
    # Evaluations of skills only, without a mark row for the pupil.
    skill_only = [
        e
        for e in Evaluation.objects.filter(pk__in=list(levels))
        .exclude(pk__in=[m.evaluation_id for m in marks])
        .select_related("school_class")
    ]
    subjects: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for mark in marks:
        subjects[mark.evaluation.subject].append(
            {
                "evaluation": mark.evaluation,
                "mark": mark,
                "cell": actions.cell(mark.value, mark.status),
                "stats": stats.get(mark.evaluation_id),
                "levels": levels.get(mark.evaluation_id, []),
            }
        )
    for evaluation in skill_only:
        subjects[evaluation.subject].append(
            {"evaluation": evaluation, "levels": levels[evaluation.pk]}
        )
    rows = [
        {
            "subject": subject,
            "items": sorted(
                items, key=lambda i: (i["evaluation"].date, i["evaluation"].pk)
            ),
            "average": own.get(subject),
            "class": averages.for_families(class_stats.get(subject), policy),
        }
        for subject, items in sorted(subjects.items())
    ]
    return {
        "subjects": rows,
        "overall": averages.overall(own),
        "policy": policy,
    }
