"""``/api/v1/timetable`` and ``/api/v1/me`` over two schools and a family."""

import datetime as dt

import pytest
from django.utils import timezone

from core.roster.models import GuardianLink
from core.timetable.actions import change_occurrence
from tests.api.helpers import bearer, token_for


def lessons(user, class_id, start, end):
    url = f"/api/v1/timetable/classes/{class_id}/lessons?start={start}&end={end}"
    return bearer(token_for(user, ["read"])).get(url)


def today():
    return timezone.localdate()


def yesterday():
    # The fixture's lessons began 10 minutes ago: yesterday just after midnight.
    return today() - dt.timedelta(days=1)


@pytest.mark.parametrize(
    "who,readable",
    [
        ("parent", {"A", "B"}),
        ("pupil", {"A"}),
        ("other_parent", {"A"}),
        ("other_child", {"B"}),
        ("teacher", {"A"}),
        ("outsider", {"B"}),
        ("cpe", {"A"}),
        ("pupil3", set()),
    ],
)
def test_each_person_reads_exactly_their_classes_lessons(world, who, readable):
    school = world.school
    user = getattr(school, who)
    for key, school_class in [("A", school.class_4b), ("B", school.other_class)]:
        response = lessons(user, school_class.pk, yesterday(), today())
        if key in readable:
            assert response.status_code == 200, (who, key)
            ids = [lesson["id"] for lesson in response.json()["lessons"]]
            assert ids == [getattr(world, f"occ{key}").pk]
        else:
            assert response.status_code == 404, (who, key)
            assert response.json()["error"] == "not_found"


def test_a_lesson_carries_its_changes(world):
    occurrence = world.occA
    moved = occurrence.start + dt.timedelta(hours=2)
    change_occurrence(
        occurrence=occurrence, actor=None, reason="Absence", start=moved, room="C3"
    )
    day = timezone.localtime(moved).date()
    response = lessons(world.school.pupil, world.school.class_4b.pk, day, day)
    (lesson,) = response.json()["lessons"]
    assert lesson["room"] == "C3" and lesson["previous_room"] == "B12"
    assert dt.datetime.fromisoformat(lesson["start"]) == moved
    assert dt.datetime.fromisoformat(lesson["previous_start"]) == occurrence.start
    change_occurrence(occurrence=occurrence, actor=None, reason="Grève", cancelled=True)
    (lesson,) = lessons(world.school.pupil, world.school.class_4b.pk, day, day).json()[
        "lessons"
    ]
    assert lesson["status"] == "cancelled"


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-01-10&end=2026-01-09",
        "start=2026-01-01&end=2026-03-05",
        "start=2026-13-01&end=2026-01-09",
        "start=2026-01-01",
    ],
)
def test_a_bad_range_is_422(world, query):
    url = f"/api/v1/timetable/classes/{world.school.class_4b.pk}/lessons?{query}"
    response = bearer(token_for(world.school.pupil)).get(url)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_me_lists_the_children_and_their_classes(world):
    body = bearer(token_for(world.school.parent)).get("/api/v1/me").json()
    assert body["role"] == "guardian"
    assert {c["title"] for c in body["classes"]} == {"4e B", "5e C"}
    children = {
        c["first_name"]: [k["title"] for k in c["classes"]] for c in body["children"]
    }
    assert children == {"Léa": ["4e B"], "Inès": ["5e C"]}


def test_an_ended_guardian_link_ends_the_apis_view_at_once(world):
    school = world.school
    secret = token_for(school.parent, ["read"])
    GuardianLink.objects.get(
        guardian=school.parent, student=school.other_child
    ).delete()
    client = bearer(secret)
    url = f"/api/v1/timetable/classes/{school.other_class.pk}/lessons?start={yesterday()}&end={today()}"
    assert client.get(url).status_code == 404
    body = client.get("/api/v1/me").json()
    assert [c["first_name"] for c in body["children"]] == ["Léa"]


@pytest.mark.parametrize(
    "who,expected",
    [("teacher", ["A"]), ("outsider", ["B"]), ("parent", []), ("cpe", [])],
)
def test_a_teacher_reads_the_lessons_they_teach(world, who, expected):
    response = bearer(token_for(getattr(world.school, who))).get(
        f"/api/v1/timetable/taught?start={yesterday()}&end={today()}"
    )
    assert response.status_code == 200
    lessons = response.json()["lessons"]
    assert [lesson["id"] for lesson in lessons] == [
        getattr(world, f"occ{key}").pk for key in expected
    ]
    if expected:
        assert lessons[0]["class_title"] in ("4e B", "5e C")
