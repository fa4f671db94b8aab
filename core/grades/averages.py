"""Averages, as a French school computes them (one definition, used by the
pages, the report cards, the CSV export and the events).

- An evaluation's mark is brought to /20: ``value / out_of * 20``.
- A pupil's average in a subject for a period is the mean of those /20
  marks weighted by each evaluation's coefficient, over the published
  evaluations of that subject and period that gave the pupil a result.
  "abs" (absent) and "disp" (exempt) are left out; "n.r." (not handed in)
  counts as 0 where the school's policy says so (the default), else is left
  out too. An evaluation of skills only (no ``out_of``) has no mark.
- The overall average is the plain mean of the pupil's subject averages
  (every subject weighs the same on a collège report card).
- A class's average, lowest and highest in a subject are taken over its
  pupils' subject averages; for one evaluation, over its /20 marks.
- Families see a class's figures only by the school's policy and only over
  at least :data:`MIN_RESULTS` results (:func:`for_families`); teachers and
  staff, who read every mark anyway, see them whatever the count.
- Every function here returns exact values (``Decimal`` quotients, never
  rounded): an overall or class average is computed from exact subject
  averages. Figures are rounded half up to 2 decimals once, for display
  (:func:`rounded`, the templates' ``floatformat:2``, which rounds half up
  too, and the PDF).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import overload

from core.grades.models import Evaluation, GradesPolicy, Mark, Period

TWENTY = Decimal(20)
CENT = Decimal("0.01")
# The fewest results over which families see a class's average, lowest and
# highest. With the average, the lowest, the highest and one's own mark,
# four results give the fourth away (4 × average − own − lowest − highest),
# and fewer give more: from five on, at least two results stay unknown.
MIN_RESULTS = 5


@overload
def rounded(value: Decimal) -> Decimal: ...
@overload
def rounded(value: None) -> None: ...
def rounded(value: Decimal | None) -> Decimal | None:
    """Round half up to 2 decimals (``None`` stays ``None``)."""
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def policy(org_id: int) -> GradesPolicy:
    """The school's policy, or the defaults (unsaved) when it set none."""
    found = GradesPolicy.objects.filter(org_id=org_id).first()
    return found or GradesPolicy(org_id=org_id)


def on_twenty(
    value: Decimal | None, status: str, out_of: Decimal | None, zero_not_submitted: bool
) -> Decimal | None:
    """A result brought to /20, or ``None`` when it does not count."""
    if out_of is None:
        return None
    if status == Mark.Status.NOT_SUBMITTED:
        return Decimal(0) if zero_not_submitted else None
    if status or value is None:
        return None
    return value * TWENTY / out_of


@dataclass(frozen=True)
class Stats:
    """Average, lowest and highest of some results, and how many there were."""

    average: Decimal | None
    minimum: Decimal | None
    maximum: Decimal | None
    count: int


NO_STATS = Stats(None, None, None, 0)


def stats(values: Iterable[Decimal | None]) -> Stats:
    """:class:`Stats` of the values that are not ``None`` (exact)."""
    present = [value for value in values if value is not None]
    if not present:
        return NO_STATS
    total = sum(present, Decimal(0))
    return Stats(total / len(present), min(present), max(present), len(present))


def for_families(found: Stats | None, policy: GradesPolicy) -> Stats:
    """What a pupil and their guardians may see of a class's ``found``
    figures: none over fewer than :data:`MIN_RESULTS` results (they would
    reveal a classmate's mark), the average only when the school shows it,
    the lowest and highest only when it shows them. The one rule of the
    Notes page, the ``grades.mark`` events and the report card."""
    if found is None or found.count < MIN_RESULTS:
        return NO_STATS
    return Stats(
        found.average if policy.show_class_average else None,
        found.minimum if policy.show_min_max else None,
        found.maximum if policy.show_min_max else None,
        found.count,
    )


def evaluation_stats(evaluation: Evaluation) -> Stats:
    """Class average, lowest and highest mark of one evaluation, in its own
    scale (out of ``out_of``): what the teacher and (by policy) families see."""
    if not evaluation.graded:
        return NO_STATS
    zero = policy(evaluation.school_class.org_id).not_submitted_counts_zero
    values = [
        on_twenty(value, status, evaluation.out_of, zero)
        for value, status in evaluation.marks.values_list("value", "status")
    ]
    assert evaluation.out_of is not None  # graded
    scale = evaluation.out_of / TWENTY
    return stats(None if v is None else v * scale for v in values)


def subject_averages(
    student_ids: Iterable[int], period: Period
) -> dict[int, dict[str, Decimal | None]]:
    """``{pupil: {subject: average /20}}`` over the period's published marks.

    One query whatever the number of pupils. A subject where a pupil has
    only left-out results (abs, disp) maps to ``None``: it is on the report
    card, without an average.
    """
    student_ids = list(student_ids)
    zero = policy(period.org_id).not_submitted_counts_zero
    rows = Mark.objects.filter(
        student_id__in=student_ids,
        evaluation__period=period,
        evaluation__published_at__isnull=False,
        evaluation__deleted_at__isnull=True,
        evaluation__out_of__isnull=False,
    ).values_list(
        "student_id",
        "evaluation__subject",
        "evaluation__coefficient",
        "evaluation__out_of",
        "value",
        "status",
    )
    sums: dict[int, dict[str, list[Decimal]]] = {pk: {} for pk in student_ids}
    for student_id, subject, coefficient, out_of, value, status in rows:
        total = sums[student_id].setdefault(subject, [Decimal(0), Decimal(0)])
        mark = on_twenty(value, status, out_of, zero)
        if mark is not None:
            total[0] += mark * coefficient
            total[1] += coefficient
    return {
        pk: {
            subject: weighted / weights if weights else None
            for subject, (weighted, weights) in sorted(subjects.items())
        }
        for pk, subjects in sums.items()
    }


def overall(averages: dict[str, Decimal | None]) -> Decimal | None:
    """The plain mean of the subject averages that exist (exact)."""
    return stats(averages.values()).average


def class_subject_stats(
    averages: dict[int, dict[str, Decimal | None]],
) -> dict[str, Stats]:
    """``{subject: Stats}`` over the pupils' subject averages (from
    :func:`subject_averages` for the pupils of one class)."""
    per_subject: dict[str, list[Decimal | None]] = defaultdict(list)
    for subjects in averages.values():
        for subject, value in subjects.items():
            per_subject[subject].append(value)
    return {subject: stats(values) for subject, values in sorted(per_subject.items())}


def evaluations_stats(evaluations: Iterable[Evaluation]) -> dict[int, Stats]:
    """:func:`evaluation_stats` of several evaluations of one school, in one
    query for the marks (and one for the policy): ``{evaluation id: Stats}``."""
    evaluations = [e for e in evaluations if e.graded]
    if not evaluations:
        return {}
    zero = policy(evaluations[0].school_class.org_id).not_submitted_counts_zero
    by_id = {e.pk: e for e in evaluations}
    values: dict[int, list[Decimal | None]] = {pk: [] for pk in by_id}
    for evaluation_id, value, status in Mark.objects.filter(
        evaluation_id__in=list(by_id)
    ).values_list("evaluation_id", "value", "status"):
        out_of = by_id[evaluation_id].out_of
        mark = on_twenty(value, status, out_of, zero)
        # (a mark only when out_of is set: on_twenty)
        values[evaluation_id].append(None if mark is None else mark * out_of / TWENTY)  # type: ignore[operator]
    return {pk: stats(found) for pk, found in values.items()}
