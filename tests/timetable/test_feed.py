"""The personal iCalendar feed: contents per role, two parsers, DST, ETag, tokens.

Every feed is read by two independent parsers, ``icalendar`` and ``vobject``
(its own parser and its own reading of our VTIMEZONE), which must agree.
"""

import datetime as dt
import logging
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
import vobject
from django.core.cache import cache

from core.audit.models import AuditEntry
from core.roster.models import EndedMembership, GuardianLink
from core.timetable import views
from core.timetable.actions import change_occurrence, import_feed
from core.timetable.feed import digest_of, feed_token_for, token_of
from core.timetable.models import FeedToken, Occurrence
from tests.conftest import login_verified, make_occurrence
from tests.timetable.conftest import FLOP_AFTER, FLOP_BEFORE

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC
NOW = dt.datetime(2025, 10, 1, 10, 0, tzinfo=UTC)


def paris(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "https://ent.example.fr"


@pytest.fixture(autouse=True)
def empty_cache():
    # Rendered feeds are cached by version; ids restart in each test's
    # rolled-back database, so a version may come back with other rows.
    cache.clear()


def url_of(user) -> str:
    return f"/calendar/{feed_token_for(user)}.ics"


def fetch(client, user, **headers):
    return client.get(url_of(user), headers=headers)


def read_both(body: bytes) -> list[dict]:
    """Return the events as both parsers read them; assert they agree."""
    by_icalendar = []
    for event in icalendar.Calendar.from_ical(body).walk("VEVENT"):
        by_icalendar.append(
            {
                "uid": str(event["UID"]),
                "summary": str(event["SUMMARY"]),
                "start": event.decoded("DTSTART").astimezone(UTC),
                "end": event.decoded("DTEND").astimezone(UTC),
                "status": str(event["STATUS"]),
                "location": str(event.get("LOCATION", "")),
                "description": str(event.get("DESCRIPTION", "")),
                "sequence": int(event["SEQUENCE"]),
            }
        )
    by_vobject = []
    calendar = vobject.readOne(body.decode("utf-8"))
    for event in calendar.contents.get("vevent", []):
        by_vobject.append(
            {
                "uid": event.uid.value,
                "summary": event.summary.value,
                "start": event.dtstart.value.astimezone(UTC),
                "end": event.dtend.value.astimezone(UTC),
                "status": event.status.value,
                "location": event.location.value if hasattr(event, "location") else "",
                "description": event.description.value
                if hasattr(event, "description")
                else "",
                "sequence": int(event.sequence.value),
            }
        )
    assert by_icalendar == by_vobject
    return by_icalendar


def one(events, **match) -> dict:
    found = [e for e in events if all(e[k] == v for k, v in match.items())]
    assert len(found) == 1, found
    return found[0]


# A pupil's feed.


def test_pupil_feed_is_read_alike_by_two_parsers(school, client):
    maths = make_occurrence(
        school.class_4b, paris(2025, 10, 6, 8), teachers=[school.teacher]
    )
    make_occurrence(
        school.class_4b, paris(2025, 10, 7, 14), subject="Histoire", room=""
    )
    make_occurrence(school.class_3a, paris(2025, 10, 6, 9), subject="Chimie")
    response = fetch(client, school.pupil)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    events = read_both(response.content)
    assert [e["summary"] for e in events] == ["Mathématiques", "Histoire"]
    first = events[0]
    assert first["uid"] == f"occurrence-{maths.pk}@ent.example.fr"
    assert (first["start"], first["end"]) == (
        dt.datetime(2025, 10, 6, 6, tzinfo=UTC),
        dt.datetime(2025, 10, 6, 6, 55, tzinfo=UTC),
    )
    assert (first["status"], first["location"], first["sequence"]) == (
        "CONFIRMED",
        "B12",
        0,
    )
    assert first["description"] == "Classe : 4e B\nEnseignants : Alice Martin"


def test_calendar_has_its_name_refresh_and_paris_timezone(school, client):
    make_occurrence(school.class_4b, paris(2025, 10, 6, 8))
    body = fetch(client, school.pupil).content
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "Emploi du temps – Léa Dubois"
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Paris"
    assert calendar.decoded("REFRESH-INTERVAL") == dt.timedelta(hours=1)
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT1H"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert b"DTSTART;TZID=Europe/Paris:20251006T080000\r\n" in body


def test_a_lesson_at_eight_keeps_its_local_time_across_both_dst_changes(school, client):
    days = [
        paris(2025, 10, 24, 8),  # Friday before the October change: UTC+2
        paris(2025, 10, 27, 8),  # Monday after it: UTC+1
        paris(2026, 3, 27, 8),  # Friday before the March change: UTC+1
        paris(2026, 3, 30, 8),  # Monday after it: UTC+2
    ]
    for start in days:
        make_occurrence(school.class_4b, start)
    events = read_both(fetch(client, school.pupil).content)
    assert [e["start"].strftime("%Y-%m-%d %H:%M") for e in events] == [
        "2025-10-24 06:00",
        "2025-10-27 07:00",
        "2026-03-27 07:00",
        "2026-03-30 06:00",
    ]


def test_vtimezone_changes_at_the_real_instants(school, client):
    make_occurrence(school.class_4b, paris(2025, 10, 6, 8))
    body = fetch(client, school.pupil).content
    # RFC 5545 §3.6.5: the onset is the local time in TZOFFSETFROM.
    assert b"DTSTART:20260329T020000" in body or b"RDATE:20260329T020000" in body
    zone = vobject.readOne(body.decode()).vtimezone.gettzinfo()
    # An hour either side of each change (01:00 UTC); in October, local
    # times from 02:00 to 03:00 happen twice, and dateutil (under vobject)
    # may pick either: the instants are taken outside them.
    for moment in (
        "2025-10-25T23:30",
        "2025-10-26T02:30",
        "2026-03-29T00:30",
        "2026-03-29T01:30",
    ):
        instant = dt.datetime.fromisoformat(moment).replace(tzinfo=UTC)
        assert (
            instant.astimezone(zone).utcoffset()
            == instant.astimezone(PARIS).utcoffset()
        ), moment


def test_cancelled_lesson_is_status_cancelled_with_its_uid_and_a_sequence(
    school, client
):
    lesson = make_occurrence(school.class_4b, paris(2025, 10, 6, 8))
    uid = read_both(fetch(client, school.pupil).content)[0]["uid"]
    change_occurrence(
        occurrence=lesson, actor=school.cpe, reason="Sortie scolaire", cancelled=True
    )
    body = fetch(client, school.pupil).content
    event = one(read_both(body), uid=uid)
    assert (event["status"], event["sequence"]) == ("CANCELLED", 1)
    assert "Motif : Sortie scolaire" in event["description"]
    assert b"LAST-MODIFIED:" in body


def test_moved_lesson_is_at_its_new_time_with_the_old_one_said(school, client):
    lesson = make_occurrence(school.class_4b, paris(2025, 10, 6, 8))
    change_occurrence(
        occurrence=lesson, actor=school.cpe, reason="", start=paris(2025, 10, 8, 10)
    )
    event = one(read_both(fetch(client, school.pupil).content), sequence=1)
    assert event["uid"] == f"occurrence-{lesson.pk}@ent.example.fr"
    assert (event["start"], event["end"]) == (
        dt.datetime(2025, 10, 8, 8, tzinfo=UTC),
        dt.datetime(2025, 10, 8, 8, 55, tzinfo=UTC),
    )
    assert event["status"] == "CONFIRMED"
    assert "Déplacé ; initialement le 06/10/2025 à 08:00" in event["description"]


def test_a_reimported_feed_shows_flopedt_changes_with_the_same_uids(school, client):
    window = (dt.date(2026, 1, 19), dt.date(2026, 1, 25))
    with time_machine.travel(dt.datetime(2026, 1, 10, tzinfo=UTC), tick=False):
        import_feed(
            school_class=school.class_4b,
            data=FLOP_BEFORE.read_bytes(),
            name="before.ics",
            window=window,
        )
        before = {e["uid"]: e for e in read_both(fetch(client, school.pupil).content)}
        import_feed(
            school_class=school.class_4b,
            data=FLOP_AFTER.read_bytes(),
            name="after.ics",
            window=window,
        )
        after = {e["uid"]: e for e in read_both(fetch(client, school.pupil).content)}
    assert set(after) == set(before)
    cancelled = [u for u in after if after[u]["status"] == "CANCELLED"]
    moved = [
        u
        for u in after
        if after[u]["status"] == "CONFIRMED" and after[u]["start"] != before[u]["start"]
    ]
    assert len(cancelled) == 1
    assert before[cancelled[0]]["start"].date() == dt.date(2026, 1, 20)
    assert moved  # the exams that swapped slots, the SAE moved to the 23rd
    for uid in moved:
        assert after[uid]["sequence"] >= 1


def test_the_window_is_thirty_days_back_and_a_year_ahead(school, client):
    make_occurrence(school.class_4b, paris(2025, 8, 31, 8), subject="Trop tôt")
    make_occurrence(school.class_4b, paris(2025, 9, 2, 8), subject="Mois dernier")
    make_occurrence(school.class_4b, paris(2026, 9, 30, 8), subject="Dans un an")
    make_occurrence(school.class_4b, paris(2026, 10, 3, 8), subject="Trop tard")
    summaries = [e["summary"] for e in read_both(fetch(client, school.pupil).content)]
    assert summaries == ["Mois dernier", "Dans un an"]


def test_uids_and_body_are_unchanged_across_exports(school, client):
    make_occurrence(school.class_4b, paris(2025, 10, 6, 8))
    make_occurrence(school.class_4b, paris(2025, 10, 6, 9))
    first = fetch(client, school.pupil)
    cache.clear()  # rendered again, not served from the cache
    with time_machine.travel(NOW + dt.timedelta(hours=3), tick=False):
        second = fetch(client, school.pupil)
    assert first.content == second.content
    assert first["ETag"] == second["ETag"]


# ETag and caching.


def test_etag_is_strong_and_if_none_match_gets_304_without_rendering(
    school, client, monkeypatch
):
    make_occurrence(school.class_4b, paris(2025, 10, 6, 8))
    response = fetch(client, school.pupil)
    etag = response["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{40}"', etag)
    assert response["Cache-Control"] == "private, no-cache"

    def boom(*args, **kwargs):
        raise AssertionError("rendered")

    monkeypatch.setattr(views, "render_feed", boom)
    again = fetch(client, school.pupil, if_none_match=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert again["Cache-Control"] == "private, no-cache"


def test_a_change_gives_a_new_etag(school, client):
    lesson = make_occurrence(school.class_4b, paris(2025, 10, 6, 8))
    etag = fetch(client, school.pupil)["ETag"]
    change_occurrence(occurrence=lesson, actor=None, reason="", room="C3")
    response = fetch(client, school.pupil, if_none_match=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert read_both(response.content)[0]["location"] == "C3"


def test_a_renamed_class_or_teacher_gives_a_new_etag_and_body(school, client):
    make_occurrence(school.class_4b, paris(2025, 10, 6, 8), teachers=[school.teacher])
    etag = fetch(client, school.pupil)["ETag"]
    school.class_4b.title = "4e Bleue"  # a roster import renames the class
    school.class_4b.save(update_fields=["title"])
    response = fetch(client, school.pupil, if_none_match=etag)
    assert response.status_code == 200
    assert "4e Bleue" in read_both(response.content)[0]["description"]
    etag = response["ETag"]
    school.teacher.last_name = "Martin-Roux"  # and a teacher's name
    school.teacher.save(update_fields=["last_name"])
    response = fetch(client, school.pupil, if_none_match=etag)
    assert response.status_code == 200
    assert "Martin-Roux" in read_both(response.content)[0]["description"]


def test_the_next_day_gives_a_new_etag(school, client):
    make_occurrence(school.class_4b, paris(2025, 10, 6, 8))
    etag = fetch(client, school.pupil)["ETag"]
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        assert fetch(client, school.pupil, if_none_match=etag).status_code == 200


def test_a_version_is_rendered_once_then_served_from_the_cache(
    school, client, monkeypatch
):
    make_occurrence(school.class_4b, paris(2025, 10, 6, 8))
    first = fetch(client, school.pupil)

    def boom(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(views, "render_feed", boom)
    assert fetch(client, school.pupil).content == first.content


# Tokens.


def test_the_feed_needs_no_session_only_the_token(school, client):
    make_occurrence(school.class_4b, paris(2025, 10, 6, 8))
    assert "_auth_user_id" not in client.session
    assert fetch(client, school.pupil).status_code == 200


@pytest.mark.parametrize(
    "token", ["0" * 64, "f" * 63, "not-a-token", "A" * 64, "0" * 65]
)
def test_a_wrong_token_is_404_and_not_logged(school, client, caplog, token):
    feed_token_for(school.pupil)
    with caplog.at_level(logging.DEBUG):
        response = client.get(f"/calendar/{token}.ics")
    assert response.status_code == 404
    assert token not in caplog.text


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_another_method_than_get_is_405_and_not_logged(school, client, caplog, method):
    token = feed_token_for(school.pupil)
    with caplog.at_level(logging.DEBUG):
        response = getattr(client, method)(f"/calendar/{token}.ics")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert token not in caplog.text


def test_the_proxy_does_not_log_feed_urls():
    from pathlib import Path

    conf = (Path(__file__).resolve().parents[2] / "deploy/nginx.conf").read_text()
    block = re.search(r"location /calendar/ \{(.*?)\}", conf, re.S)
    assert block and "access_log off;" in block.group(1)


def test_the_token_is_not_stored(school):
    token = feed_token_for(school.pupil)
    row = FeedToken.objects.get(user=school.pupil)
    assert token not in (row.salt, row.digest)
    assert (
        row.digest == digest_of(token) == digest_of(token_of(school.pupil.pk, row.salt))
    )
    assert feed_token_for(school.pupil) == token  # the page shows the same link


def test_a_new_secret_key_gives_a_new_link(school, client, settings):
    old = feed_token_for(school.pupil)
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    assert client.get(f"/calendar/{old}.ics").status_code == 404
    new = feed_token_for(school.pupil)
    assert new != old
    assert client.get(f"/calendar/{new}.ics").status_code == 200


def test_rotating_gives_a_new_link_and_the_old_one_404s(school, client):
    old = url_of(school.pupil)
    login_verified(client, school.pupil)
    response = client.post("/calendar/rotate/")
    assert response.status_code == 302
    assert response["Location"] == "/timetable/#calendar-subscribe"
    new = url_of(school.pupil)
    assert new != old
    client.logout()
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    entry = AuditEntry.objects.get(action="calendar_feed.rotated")
    assert entry.actor_id == entry.target_id == school.pupil.pk
    assert new.split("/")[-1][:-4] not in str(entry.detail)


def test_rotating_needs_a_post_and_a_login(school, client):
    assert client.post("/calendar/rotate/").status_code == 302  # to the login
    login_verified(client, school.pupil)
    assert client.get("/calendar/rotate/").status_code == 405
    assert not FeedToken.objects.exists()


def test_a_deactivated_users_feed_is_404(school, client):
    url = url_of(school.pupil)
    school.pupil.is_active = False
    school.pupil.save()
    assert client.get(url).status_code == 404


def test_school_life_staff_have_no_feed(school, client):
    assert client.get(url_of(school.cpe)).status_code == 404
    login_verified(client, school.cpe)
    page = client.get("/timetable/")
    assert page.context["feed_url"] == ""
    assert b"calendar-subscribe" not in page.content
    assert client.post("/calendar/rotate/").status_code == 404


# Guardians and teachers.


def test_guardian_feed_has_each_childs_lessons_named_in_two_schools(school, client):
    lea = make_occurrence(school.class_4b, paris(2025, 10, 6, 8))
    ines = make_occurrence(school.other_class, paris(2025, 10, 6, 8), subject="Anglais")
    body = fetch(client, school.parent).content
    assert body.count(b"BEGIN:VCALENDAR") == 1
    events = read_both(body)
    assert {(e["uid"], e["summary"]) for e in events} == {
        (
            f"occurrence-{lea.pk}-{school.pupil.pk}@ent.example.fr",
            "Léa : Mathématiques",
        ),
        (
            f"occurrence-{ines.pk}-{school.other_child.pk}@ent.example.fr",
            "Inès : Anglais",
        ),
    }
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "Emploi du temps – Inès, Léa"


def test_an_ended_guardian_link_takes_that_childs_lessons_out(school, client):
    make_occurrence(school.class_4b, paris(2025, 10, 6, 8))
    make_occurrence(school.other_class, paris(2025, 10, 6, 8), subject="Anglais")
    etag = fetch(client, school.parent)["ETag"]
    link = GuardianLink.objects.get(guardian=school.parent, student=school.other_child)
    EndedMembership.objects.create(
        kind=EndedMembership.Kind.GUARDIAN_LINK,
        user=school.parent,
        student=school.other_child,
        ended_at=NOW,
    )
    link.delete()
    response = fetch(client, school.parent, if_none_match=etag)
    assert response.status_code == 200
    assert [e["summary"] for e in read_both(response.content)] == [
        "Léa : Mathématiques"
    ]


def test_other_families_lessons_are_not_in_a_guardians_feed(school, client):
    make_occurrence(school.class_3a, paris(2025, 10, 6, 8))
    assert read_both(fetch(client, school.other_parent).content) == []


def test_teacher_feed_has_their_lessons_across_classes(school, client):
    make_occurrence(school.class_4b, paris(2025, 10, 6, 8), teachers=[school.teacher])
    # A substitution in a class she is not enrolled in.
    make_occurrence(
        school.class_3a,
        paris(2025, 10, 7, 9),
        subject="Physique",
        teachers=[school.teacher],
    )
    # Another teacher's lesson of her own class, and another school's.
    make_occurrence(
        school.class_4b,
        paris(2025, 10, 6, 10),
        subject="Anglais",
        teachers=[school.outsider],
    )
    make_occurrence(school.other_class, paris(2025, 10, 6, 8), subject="SVT")
    events = read_both(fetch(client, school.teacher).content)
    assert [e["summary"] for e in events] == [
        "Mathématiques (4e B)",
        "Physique (3e A)",
    ]


# The timetable page.


def test_timetable_page_shows_the_link_to_copy_and_renew(school, client):
    login_verified(client, school.pupil)
    page = client.get("/timetable/")
    token = feed_token_for(school.pupil)
    assert page.context["feed_url"] == f"https://ent.example.fr/calendar/{token}.ics"
    html = page.content.decode()
    assert f'value="https://ent.example.fr/calendar/{token}.ics"' in html
    assert "Copier le lien" in html
    assert "Renouveler le lien" in html
    assert 'action="/calendar/rotate/"' in html
    assert "copy-link.js" in html


def test_feed_query_count_does_not_grow_with_lessons(
    school, client, django_assert_max_num_queries
):
    for day in range(1, 25):
        make_occurrence(
            school.class_4b, paris(2025, 10, day, 8), teachers=[school.teacher]
        )
    url = url_of(school.parent)
    # 12 for the lessons; the agenda's entries and meetings (core.agenda.feed)
    # take two for the version and two for the rendering.
    with django_assert_max_num_queries(16):
        assert client.get(url).status_code == 200
    assert Occurrence.objects.count() == 24


def test_the_feed_is_a_typed_download_never_sniffed(school, client):
    """Issue 13: every download carries its type, ``nosniff`` and
    ``attachment`` unless it is a safe inline type (a calendar is not)."""
    response = fetch(client, school.pupil)

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert (
        response["Content-Disposition"] == 'attachment; filename="emploi-du-temps.ics"'
    )
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "private, no-cache"
