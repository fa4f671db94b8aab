"""Who may read a class's week and one of its lessons: missing == forbidden."""

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from core.timetable.access import get_occurrence_for_user, week_for_user
from core.timetable.actions import change_occurrence, import_feed
from core.timetable.models import Occurrence
from tests.conftest import make_user
from tests.timetable.conftest import calendar, event

UTC = dt.UTC
MONDAY = dt.date(2025, 10, 6)


@pytest.fixture
def lessons(school):
    """4e B: Sunday 23:30 before the week, Monday 00:00, Friday, next Monday."""
    data = calendar(
        event("sun", ";TZID=Europe/Paris:20251005T233000", SUMMARY="Avant"),
        event("mon", ";TZID=Europe/Paris:20251006T000000", SUMMARY="Lundi minuit"),
        event("fri", ";TZID=Europe/Paris:20251010T150000", SUMMARY="Vendredi"),
        event("next", ";TZID=Europe/Paris:20251013T000000", SUMMARY="Après"),
    )
    import_feed(school_class=school.class_4b, data=data, name="4b.ics")
    return {o.lesson.uid: o for o in Occurrence.objects.select_related("lesson")}


@pytest.mark.parametrize("persona", ["teacher", "pupil", "pupil2", "parent", "cpe"])
def test_class_members_guardians_and_cpe_read_the_week(school, lessons, persona):
    week = week_for_user(getattr(school, persona), school.class_4b.pk, MONDAY)
    assert [o.subject for o in week] == ["Lundi minuit", "Vendredi"]


def test_week_includes_cancelled_lessons(school, lessons):
    change_occurrence(
        occurrence=lessons["fri"], actor=school.cpe, reason="", cancelled=True
    )
    week = week_for_user(school.pupil, school.class_4b.pk, MONDAY)
    assert [o.status for o in week] == ["scheduled", "cancelled"]


def test_any_day_of_the_week_means_that_week(school, lessons):
    week = week_for_user(school.pupil, school.class_4b.pk, dt.date(2025, 10, 9))
    assert [o.subject for o in week] == ["Lundi minuit", "Vendredi"]


@pytest.mark.parametrize("persona", ["pupil3", "outsider"])
def test_others_get_not_found_for_the_class(school, lessons, persona):
    with pytest.raises(Http404):
        week_for_user(getattr(school, persona), school.class_4b.pk, MONDAY)


def test_parent_reads_only_the_classes_of_their_children(school, lessons):
    assert week_for_user(school.other_parent, school.class_4b.pk, MONDAY)  # Hugo's
    with pytest.raises(Http404):
        week_for_user(school.other_parent, school.class_3a.pk, MONDAY)


def test_missing_and_forbidden_class_raise_the_same_error(school, lessons):
    with pytest.raises(Http404) as missing:
        week_for_user(school.outsider, 999_999, MONDAY)
    with pytest.raises(Http404) as forbidden:
        week_for_user(school.outsider, school.class_4b.pk, MONDAY)
    assert str(missing.value) == str(forbidden.value)


def test_anonymous_user_reads_nothing(school, lessons):
    with pytest.raises(Http404):
        week_for_user(AnonymousUser(), school.class_4b.pk, MONDAY)
    with pytest.raises(Http404):
        get_occurrence_for_user(AnonymousUser(), lessons["fri"].pk)


@pytest.mark.parametrize("persona", ["teacher", "pupil", "parent", "cpe"])
def test_readers_of_the_class_get_one_lesson(school, lessons, persona):
    occurrence = get_occurrence_for_user(getattr(school, persona), lessons["fri"].pk)
    assert occurrence.subject == "Vendredi"


@pytest.mark.parametrize("persona", ["pupil3", "outsider"])
def test_others_get_not_found_for_one_lesson(school, lessons, persona):
    with pytest.raises(Http404):
        get_occurrence_for_user(getattr(school, persona), lessons["fri"].pk)


def test_missing_and_forbidden_lesson_raise_the_same_error(school, lessons):
    with pytest.raises(Http404) as missing:
        get_occurrence_for_user(school.pupil3, 999_999)
    with pytest.raises(Http404) as forbidden:
        get_occurrence_for_user(school.pupil3, lessons["fri"].pk)
    assert str(missing.value) == str(forbidden.value)


def test_substitute_teacher_reads_the_lesson_they_take(school, lessons):
    substitute = make_user("bruno", "teacher", "Bruno", "Roux", timetable_code="BR")
    substitute.orgs.add(school.org)
    with pytest.raises(Http404):
        get_occurrence_for_user(substitute, lessons["fri"].pk)
    change_occurrence(
        occurrence=lessons["fri"],
        actor=school.cpe,
        reason="remplacement",
        teacher_names="BR",
    )
    assert (
        get_occurrence_for_user(substitute, lessons["fri"].pk).pk == lessons["fri"].pk
    )
