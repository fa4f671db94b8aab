"""Pages and JSON endpoints of the web client, through Django's test client."""

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from core.attendance.events import AttendanceRecorded, LessonRef
from core.timetable.events import FeedImported
from frontend import views
from hub import send_event
from hub.delivery import inbox
from hub.streams import class_stream, user_stream
from tests.conftest import make_occurrence, make_user, verify_session

PARIS = ZoneInfo("Europe/Paris")


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password="pw-" + user.username)
    verify_session(client, user)
    return client


def json_script(html: str, element_id: str):
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, f"no json_script {element_id}"
    return json.loads(match.group(1))


def record_event(school, student, stream_user, op="recorded"):
    """Emit an absence event on ``stream_user``'s personal stream."""
    with transaction.atomic():
        send_event(
            [user_stream(stream_user.pk)],
            AttendanceRecorded(
                op=op,
                record_id=1,
                student_id=student.pk,
                student_name=student.get_full_name(),
                org_id=school.org.pk,
                status="absent",
                minutes_late=None,
                lesson=LessonRef(
                    id=1,
                    class_id=school.class_4b.pk,
                    class_title="4e B",
                    subject="Mathématiques",
                    start="2026-01-19T08:00:00+01:00",
                    end="2026-01-19T09:00:00+01:00",
                ),
            ),
        )


# Login and redirects ----------------------------------------------------------


@pytest.mark.django_db
def test_login_page_renders_in_french():
    response = Client().get("/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="fr">' in html
    assert "Connexion" in html
    assert "Mot de passe" in html
    assert "Identifiant" in html
    assert 'name="viewport"' in html


@pytest.mark.django_db
def test_login_page_switches_to_english():
    client = Client()
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    html = client.get("/login/").content.decode()
    assert '<html lang="en">' in html
    assert "Log in" in html


@pytest.mark.parametrize(
    "url",
    ["/", "/timetable/", "/notifications/", "/api/notifications/", "/api/timetable/1/"],
)
@pytest.mark.django_db
def test_unauthenticated_visitor_is_sent_to_login(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_login_with_persona_password_reaches_home(school):
    client = Client()
    response = client.post("/login/", {"username": "lea", "password": "pw-lea"})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_logout_is_a_post(school):
    client = login(school.pupil)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


# Home per role ---------------------------------------------------------------


def test_guardian_home_has_one_card_per_child(school):
    html = login(school.parent).get("/").content.decode()
    assert html.count('class="home-section" data-pupil=') == 2
    assert "Léa Dubois" in html and "Inès Dubois" in html
    assert "Collège Victor Hugo" in html and "Collège Jules Verne" in html
    assert "4e B" in html and "5e C" in html
    assert f"/timetable/?child={school.pupil.pk}" in html
    assert f"/absences/?student={school.other_child.pk}" in html


def test_teacher_home_lists_todays_lessons_with_roll_call_links(school):
    now = timezone.localtime()
    start = now.replace(hour=8, minute=0, second=0, microsecond=0)
    lesson = make_occurrence(school.class_4b, start)
    other = make_occurrence(school.other_class, start, subject="Physique")
    html = login(school.teacher).get("/").content.decode()
    assert "Mathématiques" in html
    assert f"/absences/roll-call/{lesson.pk}/" in html
    assert f"/absences/roll-call/{other.pk}/" not in html
    assert "Faire l’appel" in html


def test_teacher_home_shows_lessons_they_are_named_on(school):
    start = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    lesson = make_occurrence(school.class_3a, start, subject="Histoire")
    lesson.teachers.add(school.teacher)
    html = login(school.teacher).get("/").content.decode()
    assert f"/absences/roll-call/{lesson.pk}/" in html


def test_teacher_home_leaves_out_a_colleagues_lesson_in_the_same_class(school):
    start = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0)
    colleague = make_user("bruno", "teacher", "Bruno", "Klein")
    theirs = make_occurrence(
        school.class_4b, start, subject="Anglais", teachers=[colleague]
    )
    html = login(school.teacher).get("/").content.decode()
    assert f"/absences/roll-call/{theirs.pk}/" not in html


def test_student_home_links_to_the_timetable(school):
    html = login(school.pupil).get("/").content.decode()
    assert 'href="/timetable/"' in html
    assert "4e B" in html


def test_cpe_home_links_to_the_absence_queue(school):
    html = login(school.cpe).get("/").content.decode()
    assert 'href="/absences/"' in html
    assert "Vie scolaire" in html


def test_header_has_nav_badge_and_positions(school):
    html = login(school.pupil).get("/").content.decode()
    for label in ("Accueil", "Emploi du temps", "Absences", "Notifications"):
        assert label in html
    assert 'id="unread-count"' in html
    assert 'action="/logout/"' in html
    assert 'action="/i18n/setlang/"' in html
    positions = json_script(html, "hub-positions")
    assert user_stream(school.pupil.pk) in positions
    assert positions[class_stream(school.class_4b.pk)] == {
        "epoch": positions[class_stream(school.class_4b.pk)]["epoch"],
        "offset": 0,
    }
    assert "/static/hub/page.js" in html


# Timetable -------------------------------------------------------------------


def test_timetable_page_shows_the_asked_week(school):
    occ = make_occurrence(school.class_4b, dt.datetime(2026, 1, 20, 8, tzinfo=PARIS))
    make_occurrence(school.class_4b, dt.datetime(2026, 1, 27, 8, tzinfo=PARIS))
    html = login(school.pupil).get("/timetable/?week=2026-01-22").content.decode()
    initial = json_script(html, "timetable-initial")
    assert initial["week"] == "2026-01-19"
    assert initial["class_id"] == school.class_4b.pk
    assert [o["id"] for o in initial["occurrences"]] == [occ.pk]
    assert "/static/hub/timetable.js" in html


def test_timetable_default_week_comes_from_settings(school, settings, monkeypatch):
    monkeypatch.setattr(views, "today", lambda: dt.date(2026, 11, 29))  # after the year
    settings.TIMETABLE_DEFAULT_WEEK = "2026-01-21"
    html = login(school.pupil).get("/timetable/").content.decode()
    assert json_script(html, "timetable-initial")["week"] == "2026-01-19"


def test_guardian_picks_the_child_timetable(school):
    html = (
        login(school.parent)
        .get(f"/timetable/?child={school.other_child.pk}")
        .content.decode()
    )
    assert json_script(html, "timetable-initial")["class_id"] == school.other_class.pk


def test_guardian_cannot_pick_someone_elses_child(school):
    response = login(school.parent).get(f"/timetable/?child={school.pupil2.pk}")
    assert response.status_code == 404


def test_timetable_page_of_unreadable_class_is_404(school):
    response = login(school.pupil).get(f"/timetable/?class={school.class_3a.pk}")
    assert response.status_code == 404


def test_timetable_api_returns_the_week(school):
    occ = make_occurrence(school.class_4b, dt.datetime(2026, 1, 20, 8, tzinfo=PARIS))
    response = login(school.parent).get(
        f"/api/timetable/{school.class_4b.pk}/?week=2026-01-24"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["week"] == "2026-01-19"
    [item] = body["occurrences"]
    assert item["id"] == occ.pk
    assert item["subject"] == "Mathématiques"
    assert item["class_id"] == school.class_4b.pk
    assert item["status"] == "scheduled"


def test_parent_of_other_child_gets_404_on_the_other_class(school):
    make_occurrence(school.other_class, dt.datetime(2026, 1, 20, 8, tzinfo=PARIS))
    url = f"/api/timetable/{school.other_class.pk}/?week=2026-01-19"
    assert login(school.other_parent).get(url).status_code == 404
    assert login(school.parent).get(url).status_code == 200


def test_timetable_api_rejects_a_malformed_week(school):
    response = login(school.pupil).get(
        f"/api/timetable/{school.class_4b.pk}/?week=soon"
    )
    assert response.status_code == 400


# Notifications ---------------------------------------------------------------


def test_notification_api_counts_and_marks_read(school):
    client = login(school.parent)
    record_event(school, school.pupil, school.parent)
    record_event(school, school.pupil, school.parent, op="updated")
    record_event(school, school.pupil2, school.other_parent)  # not Karim's
    body = client.get("/api/notifications/").json()
    assert body["unread"] == 2
    assert [e["op"] for e in body["events"]] == ["updated", "recorded"]
    assert all(e["unread"] for e in body["events"])
    assert body["events"][0]["kind"] == "attendance.record"
    assert body["events"][0]["data"]["student_name"] == "Léa Dubois"

    response = client.post("/api/notifications/read/")
    assert response.status_code == 200
    assert response.json() == {"unread": 0}
    body = client.get("/api/notifications/").json()
    assert body["unread"] == 0
    assert not any(e["unread"] for e in body["events"])

    record_event(school, school.pupil, school.parent)
    assert client.get("/api/notifications/").json()["unread"] == 1


def test_mark_read_needs_post(school):
    assert login(school.parent).get("/api/notifications/read/").status_code == 405


def test_feed_imports_are_not_notifications(school):
    with transaction.atomic():
        send_event(
            [class_stream(school.class_4b.pk)],
            FeedImported(op="imported", class_id=school.class_4b.pk, occurrences=3),
        )
    assert inbox.unread_count(school.pupil) == 0
    assert login(school.pupil).get("/api/notifications/").json()["events"] == []


def test_notifications_are_capped_at_fifty(school):
    for _ in range(55):
        record_event(school, school.pupil, school.parent)
    client = login(school.parent)
    body = client.get("/api/notifications/?limit=500").json()
    assert len(body["events"]) == 50
    assert body["unread"] == 55
    assert client.get("/api/notifications/?limit=0").json()["events"] == []


def test_notification_page_and_badge_show_the_unread_count(school):
    record_event(school, school.pupil, school.parent)
    html = login(school.parent).get("/notifications/").content.decode()
    assert re.search(r'<span id="unread-count"[^>]*>1</span>', html)
    initial = json_script(html, "notif-initial")
    assert initial["unread"] == 1
    assert "Tout marquer comme lu" in html


def test_inbox_reads_only_readable_streams(school):
    record_event(school, school.pupil2, school.other_parent)
    assert inbox.unread_count(school.parent) == 0
    assert inbox.recent(school.parent) == []
    assert inbox.unread_count(school.other_parent) == 1
    inbox.mark_all_read(school.other_parent)
    assert inbox.unread_count(school.other_parent) == 0


def test_guardian_link_naming_a_class_shows_that_child(school):
    url = f"/timetable/?class={school.class_4b.pk}&week=2026-01-19"
    response = login(school.parent).get(url)
    assert response.context["child"] == school.pupil
    assert json_script(response.content.decode(), "timetable-initial")["class_id"] == (
        school.class_4b.pk
    )
