"""The demo collège that `make run` builds, and `make demo-after`."""

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.utils import timezone

from core.demo.calendars import DEMO_WEEK, WEEK_3A
from core.demo.school import DEMO_UAI, PASSWORD, build_demo_school, ensure_lesson_now
from core.roster.models import SchoolClass, User
from core.timetable.models import Occurrence
from tests.conftest import capture_events


@pytest.fixture
def demo(db):
    return build_demo_school(today=dt.date(2026, 11, 30))


def test_demo_accounts_log_in_with_the_printed_password(demo):
    assert [a.username for a in demo][:5] == [
        "parent",
        "prof",
        "prof.om",
        "eleve",
        "cpe",
    ]
    for account in demo:
        user = authenticate(username=account.username, password=PASSWORD)
        assert user is not None and user.role == account.role


def test_guardian_of_two_has_children_in_two_classes(demo):
    parent = User.objects.get(username="parent")
    classes = sorted(
        SchoolClass.objects.filter(enrollments__user__guardians=parent).values_list(
            "title", flat=True
        )
    )
    assert classes == ["3e A", "4e B"]


COLLEGE_SUBJECTS = {
    "Français",
    "Mathématiques",
    "Histoire-géographie",
    "Anglais",
    "Allemand",
    "Physique-chimie",
    "Sciences de la vie et de la Terre",
    "Technologie",
    "Éducation physique et sportive",
    "Arts plastiques",
    "Éducation musicale",
}


def test_3e_a_has_a_college_timetable_with_its_teachers_named(demo):
    # Issue 16: the demo collège showed a university's course codes (R101…).
    class_3a = Occurrence.objects.filter(school_class__title="3e A")
    assert set(class_3a.values_list("subject", flat=True)) == COLLEGE_SUBJECTS
    week = class_3a.filter(
        start__date__gte=DEMO_WEEK, start__date__lt=DEMO_WEEK + dt.timedelta(days=7)
    )
    assert week.count() == len(WEEK_3A) == 27
    names = set(class_3a.values_list("teacher_names", flat=True))
    assert "Olivier Marchal" in names and "Isabelle Roux" in names
    prof_om = User.objects.get(username="prof.om")
    assert set(class_3a.filter(teachers=prof_om).values_list("subject", flat=True)) == {
        "Histoire-géographie"
    }
    assert class_3a.filter(teachers=prof_om, start__date__gte=DEMO_WEEK).exists()
    weekly = Occurrence.objects.filter(school_class__title="4e B")
    assert not weekly.filter(start__date=dt.date(2026, 11, 11)).exists()  # holiday
    assert weekly.filter(start__date=dt.date(2026, 11, 30)).count() == 2  # Monday


def test_building_twice_changes_nothing(demo):
    before = (User.objects.count(), Occurrence.objects.count())
    build_demo_school(today=dt.date(2026, 11, 30))
    assert (User.objects.count(), Occurrence.objects.count()) == before


def test_lesson_now_lets_prof_take_a_roll_call_and_is_made_once_a_day(demo):
    from core.attendance.access import get_occurrence_for_roll_call

    now = timezone.now()
    lesson = ensure_lesson_now(now=now)
    assert lesson.start <= now < lesson.end
    assert ensure_lesson_now(now=now) == lesson
    prof = User.objects.get(username="prof")
    assert get_occurrence_for_roll_call(prof, lesson.pk) == lesson


def test_demo_after_cancels_one_lesson_moves_three_and_reroooms_three(
    demo, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    out = StringIO()
    with capture_events() as events:
        call_command("demo_after", stdout=out)
    updates = [e for e in events if e.kind == "timetable.occurrence"]
    ops = sorted(e.op for e in updates)
    assert ops == ["cancelled"] + ["moved"] * 3 + ["room_changed"] * 3
    # All in the week the timetable opens on.
    for event in updates:
        day = dt.date.fromisoformat(event.data["occurrence"]["start"][:10])
        assert DEMO_WEEK <= day < DEMO_WEEK + dt.timedelta(days=7)
    assert (tmp_path / "demo" / "3eA-after.ics").exists()
    # The families get one notification for the seven (decision 0007).
    (summary,) = [e for e in events if e.kind == "timetable.changes"]
    assert summary.data["count"] == 7 and len(events) == 8
    assert {e.stream for e in events} == {
        f"class:{SchoolClass.objects.get(org__uai=DEMO_UAI, title='3e A').pk}"
    }
    assert "cancelled 1" in out.getvalue()
    # A second run changes nothing more.
    with capture_events() as again:
        call_command("demo_after", stdout=StringIO())
    assert again == []


@pytest.mark.django_db
def test_seed_demo_prints_the_accounts_and_a_lesson_to_take_a_roll_call_of():
    # Found by a fresh-user trial: on a topology seeded with seed_demo, no
    # lesson had begun, so no roll call could be taken.
    out = StringIO()
    call_command("seed_demo", stdout=out)

    lesson = Occurrence.objects.get(lesson__uid__startswith="4eb-now-")
    assert lesson.start <= timezone.now() < lesson.end
    assert "prof" in out.getvalue()
    assert f"/absences/roll-call/{lesson.pk}/" in out.getvalue()


def test_demo_staff_log_in_with_the_printed_second_factor(demo):
    """Staff of the demo need a second factor like any staff: the demo gives
    them the key it prints, and `make demo-code` its current code."""
    from django.test import Client

    from core.demo.management.commands.seed_demo import format_accounts
    from core.demo.school import DEMO_TOTP_SECRET

    assert DEMO_TOTP_SECRET in format_accounts(demo)
    client = Client()
    assert client.login(username="prof", password=PASSWORD)
    assert client.get("/")["Location"].startswith("/connexion/verification/")
    out = StringIO()
    call_command("demo_code", stdout=out)

    response = client.post("/connexion/verification/", {"code": out.getvalue()})

    assert response.status_code == 302
    assert client.get("/").status_code == 200
    # Families have none.
    family = Client()
    assert family.login(username="parent", password=PASSWORD)
    assert family.get("/").status_code == 200
