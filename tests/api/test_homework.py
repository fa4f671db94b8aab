"""``/api/v1/homework`` over two schools and a family with a child in each."""

import datetime as dt

import pytest
from django.utils import timezone

from core.homework.actions import set_homework
from core.homework.models import DoneMark
from core.roster.models import Enrollment, GuardianLink
from tests.api.calls import audited, get, post

ITEMS = "/api/v1/homework/items"


@pytest.fixture
def hw(world):
    s = world.school
    due = timezone.localdate() + dt.timedelta(days=3)
    return {
        key: set_homework(
            teacher=teacher,
            school_class=school_class,
            subject="Mathématiques",
            title=f"Exercices {key}",
            due_date=due,
        )
        for key, teacher, school_class in [
            ("A", s.teacher, s.class_4b),
            ("B", s.outsider, s.other_class),
        ]
    }


def ids(user, **params) -> list[int]:
    status, body = get(user, ITEMS, **params)
    assert status == 200, body
    return [item["id"] for item in body["items"]]


def done_url(homework) -> str:
    return f"{ITEMS}/{homework.pk}/done"


def test_each_pupil_and_guardian_reads_their_childs_notebook(world, hw):
    s = world.school
    a, b = hw["A"].pk, hw["B"].pk
    assert ids(s.pupil) == [a]
    assert ids(s.other_child) == [b]
    assert ids(s.parent, pupil_id=s.pupil.pk) == [a]
    assert ids(s.parent, pupil_id=s.other_child.pk) == [b]
    assert ids(s.other_parent, pupil_id=s.pupil2.pk) == [a]
    assert ids(s.pupil3) == []


@pytest.mark.parametrize(
    "who, pupil",
    [("other_parent", "pupil"), ("pupil", "other_child"), ("parent", "pupil2")],
)
def test_another_familys_notebook_is_404(world, hw, who, pupil):
    s = world.school
    status, body = get(getattr(s, who), ITEMS, pupil_id=getattr(s, pupil).pk)
    assert status == 404 and body["error"] == "not_found"


@pytest.mark.parametrize("who", ["teacher", "cpe"])
def test_staff_have_no_pupil_notebook(world, hw, who):
    assert get(getattr(world.school, who), ITEMS)[0] == 404


def test_the_range_is_checked(world, hw):
    s = world.school
    today = timezone.localdate()
    assert ids(s.pupil, start=today + dt.timedelta(days=4)) == []
    for params in [
        {"start": today, "end": today - dt.timedelta(days=1)},
        {"start": today, "end": today + dt.timedelta(days=200)},
        {"start": "demain"},
    ]:
        status, body = get(s.pupil, ITEMS, **params)
        assert status == 422 and body["error"] == "invalid_request"


def test_the_pupil_ticks_done_and_only_their_family_sees_it(world, hw):
    s = world.school
    status, body = post(s.pupil, done_url(hw["A"]), {"done": True})
    assert status == 200 and body == {"id": hw["A"].pk, "done": True}
    assert audited("homework.done") == 1
    _status, mine = get(s.parent, ITEMS, pupil_id=s.pupil.pk)
    assert mine["items"][0]["done"] is True
    _status, hugos = get(s.pupil2, ITEMS)
    assert hugos["items"][0]["done"] is False
    assert post(s.pupil, done_url(hw["A"]), {"done": False}) == (
        200,
        {"id": hw["A"].pk, "done": False},
    )
    assert not DoneMark.objects.exists()


@pytest.mark.parametrize(
    "who, key", [("parent", "A"), ("pupil", "B"), ("teacher", "A"), ("pupil3", "A")]
)
def test_nobody_else_ticks_done(world, hw, who, key):
    status, _body = post(getattr(world.school, who), done_url(hw[key]), {"done": True})
    assert status == 404
    assert not DoneMark.objects.exists()


@pytest.mark.parametrize("payload", [{}, {"done": "peut-être"}])
def test_a_bad_tick_is_422(world, hw, payload):
    status, _body = post(world.school.pupil, done_url(hw["A"]), payload)
    assert status == 422
    assert not DoneMark.objects.exists()


def test_a_read_token_cannot_tick(world, hw):
    status, body = post(
        world.school.pupil, done_url(hw["A"]), {"done": True}, scopes=["read"]
    )
    assert status == 403 and body["error"] == "insufficient_scope"
    assert not DoneMark.objects.exists()


def class_items(user, school_class):
    return get(user, f"/api/v1/homework/classes/{school_class.pk}/items")


def test_a_classs_homework_for_its_teachers_and_staff_only(world, hw):
    s = world.school
    status, body = class_items(s.teacher, s.class_4b)
    assert status == 200
    assert [(i["id"], i["manages"]) for i in body["items"]] == [(hw["A"].pk, True)]
    status, body = class_items(s.cpe, s.class_4b)
    assert [(i["id"], i["manages"]) for i in body["items"]] == [(hw["A"].pk, False)]
    assert [i["id"] for i in class_items(world.berthe, s.other_class)[1]["items"]] == [
        hw["B"].pk
    ]
    for user, school_class in [
        (s.outsider, s.class_4b),
        (s.cpe, s.other_class),
        (s.pupil, s.class_4b),
        (s.parent, s.class_4b),
    ]:
        assert class_items(user, school_class)[0] == 404


def test_an_ended_link_or_enrollment_ends_the_notebook_at_once(world, hw):
    s = world.school
    GuardianLink.objects.filter(guardian=s.parent, student=s.other_child).delete()
    assert get(s.parent, ITEMS, pupil_id=s.other_child.pk)[0] == 404
    assert ids(s.parent, pupil_id=s.pupil.pk) == [hw["A"].pk]
    Enrollment.objects.filter(user=s.pupil, school_class=s.class_4b).delete()
    assert ids(s.pupil) == []
    assert post(s.pupil, done_url(hw["A"]), {"done": True})[0] == 404
    Enrollment.objects.filter(user=s.teacher, school_class=s.class_4b).delete()
    assert class_items(s.teacher, s.class_4b)[0] == 404
