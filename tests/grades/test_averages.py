"""The averages rule (core/grades/averages.py) against hand-computed cases."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.grades import actions, averages
from core.grades.models import GradesPolicy
from tests.grades.conftest import evaluation

pytestmark = pytest.mark.django_db

T2 = dt.date(2026, 1, 12)


def maths(school, marks, **kwargs):
    return evaluation(school.class_4b, school.teacher, marks, publish=True, **kwargs)


@pytest.fixture
def term(periods):
    """Léa's and Hugo's trimester 2 in maths (coefficients, /10, /40, abs,
    disp, n.r.) and French."""
    s = periods
    maths(s, {s.pupil: "15", s.pupil2: "10"}, coefficient="2")
    maths(s, {s.pupil: "6", s.pupil2: "abs"}, out_of="10")  # Léa 12/20
    maths(s, {s.pupil: "30", s.pupil2: "disp"}, out_of="40")  # Léa 15/20
    maths(s, {s.pupil: "abs", s.pupil2: "10"})
    maths(s, {s.pupil: "disp"})
    maths(s, {s.pupil: "nr"})
    maths(s, {s.pupil: "12"}, subject="Français")
    return s


def test_coefficients_scales_and_statuses(term):
    """(15×2 + 12 + 15 + 0 for n.r.) / 5 = 11.40; abs and disp left out."""
    found = averages.subject_averages([term.pupil.pk], term.periods[1])
    assert found[term.pupil.pk] == {"Français": D("12.00"), "Mathématiques": D("11.40")}
    assert averages.overall(found[term.pupil.pk]) == D("11.70")


def test_not_handed_in_left_out_by_policy(term):
    """The school says n.r. does not count: (15×2 + 12 + 15) / 4 = 14.25."""
    GradesPolicy.objects.create(org=term.org, not_submitted_counts_zero=False)
    found = averages.subject_averages([term.pupil.pk], term.periods[1])
    assert found[term.pupil.pk]["Mathématiques"] == D("14.25")
    overall = averages.overall(found[term.pupil.pk])
    assert overall == D("13.125")  # exact inside
    assert averages.rounded(overall) == D("13.13")  # half up for display


def test_class_figures(term):
    """Hugo: (10×2 + 10) / 3 = 10; Léa 11.40: class 10.70, 10, 11.40."""
    found = averages.subject_averages([term.pupil.pk, term.pupil2.pk], term.periods[1])
    assert found[term.pupil2.pk] == {"Mathématiques": D("10.00")}
    stats = averages.class_subject_stats(found)["Mathématiques"]
    assert (stats.average, stats.minimum, stats.maximum, stats.count) == (
        D("10.70"),
        D("10.00"),
        D("11.40"),
        2,
    )


def test_only_left_out_results_give_no_average(periods):
    s = periods
    maths(s, {s.pupil: "abs"})
    found = averages.subject_averages([s.pupil.pk], s.periods[1])
    assert found[s.pupil.pk] == {"Mathématiques": None}
    assert averages.overall(found[s.pupil.pk]) is None


def test_periods_are_separate(term):
    maths(term, {term.pupil: "2"}, date=dt.date(2025, 10, 6))
    first = averages.subject_averages([term.pupil.pk], term.periods[0])
    assert first[term.pupil.pk] == {"Mathématiques": D("2.00")}
    second = averages.subject_averages([term.pupil.pk], term.periods[1])
    assert second[term.pupil.pk]["Mathématiques"] == D("11.40")


def test_drafts_and_removed_evaluations_do_not_count(periods):
    s = periods
    maths(s, {s.pupil: "16"})
    evaluation(s.class_4b, s.teacher, {s.pupil: "0"})  # a draft
    removed = maths(s, {s.pupil: "0"})
    actions.remove_evaluation(evaluation=removed, teacher=s.teacher)
    found = averages.subject_averages([s.pupil.pk], s.periods[1])
    assert found[s.pupil.pk] == {"Mathématiques": D("16.00")}


def test_skills_only_evaluations_have_no_mark(periods):
    from core.grades.models import Skill

    s = periods
    skill = Skill.objects.get(code="D1.1")
    maths(s, {s.pupil: "abs"}, out_of=None, skills=[skill])
    maths(s, {s.pupil: "14"})
    found = averages.subject_averages([s.pupil.pk], s.periods[1])
    assert found[s.pupil.pk] == {"Mathématiques": D("14.00")}


def test_rounding_half_up_at_the_end(periods):
    """(12.5 + 12.51) / 2 = 12.505 → 12.51 (half up, not half even)."""
    s = periods
    maths(s, {s.pupil: "12,5"})
    maths(s, {s.pupil: "12.51"})
    found = averages.subject_averages([s.pupil.pk], s.periods[1])
    assert averages.rounded(found[s.pupil.pk]["Mathématiques"]) == D("12.51")
    assert averages.rounded(D("2.345")) == D("2.35")


def test_rounded_once_for_display(periods):
    """Maths (12 + 12.69) / 2 = 12.345, French 13: the overall is
    (12.345 + 13) / 2 = 12.6725 → 12.67. Rounding the subject first
    (12.35) would give 12.675 → 12.68."""
    s = periods
    maths(s, {s.pupil: "12"})
    maths(s, {s.pupil: "12,69"})
    maths(s, {s.pupil: "13"}, subject="Français")
    found = averages.subject_averages([s.pupil.pk], s.periods[1])[s.pupil.pk]
    assert found["Mathématiques"] == D("12.345")
    assert averages.rounded(averages.overall(found)) == D("12.67")
    # The class's figures too, over the exact subject averages.
    class_stats = averages.class_subject_stats({s.pupil.pk: found, 0: {"x": None}})
    assert class_stats["Mathématiques"].average == D("12.345")


def test_families_see_class_figures_over_five_results_only(periods):
    """Léa 15, Hugo 7: average, lowest and highest would give Hugo's mark
    away. From MIN_RESULTS results on, by the school's policy."""
    policy = averages.policy(periods.org.pk)
    two = averages.stats([D(15), D(7)])
    assert two.average == D(11)  # teachers and staff see it
    assert averages.for_families(two, policy) == averages.NO_STATS
    five = averages.stats([D(15), D(7), D(10), D(12), D(11)])
    assert averages.MIN_RESULTS == 5
    assert averages.for_families(five, policy) == five
    policy.show_min_max = False
    shown = averages.for_families(five, policy)
    assert (shown.average, shown.minimum, shown.maximum) == (D(11), None, None)
    policy.show_class_average = False
    policy.show_min_max = True
    shown = averages.for_families(five, policy)
    assert (shown.average, shown.minimum, shown.maximum) == (None, D(7), D(15))


def test_evaluation_stats_in_its_own_scale(periods):
    s = periods
    made = maths(s, {s.pupil: "6", s.pupil2: "8"}, out_of="10")
    stats = averages.evaluation_stats(made)
    assert (stats.average, stats.minimum, stats.maximum, stats.count) == (
        D("7.00"),
        D("6.00"),
        D("8.00"),
        2,
    )
    assert averages.evaluations_stats([made])[made.pk] == stats
