"""``/api/v1/notifications``: the in-app list and marking it read."""

from tests.api.helpers import bearer, token_for

URL = "/api/v1/notifications"


def notifications(user):
    response = bearer(token_for(user)).get(URL)
    assert response.status_code == 200
    return response.json()


def test_a_family_reads_the_notifications_of_both_schools(world):
    s = world.school
    body = notifications(s.parent)
    kinds = [(n["kind"], n["data"].get("student_id")) for n in body["notifications"]]
    assert ("attendance.record", s.pupil.pk) in kinds
    assert ("attendance.record", s.other_child.pk) in kinds
    assert body["unread"] >= 2
    assert all(n["unread"] for n in body["notifications"])
    assert all(n["title"] for n in body["notifications"])


def test_nobody_reads_another_familys_notifications(world):
    s = world.school
    students = {
        n["data"].get("student_id")
        for n in notifications(s.other_parent)["notifications"]
    }
    assert students <= {s.pupil2.pk, None}
    assert s.pupil.pk not in students and s.other_child.pk not in students


def test_marking_read(world):
    s = world.school
    client = bearer(token_for(s.parent))
    response = client.post(f"{URL}/read")
    assert response.status_code == 200 and response.json() == {"unread": 0}
    body = client.get(URL).json()
    assert body["unread"] == 0
    assert not any(n["unread"] for n in body["notifications"])
    assert notifications(s.other_parent)["unread"] > 0  # theirs untouched


def test_limit_is_bounded(world):
    client = bearer(token_for(world.school.parent))
    assert client.get(f"{URL}?limit=1").json()["notifications"].__len__() == 1
    assert client.get(f"{URL}?limit=51").status_code == 422
