"""Which week the timetable opens on, and which weeks it accepts."""

import datetime as dt

import pytest
from django.test import Client

from frontend import views
from tests.conftest import verify_session
from tests.frontend.test_views import json_script

# The personas' school year (tests/conftest.py): 2025-09-01 (a Monday) to 2026-07-04.


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password="pw-" + user.username)
    verify_session(client, user)
    return client


@pytest.fixture
def on_day(monkeypatch):
    """``on_day(date)``: the views believe today is ``date``."""

    def set_today(day: dt.date) -> None:
        monkeypatch.setattr(views, "today", lambda: day)

    return set_today


def page_week(user, query: str = "") -> str:
    response = login(user).get(f"/timetable/{query}")
    assert response.status_code == 200
    return json_script(response.content.decode(), "timetable-initial")["week"]


def api_week(user, class_id: int) -> str:
    response = login(user).get(f"/api/timetable/{class_id}/")
    assert response.status_code == 200
    return response.json()["week"]


# Default week ----------------------------------------------------------------


def test_today_inside_the_session_wins_over_the_setting(school, settings, on_day):
    on_day(dt.date(2026, 3, 5))  # a Thursday
    settings.TIMETABLE_DEFAULT_WEEK = "2026-01-21"
    assert page_week(school.pupil) == "2026-03-02"
    assert api_week(school.pupil, school.class_4b.pk) == "2026-03-02"


def test_setting_inside_the_session_when_today_is_outside(school, settings, on_day):
    on_day(dt.date(2026, 11, 29))
    settings.TIMETABLE_DEFAULT_WEEK = "2026-01-21"
    assert page_week(school.pupil) == "2026-01-19"
    assert api_week(school.pupil, school.class_4b.pk) == "2026-01-19"


@pytest.mark.parametrize("configured", ["", "2026-09-14", "2024-01-10", "not a date"])
def test_first_week_of_the_session_otherwise(school, settings, on_day, configured):
    on_day(dt.date(2026, 11, 29))
    settings.TIMETABLE_DEFAULT_WEEK = configured
    assert page_week(school.pupil) == "2025-09-01"
    assert api_week(school.pupil, school.class_4b.pk) == "2025-09-01"


def test_first_week_is_the_monday_of_a_session_starting_midweek(
    school, settings, on_day
):
    school.session.start_date = dt.date(2025, 9, 3)  # a Wednesday
    school.session.save()
    on_day(dt.date(2025, 8, 20))  # summer holidays, before the year
    settings.TIMETABLE_DEFAULT_WEEK = ""
    assert page_week(school.pupil) == "2025-09-01"


def test_session_edges_are_inside(school, settings, on_day):
    settings.TIMETABLE_DEFAULT_WEEK = "2026-01-21"
    on_day(dt.date(2026, 7, 4))  # the last day of the year, a Saturday
    assert page_week(school.pupil) == "2026-06-29"
    on_day(dt.date(2026, 7, 5))  # the day after
    assert page_week(school.pupil) == "2026-01-19"


def test_each_class_uses_its_own_session(school, settings, on_day):
    """Karim's children are in two schools with different years."""
    other = school.other_class.session
    other.start_date, other.end_date = dt.date(2026, 9, 1), dt.date(2027, 7, 3)
    other.save()
    on_day(dt.date(2026, 11, 29))
    settings.TIMETABLE_DEFAULT_WEEK = "2026-01-21"
    assert page_week(school.parent, f"?child={school.pupil.pk}") == "2026-01-19"
    assert page_week(school.parent, f"?child={school.other_child.pk}") == "2026-11-23"
    assert api_week(school.parent, school.other_class.pk) == "2026-11-23"


def test_an_asked_week_outside_the_session_is_shown(school, on_day):
    on_day(dt.date(2026, 3, 5))
    assert page_week(school.pupil, "?week=2027-02-10") == "2027-02-08"


# Weeks accepted ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "monday"),
    [
        ("1900-01-01", dt.date(1900, 1, 1)),
        ("2200-12-31", dt.date(2200, 12, 29)),
        ("2026-01-21", dt.date(2026, 1, 19)),
        ("1899-12-31", None),
        ("2201-01-01", None),
        ("0001-01-01", None),
        ("9999-12-31", None),
        ("", None),
        (None, None),
        ("2026-02-30", None),
        ("soon", None),
    ],
)
def test_parse_week_accepts_years_1900_to_2200(value, monday):
    assert views.parse_week(value) == monday


@pytest.mark.parametrize(
    "week", ["0001-01-01", "9999-12-31", "1899-12-31", "2201-01-01"]
)
def test_page_falls_back_to_the_default_week_for_extreme_dates(
    school, settings, on_day, week
):
    on_day(dt.date(2026, 3, 5))
    response = login(school.pupil).get(f"/timetable/?week={week}")
    assert response.status_code == 200
    initial = json_script(response.content.decode(), "timetable-initial")
    assert initial["week"] == "2026-03-02"


@pytest.mark.parametrize("week", ["0001-01-01", "9999-12-31", "1899-12-31", "soon"])
def test_api_answers_400_json_for_extreme_or_malformed_dates(school, week):
    response = login(school.pupil).get(
        f"/api/timetable/{school.class_4b.pk}/?week={week}"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_week"


@pytest.mark.parametrize("week", ["1900-01-01", "2200-12-31"])
def test_extreme_accepted_weeks_work(school, week):
    client = login(school.pupil)
    assert client.get(f"/timetable/?week={week}").status_code == 200
    response = client.get(f"/api/timetable/{school.class_4b.pk}/?week={week}")
    assert response.status_code == 200
    assert response.json()["occurrences"] == []


# JSON errors -------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?week=2026-01-19"])
def test_api_404_is_json(school, query):
    """A class one may not read and a class that does not exist look the same."""
    client = login(school.pupil)
    for class_id in (school.class_3a.pk, 999_999):
        response = client.get(f"/api/timetable/{class_id}/{query}")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"error": "not_found"}
