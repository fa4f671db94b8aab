"""``/api/v1/schoollife`` over two schools and a family with a child in
each: the notices addressed to the user, acknowledging with an answer."""

from types import SimpleNamespace

import pytest

from core.roster.models import GuardianLink
from core.schoollife.actions import publish_notice
from core.schoollife.models import Acknowledgement
from tests.api.calls import audited, get, post

NOTICES = "/api/v1/schoollife/notices"


@pytest.fixture
def notices(world):
    """Each school's outing, for its class's guardians, asking yes or no."""
    s = world.school
    found = SimpleNamespace()
    for key, author, school_class in [
        ("A", s.cpe, s.class_4b),
        ("B", world.berthe, s.other_class),
    ]:
        notice = publish_notice(
            author=author,
            org=school_class.org,
            title=f"Sortie {key}",
            body="Rendez-vous **devant** le collège.",
            audience={"roles": ["guardian"], "classes": [school_class.pk]},
            requires_ack=True,
            reply_kind="yes_no",
        )
        setattr(found, key, notice)
    return found


def listed(user) -> list[int]:
    status, body = get(user, NOTICES)
    assert status == 200
    return [n["id"] for n in body["notices"]]


def ack(user, notice, reply="", scopes=("read", "write")):
    return post(
        user, f"{NOTICES}/{notice.pk}/acknowledgement", {"reply": reply}, scopes
    )


def test_each_person_reads_the_notices_addressed_to_them(world, notices):
    s = world.school
    assert set(listed(s.parent)) == {notices.A.pk, notices.B.pk}
    assert listed(s.other_parent) == [notices.A.pk]
    for user in (s.pupil, s.teacher, s.outsider, s.pupil3):
        assert listed(user) == []
    _status, body = get(s.other_parent, NOTICES)
    (notice,) = body["notices"]
    assert "<strong>devant</strong>" in notice["html"]
    assert notice["reply_kind"] == "yes_no" and notice["acknowledgement"] is None


def test_a_guardian_acknowledges_with_an_answer_once(world, notices):
    s = world.school
    status, body = ack(s.parent, notices.A, "yes")
    assert status == 200 and body["reply"] == "yes"
    assert audited("notice.acknowledged") == 1
    status, again = ack(s.parent, notices.A, "no")
    assert status == 200 and again == body
    assert audited("notice.acknowledged") == 1
    _status, mine = get(s.parent, NOTICES)
    by_id = {n["id"]: n for n in mine["notices"]}
    assert by_id[notices.A.pk]["acknowledgement"]["reply"] == "yes"
    assert by_id[notices.B.pk]["acknowledgement"] is None
    _status, sophies = get(s.other_parent, NOTICES)
    assert sophies["notices"][0]["acknowledgement"] is None


@pytest.mark.parametrize("reply", ["", "peut-être"])
def test_an_answer_not_offered_is_refused(world, notices, reply):
    status, body = ack(world.school.parent, notices.B, reply)
    assert status == 409 and body["error"] == "refused"
    assert not Acknowledgement.objects.exists()


def test_a_reply_too_long_is_422(world, notices):
    status, body = ack(world.school.parent, notices.A, "x" * 101)
    assert status == 422
    assert not Acknowledgement.objects.exists()


@pytest.mark.parametrize(
    "who, key", [("other_parent", "B"), ("pupil", "A"), ("teacher", "A"), ("cpe", "B")]
)
def test_nobody_else_acknowledges(world, notices, who, key):
    status, body = ack(getattr(world.school, who), getattr(notices, key), "yes")
    assert status == 404 and body["error"] == "not_found"
    assert not Acknowledgement.objects.exists()


def test_a_read_token_cannot_acknowledge(world, notices):
    status, body = ack(world.school.parent, notices.A, "yes", scopes=["read"])
    assert status == 403 and body["error"] == "insufficient_scope"
    assert not Acknowledgement.objects.exists()


def test_an_ended_link_ends_the_notice_at_once(world, notices):
    s = world.school
    GuardianLink.objects.filter(guardian=s.parent, student=s.other_child).delete()
    assert listed(s.parent) == [notices.A.pk]
    assert ack(s.parent, notices.B, "yes")[0] == 404
