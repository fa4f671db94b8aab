"""``/api/v1/grades`` over two schools and a family with a child in each:
the Notes page's marks and averages, its class-figure rules, and never
another pupil's mark."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from core.grades import actions
from core.grades.averages import MIN_RESULTS
from core.grades.models import GradesPolicy, Period
from core.roster.models import Enrollment, GuardianLink, User
from tests.api.calls import api, get
from tests.conftest import make_user

NOTES = "/api/v1/grades/notes"


def evaluation(teacher, school_class, marks, publish=True, title="Contrôle"):
    found = actions.create_evaluation(
        teacher=teacher,
        school_class=school_class,
        subject="Mathématiques",
        title=title,
        date=timezone.localdate(),
        coefficient=Decimal(2),
        out_of=Decimal(20),
    )
    actions.save_marks(
        evaluation=found,
        teacher=teacher,
        entries={
            pupil.pk: actions.Entry(mark=mark, comment=comment)
            for pupil, (mark, comment) in marks.items()
        },
    )
    if publish:
        actions.publish(evaluation=found, teacher=teacher)
    return found


@pytest.fixture
def marks(world):
    """A published test in each school (Léa 15 "Bien", Hugo 9 "Revoir";
    Inès 12) and a draft of 4e B where Léa has 3."""
    s = world.school
    today = timezone.localdate()
    g = SimpleNamespace()
    for key, school_class in [("A", s.class_4b), ("B", s.other_class)]:
        setattr(
            g,
            f"period{key}",
            Period.objects.create(
                org=school_class.org,
                session=school_class.session,
                title=f"Trimestre {key}",
                start_date=today - dt.timedelta(days=30),
                end_date=today + dt.timedelta(days=30),
            ),
        )
    g.evalA = evaluation(
        s.teacher, s.class_4b, {s.pupil: ("15", "Bien"), s.pupil2: ("9", "Revoir")}
    )
    g.draft = evaluation(
        s.teacher, s.class_4b, {s.pupil: ("3", "")}, publish=False, title="Brouillon"
    )
    g.evalB = evaluation(s.outsider, s.other_class, {s.other_child: ("12", "")})
    return g


def notes(user, **params) -> dict:
    status, body = get(user, NOTES, **params)
    assert status == 200, body
    return body


def marks_of(body) -> dict[int, float]:
    return {
        e["id"]: e["mark"]["value"]
        for subject in body["subjects"]
        for e in subject["evaluations"]
    }


def test_a_pupil_reads_their_published_marks_and_averages(world, marks):
    body = notes(world.school.pupil)
    assert body["period_id"] == marks.periodA.pk
    assert marks_of(body) == {marks.evalA.pk: 15.0}
    (subject,) = body["subjects"]
    assert subject["subject"] == "Mathématiques"
    assert subject["average"] == 15.0 and body["overall"] == 15.0
    (item,) = subject["evaluations"]
    assert item["mark"] == {"value": 15.0, "status": "", "comment": "Bien"}
    assert item["coefficient"] == 2.0 and item["out_of"] == 20.0
    assert body["not_submitted_counts_zero"] is True


def test_each_family_reads_its_own_children_only(world, marks):
    s = world.school
    assert marks_of(notes(s.parent, pupil_id=s.pupil.pk)) == {marks.evalA.pk: 15.0}
    body = notes(s.parent, pupil_id=s.other_child.pk)
    assert marks_of(body) == {marks.evalB.pk: 12.0}
    assert body["period_id"] == marks.periodB.pk
    assert marks_of(notes(s.other_parent, pupil_id=s.pupil2.pk)) == {
        marks.evalA.pk: 9.0
    }
    assert marks_of(notes(s.other_child)) == {marks.evalB.pk: 12.0}


@pytest.mark.parametrize(
    "who, pupil",
    [
        ("other_parent", "pupil"),
        ("pupil", "pupil2"),
        ("pupil", "other_child"),
        ("parent", "pupil2"),
        ("teacher", "pupil"),
        ("cpe", "pupil"),
    ],
)
def test_another_pupils_marks_are_404(world, marks, who, pupil):
    s = world.school
    status, body = get(getattr(s, who), NOTES, pupil_id=getattr(s, pupil).pk)
    assert status == 404 and body["error"] == "not_found"


def test_a_classmates_mark_never_shows(world, marks):
    response = api(world.school.pupil).get(NOTES)
    assert b"Revoir" not in response.content
    assert b"Brouillon" not in response.content
    (subject,) = response.json()["subjects"]
    # Two results: the class's figures would give Hugo's mark away.
    assert subject["class_average"] is None
    assert subject["evaluations"][0]["class_minimum"] is None


def _three_more_pupils(world, marks):
    s = world.school
    entries = {}
    for n, mark in enumerate(["10", "11", "20"]):
        pupil = make_user(f"eleve{n}", User.Role.STUDENT, "Élève", str(n))
        Enrollment.objects.create(user=pupil, school_class=s.class_4b, role="student")
        entries[pupil.pk] = actions.Entry(mark=mark)
    actions.save_marks(evaluation=marks.evalA, teacher=s.teacher, entries=entries)


def test_class_figures_from_five_results_as_the_school_shows_them(world, marks):
    _three_more_pupils(world, marks)
    assert MIN_RESULTS == 5  # the five results of 4e B now
    (subject,) = notes(world.school.pupil)["subjects"]
    item = subject["evaluations"][0]
    assert (item["class_average"], item["class_minimum"], item["class_maximum"]) == (
        13.0,
        9.0,
        20.0,
    )
    assert subject["class_average"] == 13.0
    GradesPolicy.objects.create(org=world.school.org, show_min_max=False)
    item = notes(world.school.pupil)["subjects"][0]["evaluations"][0]
    assert item["class_average"] == 13.0 and item["class_maximum"] is None
    GradesPolicy.objects.filter(org=world.school.org).update(show_class_average=False)
    (subject,) = notes(world.school.pupil)["subjects"]
    assert subject["class_average"] is None
    assert subject["evaluations"][0]["class_average"] is None


def test_another_schools_period_is_404(world, marks):
    s = world.school
    assert get(s.pupil, NOTES, period_id=marks.periodB.pk)[0] == 404
    body = notes(s.parent, pupil_id=s.other_child.pk, period_id=marks.periodB.pk)
    assert marks_of(body) == {marks.evalB.pk: 12.0}


def test_an_ended_link_or_enrollment_ends_the_marks_at_once(world, marks):
    s = world.school
    GuardianLink.objects.filter(guardian=s.parent, student=s.other_child).delete()
    assert get(s.parent, NOTES, pupil_id=s.other_child.pk)[0] == 404
    Enrollment.objects.filter(user=s.pupil, school_class=s.class_4b).delete()
    body = notes(s.pupil)
    assert body["subjects"] == [] and body["periods"] == []
