"""``/api/v1/agenda`` over two schools and a family with a child in each:
entries, parent–teacher evenings, booking and cancelling as a guardian."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone

from core.agenda import actions
from core.agenda.models import Booking
from core.roster.audience import Audience
from core.roster.models import GuardianLink
from tests.api.calls import audited, get, post

AGENDA = "/api/v1/agenda"


@pytest.fixture
def agenda(world):
    """A class council of each class for its guardians, next week; an
    evening of 4e B whose booking is open, Alice's slots at it."""
    s = world.school
    now = timezone.now()
    a = SimpleNamespace()
    for key, org, staff, school_class in [
        ("A", s.org, s.cpe, s.class_4b),
        ("B", s.other_org, world.berthe, s.other_class),
    ]:
        entry = actions.create_entry(
            actor=staff,
            org=org,
            kind="class_council",
            title=f"Conseil {key}",
            start=now + dt.timedelta(days=7),
            end=now + dt.timedelta(days=7, hours=1),
            audience=Audience(
                org_id=org.pk,
                roles=frozenset({"guardian"}),
                class_ids=frozenset({school_class.pk}),
            ),
        )
        setattr(a, f"entry{key}", entry)
    a.evening = actions.create_evening(
        actor=s.cpe,
        org=s.org,
        title="Rencontres 4e",
        date=timezone.localdate() + dt.timedelta(days=10),
        class_ids=[s.class_4b.pk],
        booking_opens=now - dt.timedelta(days=1),
        booking_closes=now + dt.timedelta(days=3),
    )
    a.slots = actions.open_slots(
        teacher=s.teacher,
        evening=a.evening,
        start=dt.time(17, 0),
        end=dt.time(17, 30),
        minutes=10,
        room="B12",
    )
    return a


def book(user, slot, child, scopes=("read", "write")):
    return post(
        user, f"{AGENDA}/slots/{slot.pk}/booking", {"child_id": child.pk}, scopes
    )


def cancel(user, booking_id):
    return post(user, f"{AGENDA}/bookings/{booking_id}/cancel")


def entry_ids(user) -> set[int]:
    status, body = get(user, f"{AGENDA}/entries")
    assert status == 200
    return {e["id"] for e in body["entries"]}


def evening_ids(user) -> list[int]:
    return [e["id"] for e in get(user, f"{AGENDA}/evenings")[1]["evenings"]]


def test_each_person_reads_the_entries_for_them(world, agenda):
    s = world.school
    a, b = agenda.entryA.pk, agenda.entryB.pk
    assert entry_ids(s.parent) == {a, b}
    assert entry_ids(s.other_parent) == {a}
    assert entry_ids(s.cpe) == {a}
    assert entry_ids(world.berthe) == {b}
    for user in (s.pupil, s.teacher, s.outsider):
        assert entry_ids(user) == set()


def test_a_guardian_sees_the_evening_and_their_childs_teachers(world, agenda):
    s = world.school
    assert evening_ids(s.parent) == [agenda.evening.pk]
    assert evening_ids(s.teacher) == [agenda.evening.pk]
    assert evening_ids(s.outsider) == [] and evening_ids(s.pupil) == []
    status, body = get(s.parent, f"{AGENDA}/evenings/{agenda.evening.pk}")
    assert status == 200 and body["is_open"] is True
    (child,) = body["children"]
    assert child["child_id"] == s.pupil.pk
    (teacher,) = child["teachers"]
    assert teacher["teacher_id"] == s.teacher.pk and teacher["booking"] is None
    assert [slot["id"] for slot in teacher["free"]] == [x.pk for x in agenda.slots]
    for user in (s.outsider, world.berthe, s.pupil):
        assert get(user, f"{AGENDA}/evenings/{agenda.evening.pk}")[0] == 404


def test_a_guardian_books_and_cancels_through_the_actions(world, agenda):
    s = world.school
    first, second = agenda.slots[:2]
    status, body = book(s.parent, first, s.pupil)
    assert status == 201, body
    assert body["slot_id"] == first.pk and body["student_id"] == s.pupil.pk
    assert audited("agenda.booked") == 1
    status, taken = book(s.other_parent, first, s.pupil2)
    assert status == 409 and taken["error"] == "refused"
    assert book(s.parent, second, s.pupil)[0] == 409  # one slot per teacher
    _status, detail = get(s.parent, f"{AGENDA}/evenings/{agenda.evening.pk}")
    teacher = detail["children"][0]["teachers"][0]
    assert teacher["booking"]["id"] == body["id"]
    assert first.pk not in [slot["id"] for slot in teacher["free"]]
    _status, mine = get(s.parent, f"{AGENDA}/bookings")
    assert [b["id"] for b in mine["bookings"]] == [body["id"]]
    _status, alices = get(s.teacher, f"{AGENDA}/bookings")
    assert [b["id"] for b in alices["bookings"]] == [body["id"]]
    assert cancel(s.other_parent, body["id"])[0] == 404
    status, cancelled = cancel(s.parent, body["id"])
    assert status == 200 and cancelled["cancelled_at"] is not None
    assert audited("agenda.booking_cancelled") == 1
    assert book(s.other_parent, first, s.pupil2)[0] == 201


@pytest.mark.parametrize(
    "who, child",
    [("other_parent", "pupil"), ("parent", "other_child"), ("parent", "pupil2")],
)
def test_only_for_ones_own_child_concerned(world, agenda, who, child):
    s = world.school
    status, body = book(getattr(s, who), agenda.slots[0], getattr(s, child))
    assert status == 409 and body["error"] == "refused"
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    "who, expected",
    # Those who take no part in the evening do not see it; its teacher and
    # its staff do, and are refused by the action.
    [("pupil", 404), ("outsider", 404), ("teacher", 409), ("cpe", 409)],
)
def test_nobody_but_a_guardian_books(world, agenda, who, expected):
    s = world.school
    status, _body = book(getattr(s, who), agenda.slots[0], s.pupil)
    assert status == expected
    assert not Booking.objects.exists()


def test_an_unknown_child_is_refused_as_another_familys_and_a_bad_body_422(
    world, agenda
):
    """An id that names no one and another family's child get the same
    answer: a token cannot tell which user ids exist."""
    s = world.school
    url = f"{AGENDA}/slots/{agenda.slots[0].pk}/booking"
    unknown = post(s.parent, url, {"child_id": 10**9})
    other = post(s.parent, url, {"child_id": s.pupil2.pk})
    assert unknown == other
    assert unknown[0] == 409 and unknown[1]["error"] == "refused"
    status, body = post(s.parent, f"{AGENDA}/slots/{agenda.slots[0].pk}/booking", {})
    assert status == 422 and body["error"] == "invalid_request"
    assert not Booking.objects.exists()


def test_a_read_token_cannot_book(world, agenda):
    s = world.school
    status, body = book(s.parent, agenda.slots[0], s.pupil, scopes=["read"])
    assert status == 403 and body["error"] == "insufficient_scope"
    assert not Booking.objects.exists()


def test_an_ended_link_ends_the_evening_and_voids_the_booking(world, agenda):
    s = world.school
    _status, body = book(s.parent, agenda.slots[0], s.pupil)
    GuardianLink.objects.filter(guardian=s.parent, student=s.pupil).delete()
    assert get(s.parent, f"{AGENDA}/bookings")[1]["bookings"] == []
    assert get(s.parent, f"{AGENDA}/evenings/{agenda.evening.pk}")[0] == 404
    assert cancel(s.parent, body["id"])[0] == 404
    assert entry_ids(s.parent) == {agenda.entryB.pk}
    assert book(s.other_parent, agenda.slots[0], s.pupil2)[0] == 201
