"""Agenda reads take a fixed number of queries whatever the number of
entries and evenings (audiences matched in Python with the user's standing
read once, core.roster.audience.visible), and a calendar feed fetch reads
the agenda once."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.agenda import access
from core.agenda.models import AgendaEntry, MeetingEvening
from core.roster.audience import Audience
from core.timetable.feed import feed_token_for
from tests.agenda.conftest import paris
from tests.conftest import login_verified


def ok(response):
    """A page that rendered: a redirect or a 404 would cost the same for 5
    rows as for 25 and prove nothing."""
    assert response.status_code == 200, response.status_code
    return response


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "https://ent.example.fr"
    cache.clear()


def audiences(school) -> list[Audience]:
    org, other = school.org.pk, school.other_org.pk
    return [
        Audience(org_id=org),
        Audience(org_id=org, roles=frozenset({"guardian"}), levels=frozenset({"4e"})),
        Audience(org_id=org, roles=frozenset({"administrator"})),
        Audience(org_id=org, class_ids=frozenset({school.class_3a.pk})),
        Audience(org_id=other, roles=frozenset({"guardian", "teacher"})),
    ]


def add_rows(school, count: int, start: int = 0) -> None:
    """``count`` entries and ``count`` evenings, to audiences the personas
    are in and out of, alternately."""
    kinds = audiences(school)
    for n in range(start, start + count):
        audience = kinds[n % len(kinds)]
        begin = paris(2026, 1, 20, 8) + dt.timedelta(hours=n)
        AgendaEntry.objects.create(
            org_id=audience.org_id,
            kind="other",
            title=f"Entrée {n}",
            start=begin,
            end=begin + dt.timedelta(hours=1),
            audience=audience.to_json(),
            author=school.cpe,
        )
        classes = [school.class_4b.pk, school.class_3a.pk, school.other_class.pk]
        class_id = classes[n % len(classes)]
        org_id = school.other_org.pk if n % 3 == 2 else school.org.pk
        MeetingEvening.objects.create(
            org_id=org_id,
            title=f"Soirée {n}",
            date=dt.date(2026, 2, 1) + dt.timedelta(days=n),
            audience=Audience(org_id=org_id, class_ids=frozenset({class_id})).to_json(),
            booking_opens=paris(2026, 1, 15, 8),
            booking_closes=paris(2026, 1, 31, 8),
            author=school.cpe,
        )


def queries_of(job) -> int:
    with CaptureQueriesContext(connection) as captured:
        job()
    return len(captured)


def fetch_feed(user, client):
    cache.clear()  # a new version each time: rendered, not served from cache
    assert client.get(f"/calendar/{feed_token_for(user)}.ics").status_code == 200


@pytest.mark.parametrize(
    ("who", "job"),
    [
        ("parent", lambda user, client: access.entries_for(user)),
        ("pupil", lambda user, client: access.entries_for(user)),
        ("teacher", lambda user, client: access.entries_for(user)),
        ("cpe", lambda user, client: access.entries_for(user)),
        ("parent", lambda user, client: access.evenings_for(user)),
        ("teacher", lambda user, client: access.evenings_for(user)),
        ("parent", fetch_feed),
        ("teacher", fetch_feed),
        ("parent", lambda user, client: ok(client.get("/agenda/"))),
        ("parent", lambda user, client: ok(client.get("/"))),
    ],
)
def test_reads_take_as_many_queries_for_25_rows_as_for_5(
    school, clock, client, django_assert_max_num_queries, who, job
):
    user = getattr(school, who)
    login_verified(client, user)
    add_rows(school, 5)
    job(user, client)  # sessions, caches: the first read's own costs
    five = queries_of(lambda: job(user, client))
    add_rows(school, 20, start=5)
    with django_assert_max_num_queries(five):
        job(user, client)


def test_the_answers_are_those_of_includes(school, clock):
    add_rows(school, 10)
    karim = school.parent
    assert [e.title for e in access.entries_for(karim)] == [
        "Entrée 0",
        "Entrée 1",
        "Entrée 4",
        "Entrée 5",
        "Entrée 6",
        "Entrée 9",
    ]
    # Karim's children: Léa in 4e B, Inès in the other school's 5e C.
    assert [e.title for e in access.evenings_for(karim)] == [
        "Soirée 0",
        "Soirée 2",
        "Soirée 3",
        "Soirée 5",
        "Soirée 6",
        "Soirée 8",
        "Soirée 9",
    ]
    evening = MeetingEvening.objects.get(title="Soirée 1")  # 3e A
    with pytest.raises(access.Http404):
        access.get_evening(karim, evening.pk)
    with pytest.raises(access.Http404):
        access.get_evening(school.pupil3, evening.pk)


def test_get_evening_takes_a_fixed_number_of_queries(
    school, clock, django_assert_max_num_queries
):
    add_rows(school, 25)
    evening = MeetingEvening.objects.get(title="Soirée 0")
    for user in (school.parent, school.teacher):
        with django_assert_max_num_queries(4):
            assert access.get_evening(user, evening.pk) == evening


def test_a_feed_fetch_reads_the_agenda_once(school, clock, client, monkeypatch):
    add_rows(school, 5)
    calls = []
    entries_for = access.entries_for

    def counted(*args, **kwargs):
        calls.append(args)
        return entries_for(*args, **kwargs)

    monkeypatch.setattr(access, "entries_for", counted)
    fetch_feed(school.parent, client)
    assert len(calls) == 1
