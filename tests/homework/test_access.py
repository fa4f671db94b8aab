"""Who reads and writes the notebook: the roster decides (pupils of the
class, their guardians, its teachers, school-life staff); a pupil of another
class, a guardian whose link ended, a teacher of another class or subject
get nothing."""

import datetime as dt

import pytest
from django.http import Http404

from core.homework import access, actions
from core.roster.models import Enrollment, GuardianLink, User
from core.timetable.models import Occurrence
from tests.conftest import make_occurrence, make_user
from tests.homework.conftest import MONDAY, at, pdf, set_maths

pytestmark = pytest.mark.django_db
WEEK = (MONDAY, MONDAY + dt.timedelta(days=14))


def test_due_between_holds_the_pupils_published_homework_with_their_state(week):
    done = set_maths(week, title="A")
    handed = set_maths(week, title="B", handin_required=True)
    set_maths(week, title="Plus tard", publish_at=at(3, 8))  # planned
    removed = set_maths(week, title="Retiré")
    actions.remove_homework(homework=removed, teacher=week.teacher)
    actions.set_done(homework=done, student=week.pupil, done=True)
    actions.hand_in(homework=handed, student=week.pupil, upload=pdf())
    items = {i.homework.title: i for i in access.due_between(week.pupil, *WEEK)}
    assert set(items) == {"A", "B"}
    assert items["A"].done and items["A"].handin is None
    assert not items["B"].done and items["B"].handin is not None
    # Hugo (same class) has his own state; Chloé (3e A) sees none of it.
    hugo = {i.homework.title: i for i in access.due_between(week.pupil2, *WEEK)}
    assert not hugo["A"].done and hugo["B"].handin is None
    assert access.due_between(week.pupil3, *WEEK) == []


def test_due_between_costs_the_same_for_two_items_or_twenty(
    week, django_assert_max_num_queries
):
    for n in range(2):
        set_maths(week, title=f"{n}")
    with django_assert_max_num_queries(6) as few:
        access.due_between(week.pupil, *WEEK)
    for n in range(18):
        hw = set_maths(week, title=f"x{n}", attachments=[pdf()])
        actions.set_done(homework=hw, student=week.pupil, done=True)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(access.due_between(week.pupil, *WEEK)) == 20


def test_a_pupil_who_left_the_class_loses_its_homework(week):
    set_maths(week)
    Enrollment.objects.filter(user=week.pupil, school_class=week.class_4b).delete()
    assert access.due_between(week.pupil, *WEEK) == []


def test_a_guardian_reads_only_their_current_children(week):
    assert access.get_pupil(week.parent, week.pupil.pk) == week.pupil
    with pytest.raises(Http404):
        access.get_pupil(week.parent, week.pupil2.pk)
    GuardianLink.objects.filter(guardian=week.parent, student=week.pupil).delete()
    with pytest.raises(Http404):
        access.get_pupil(week.parent, week.pupil.pk)


def test_who_may_manage_a_homework(week):
    homework = set_maths(week)
    assert access.may_manage(week.teacher, homework)
    assert not access.may_manage(week.bruno, homework)  # another subject
    assert not access.may_manage(week.outsider, homework)  # another class
    assert not access.may_manage(week.pupil, homework)
    for user in (week.bruno, week.outsider, week.cpe):
        with pytest.raises(Http404):
            access.get_homework_to_manage(user, homework.pk)


def test_a_teacher_enrolled_where_the_timetable_names_nobody_may_write(week):
    # 3e A's maths lesson names no teacher: a teacher enrolled there may.
    Enrollment.objects.create(
        user=week.bruno, school_class=week.class_3a, role="teacher"
    )
    assert access.teaches_subject(week.bruno, week.class_3a, "Mathématiques")
    assert not access.teaches_subject(week.teacher, week.class_3a, "Mathématiques")


def test_planned_homework_is_seen_only_by_its_teacher(week):
    planned = set_maths(week, publish_at=at(2, 7))
    assert planned in access.visible(week.teacher)
    for user in (week.bruno, week.cpe, week.parent, week.pupil):
        assert planned not in access.visible(user)


def test_handins_to_review_are_those_not_returned_of_the_teachers_subjects(week):
    homework = set_maths(week, handin_required=True)
    first = actions.hand_in(homework=homework, student=week.pupil, upload=pdf())
    second = actions.hand_in(homework=homework, student=week.pupil2, upload=pdf())
    actions.return_handin(handin=second, teacher=week.teacher, comment="Ok")
    assert list(access.handins_to_review(week.teacher)) == [first]
    assert list(access.handins_to_review(week.bruno)) == []
    assert list(access.handins_to_review(week.outsider)) == []


def test_a_teacher_whose_enrollment_ended_loses_the_homework_and_handins(week):
    """Named on every maths lesson, Alice still loses it all once her teacher
    enrollment in 4e B ends: access follows the roster."""
    homework = set_maths(week, handin_required=True)
    handin = actions.hand_in(homework=homework, student=week.pupil, upload=pdf())
    Enrollment.objects.filter(user=week.teacher, school_class=week.class_4b).delete()
    assert not access.may_manage(week.teacher, homework)
    assert not access.teaches_subject(week.teacher, week.class_4b, "Mathématiques")
    assert list(access.writable_classes(week.teacher)) == []
    assert list(access.handins_to_review(week.teacher)) == []
    with pytest.raises(Http404):
        access.get_homework_to_manage(week.teacher, homework.pk)
    with pytest.raises(Http404):
        access.get_handin_for_teacher(week.teacher, handin.pk)
    # Like its roll call, a lesson naming her still lets her write its content.
    assert access.get_occurrence_to_write(week.teacher, week.maths[3].pk)


def test_a_substitute_writes_only_the_content_of_the_lesson_they_took(week):
    """Sam, named on one maths lesson of 4e B and not enrolled there, may
    write that lesson's content and nothing else of the notebook."""
    sam = make_user("sam", User.Role.TEACHER, "Sam", "Remplaçant")
    sam.orgs.add(week.org)
    taken = make_occurrence(week.class_4b, at(0, 14), teachers=[sam])
    homework = set_maths(week, handin_required=True)
    handin = actions.hand_in(homework=homework, student=week.pupil, upload=pdf())
    assert access.get_occurrence_to_write(sam, taken.pk) == taken
    with pytest.raises(Http404):
        access.get_occurrence_to_write(sam, week.maths[0].pk)
    assert not access.may_manage(sam, homework)
    assert not access.teaches_subject(sam, week.class_4b, "Mathématiques")
    assert list(access.writable_classes(sam)) == []
    assert list(access.handins_to_review(sam)) == []
    with pytest.raises(Http404):
        access.get_handin_for_teacher(sam, handin.pk)
    with pytest.raises(Http404):
        access.get_writable_class(sam, week.class_4b.pk)
    # A cancelled lesson gives nothing.
    taken.status = Occurrence.Status.CANCELLED
    taken.save()
    with pytest.raises(Http404):
        access.get_occurrence_to_write(sam, taken.pk)
