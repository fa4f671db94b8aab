"""Agenda entries and meetings in each user's iCalendar feed: read by two
parsers, stable UIDs, STATUS/SEQUENCE, and an ETag that follows them."""

import datetime as dt

import icalendar
import pytest
import vobject
from django.core.cache import cache

from core.agenda import actions
from core.roster.audience import Audience
from core.roster.models import GuardianLink
from core.timetable.feed import feed_token_for
from tests.agenda.conftest import add_entry, open_slots, paris

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "https://ent.example.fr"
    cache.clear()


@pytest.fixture(autouse=True)
def vobject_time_zones():
    """vobject keeps the first VTIMEZONE it reads per TZID for the whole
    process: these feeds' (a 2026 window) must not stand for Europe/Paris
    in the timetable's feed tests (a 2025 window) run after them."""
    registry = vobject.icalendar.__dict__["__tzidMap"]
    saved = dict(registry)
    yield
    registry.clear()
    registry.update(saved)


def fetch(client, user, **headers):
    return client.get(f"/calendar/{feed_token_for(user)}.ics", headers=headers)


def read_both(body: bytes) -> dict[str, dict]:
    """The events by UID as both parsers read them; assert they agree."""
    by_icalendar = {}
    for event in icalendar.Calendar.from_ical(body).walk("VEVENT"):
        start = event.decoded("DTSTART")
        by_icalendar[str(event["UID"])] = {
            "summary": str(event["SUMMARY"]),
            "start": start
            if not isinstance(start, dt.datetime)
            else start.astimezone(UTC),
            "status": str(event["STATUS"]),
            "location": str(event.get("LOCATION", "")),
            "sequence": int(event["SEQUENCE"]),
        }
    by_vobject = {}
    for event in vobject.readOne(body.decode("utf-8")).contents.get("vevent", []):
        start = event.dtstart.value
        by_vobject[event.uid.value] = {
            "summary": event.summary.value,
            "start": start
            if not isinstance(start, dt.datetime)
            else start.astimezone(UTC),
            "status": event.status.value,
            "location": event.location.value if hasattr(event, "location") else "",
            "sequence": int(event.sequence.value),
        }
    assert by_icalendar == by_vobject
    return by_icalendar


def test_entries_for_karim_in_both_schools_are_in_his_feed(school, client, clock):
    from tests.agenda.test_entries import _staff_of

    here = add_entry(school, title="Conseil de classe 4e B")
    there = add_entry(
        school,
        org=school.other_org,
        actor=_staff_of(school.other_org),
        title="Sortie 5e C",
        audience=Audience(org_id=school.other_org.pk),
    )
    not_his = add_entry(
        school,
        title="Conseil 3e A",
        audience=Audience(
            org_id=school.org.pk, class_ids=frozenset({school.class_3a.pk})
        ),
    )
    events = read_both(fetch(client, school.parent).content)
    assert events[f"agenda-{here.pk}@ent.example.fr"]["start"] == paris(
        2026, 1, 22, 17
    ).astimezone(UTC)
    assert events[f"agenda-{here.pk}@ent.example.fr"]["location"] == "Salle 12"
    assert f"agenda-{there.pk}@ent.example.fr" in events
    assert f"agenda-{not_his.pk}@ent.example.fr" not in events
    other = read_both(fetch(client, school.other_parent).content)
    assert f"agenda-{there.pk}@ent.example.fr" not in other


def test_an_all_day_entry_is_written_as_dates(school, client, clock):
    entry = add_entry(
        school, all_day=True, start=dt.date(2026, 2, 2), end=dt.date(2026, 2, 3)
    )
    events = read_both(fetch(client, school.pupil).content)
    assert events[f"agenda-{entry.pk}@ent.example.fr"]["start"] == dt.date(2026, 2, 2)
    body = fetch(client, school.pupil).content.decode()
    assert "DTSTART;VALUE=DATE:20260202" in body and "DTEND;VALUE=DATE:20260204" in body


def test_the_etag_follows_a_change_and_a_cancel(school, client, clock):
    entry = add_entry(school)
    first = fetch(client, school.pupil)
    etag = first.headers["ETag"]
    assert fetch(client, school.pupil, if_none_match=etag).status_code == 304
    entry = actions.change_entry(
        actor=school.cpe,
        entry=entry,
        kind="class_council",
        title="Conseil (déplacé)",
        start=paris(2026, 1, 23, 17),
        end=paris(2026, 1, 23, 18),
        audience=Audience(org_id=school.org.pk),
    )
    second = fetch(client, school.pupil, if_none_match=etag)
    assert second.status_code == 200 and second.headers["ETag"] != etag
    uid = f"agenda-{entry.pk}@ent.example.fr"
    changed = read_both(second.content)[uid]
    assert changed["summary"] == "Conseil (déplacé)" and changed["sequence"] == 1
    actions.cancel_entry(actor=school.cpe, entry=entry)
    third = fetch(client, school.pupil, if_none_match=second.headers["ETag"])
    assert third.status_code == 200
    cancelled = read_both(third.content)[uid]
    assert cancelled["status"] == "CANCELLED" and cancelled["sequence"] == 2


def test_a_booking_is_in_both_feeds_and_its_cancel_changes_them(
    school, client, evening
):
    slots = open_slots(school.teacher, evening)
    before = {
        u: fetch(client, u).headers["ETag"] for u in (school.parent, school.teacher)
    }
    booking = actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    uid = f"booking-{booking.pk}@ent.example.fr"
    for user in (school.parent, school.teacher):
        response = fetch(client, user, if_none_match=before[user])
        assert response.status_code == 200
        event = read_both(response.content)[uid]
        assert event["start"] == paris(2026, 1, 29, 17).astimezone(UTC)
        assert event["location"] == "B12" and event["status"] == "CONFIRMED"
        before[user] = response.headers["ETag"]
    assert (
        "Léa Dubois" in read_both(fetch(client, school.parent).content)[uid]["summary"]
    )
    assert (
        "Karim Dubois"
        in read_both(fetch(client, school.teacher).content)[uid]["summary"]
    )
    # Sophie's feed does not hold it.
    assert uid not in read_both(fetch(client, school.other_parent).content)
    actions.cancel_booking(guardian=school.parent, booking=booking)
    for user in (school.parent, school.teacher):
        response = fetch(client, user, if_none_match=before[user])
        assert response.status_code == 200
        event = read_both(response.content)[uid]
        assert event["status"] == "CANCELLED" and event["sequence"] == 1


def test_an_ended_link_takes_the_booking_out_of_the_feeds(school, client, evening):
    slots = open_slots(school.teacher, evening)
    booking = actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    uid = f"booking-{booking.pk}@ent.example.fr"
    etag = fetch(client, school.teacher).headers["ETag"]
    GuardianLink.objects.filter(guardian=school.parent, student=school.pupil).delete()
    response = fetch(client, school.teacher, if_none_match=etag)
    assert response.status_code == 200 and uid not in read_both(response.content)


def test_staff_still_have_no_feed(school, client, clock):
    add_entry(school)
    assert client.get(f"/calendar/{feed_token_for(school.cpe)}.ics").status_code == 404
