"""``/api/v1/attendance`` over two schools and a family with a child in each."""

import pytest
from django.test import Client

from core.attendance.models import Excuse
from core.audit.models import AuditEntry
from core.roster.models import GuardianLink
from tests.api.helpers import bearer, token_for
from tests.conftest import login_verified

RECORDS = "/api/v1/attendance/records"


def api(user, scopes=("read", "write")):
    return bearer(token_for(user, scopes))


def excuse_url(record) -> str:
    return f"{RECORDS}/{record.pk}/excuses"


def record_ids(user) -> set[int]:
    response = api(user).get(RECORDS)
    assert response.status_code == 200
    return {row["id"] for row in response.json()["records"]}


def test_each_person_sees_exactly_their_records(world):
    s = world.school
    a, b, hugo = world.recA.pk, world.recB.pk, world.recHugo.pk
    assert record_ids(s.parent) == {a, b}
    assert record_ids(s.pupil) == {a}
    assert record_ids(s.other_child) == {b}
    assert record_ids(s.other_parent) == {hugo}
    assert record_ids(s.teacher) == {a, hugo}
    assert record_ids(s.outsider) == {b}
    assert record_ids(s.cpe) == {a, hugo}
    assert record_ids(world.berthe) == {b}
    assert record_ids(s.pupil3) == set()


def test_a_staff_read_is_audited_in_its_school(world):
    record_ids(world.school.cpe)
    entry = AuditEntry.objects.get(action="attendance.viewed")
    assert entry.actor_id == world.school.cpe.pk
    assert entry.org_id == world.school.org.pk
    record_ids(world.school.parent)  # a family reading its own: no trace
    assert AuditEntry.objects.filter(action="attendance.viewed").count() == 1


def test_a_guardian_excuses_a_childs_absence_in_either_school(world):
    for record in (world.recA, world.recB):
        response = api(world.school.parent).post(
            excuse_url(record),
            {"reason": "illness", "comment": "Fièvre"},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["status"] == "pending" and body["record_id"] == record.pk
    assert AuditEntry.objects.filter(action="excuse.submitted").count() == 2
    again = api(world.school.parent).post(
        excuse_url(world.recA), {"reason": "other"}, content_type="application/json"
    )
    assert again.status_code == 409
    assert again.json()["error"] == "refused"


@pytest.mark.parametrize("who", ["other_parent", "pupil", "teacher", "cpe"])
def test_nobody_else_may_excuse(world, who):
    response = api(getattr(world.school, who)).post(
        excuse_url(world.recA), {"reason": "illness"}, content_type="application/json"
    )
    assert response.status_code == 404
    assert not Excuse.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [{"reason": "holiday"}, {}, {"reason": "illness", "comment": "x" * 1001}],
)
def test_a_bad_excuse_is_422_and_stores_nothing(world, payload):
    response = api(world.school.parent).post(
        excuse_url(world.recA), payload, content_type="application/json"
    )
    assert response.status_code == 422
    assert not Excuse.objects.exists()


def test_a_read_token_cannot_excuse(world):
    response = api(world.school.parent, ["read"]).post(
        excuse_url(world.recA), {"reason": "illness"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert not Excuse.objects.exists()


def test_each_cpe_decides_the_excuses_of_their_school_only(world):
    parent = api(world.school.parent)
    ids = {}
    for key, record in [("A", world.recA), ("B", world.recB)]:
        ids[key] = parent.post(
            excuse_url(record), {"reason": "medical"}, content_type="application/json"
        ).json()["id"]
    queue = api(world.school.cpe).get("/api/v1/attendance/excuses/pending").json()
    assert [e["excuse"]["id"] for e in queue["excuses"]] == [ids["A"]]
    queue = api(world.berthe).get("/api/v1/attendance/excuses/pending").json()
    assert [e["excuse"]["id"] for e in queue["excuses"]] == [ids["B"]]

    def decide(user, key):
        return api(user).post(
            f"/api/v1/attendance/excuses/{ids[key]}/decision",
            {"accept": True, "note": "Vu"},
            content_type="application/json",
        )

    assert decide(world.school.cpe, "B").status_code == 404
    assert decide(world.school.parent, "A").status_code == 404
    response = decide(world.school.cpe, "A")
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    assert decide(world.school.cpe, "A").status_code == 404  # no longer pending
    assert decide(world.berthe, "B").json()["status"] == "accepted"
    statuses = {
        row["id"]: row["excuses"][0]["status"]
        for row in parent.get(RECORDS).json()["records"]
    }
    assert statuses == {world.recA.pk: "accepted", world.recB.pk: "accepted"}


def test_an_ended_guardian_link_ends_the_records_and_the_excuses(world):
    s = world.school
    client = api(s.parent)
    GuardianLink.objects.get(guardian=s.parent, student=s.other_child).delete()
    assert {row["id"] for row in client.get(RECORDS).json()["records"]} == {
        world.recA.pk
    }
    response = client.post(
        excuse_url(world.recB), {"reason": "illness"}, content_type="application/json"
    )
    assert response.status_code == 404


def test_the_sites_session_needs_the_csrf_token_to_write(world):
    client = login_verified(Client(enforce_csrf_checks=True), world.school.parent)
    response = client.post(
        excuse_url(world.recA), {"reason": "illness"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    assert not Excuse.objects.exists()
    client.get("/settings/api/")  # a page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        excuse_url(world.recA),
        {"reason": "illness"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201
