"""The home page of each role (frontend/home.py): cards, scope, card API."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from core.attendance.models import (
    AttendanceRecord,
    Excuse,
    MissingRollCall,
    RollCall,
)
from core.audit.models import AuditEntry
from core.roster.actions import grant_school_life_staff
from core.roster.models import Enrollment, GuardianLink, SchoolClass, User
from frontend import home, views
from tests.conftest import make_occurrence, make_user, verify_session

PARIS = ZoneInfo("Europe/Paris")
TODAY = dt.date(2026, 1, 20)  # a Tuesday
NOW = dt.datetime(2026, 1, 20, 9, 30, tzinfo=PARIS)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), PARIS)


TOMORROW = TODAY + dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    """The home is built on Tuesday 20 January 2026, 09:30 in Paris."""
    monkeypatch.setattr(home, "now", lambda: NOW)
    monkeypatch.setattr(views, "today", lambda: TODAY)


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password="pw-" + user.username)
    verify_session(client, user)
    return client


def card_html(html: str, name: str, part="") -> str:
    """The HTML of one card of the page (its <li>)."""
    match = re.search(
        rf'<li class="card home-card[^"]*"[^>]*data-card="{name}" '
        rf'data-part="{part}".*?</li>\s*(?=<li class="card home-card|</ul>\s*</section>)',
        html,
        re.S,
    )
    assert match, f"no card {name} part {part!r}"
    return match.group(0)


def absence(occurrence, student, teacher, status="absent"):
    roll_call, _ = RollCall.objects.get_or_create(
        occurrence=occurrence, defaults={"taken_by": teacher}
    )
    return AttendanceRecord.objects.create(
        roll_call=roll_call, student=student, status=status
    )


# Pupil ------------------------------------------------------------------------


def test_pupil_sees_the_rest_of_today_and_tomorrow_with_changes(school):
    over = make_occurrence(school.class_4b, at(TODAY, 8), subject="Latin")
    cancelled = make_occurrence(school.class_4b, at(TODAY, 10), subject="Anglais")
    cancelled.status = "cancelled"
    cancelled.change_reason = "Sortie scolaire"
    cancelled.save()
    moved = make_occurrence(school.class_4b, at(TOMORROW, 14), subject="Histoire")
    moved.previous_start = at(TOMORROW, 9)
    moved.previous_end = at(TOMORROW, 10)
    moved.save()
    room = make_occurrence(school.class_4b, at(TOMORROW, 11), subject="SVT", room="C3")
    room.previous_room = "B12"
    room.save()
    later = make_occurrence(school.class_4b, at(TODAY + dt.timedelta(days=2), 8))
    other_class = make_occurrence(school.class_3a, at(TODAY, 11), subject="Chimie")

    html = login(school.pupil).get("/").content.decode()
    lessons = card_html(html, "lessons", school.pupil.pk)
    assert "Latin" not in lessons  # over at 08:55
    assert f'data-occurrence="{cancelled.pk}" data-status="cancelled"' in lessons
    assert "Annulé" in lessons and "Sortie scolaire" in lessons
    assert f'data-occurrence="{moved.pk}"' in lessons and "Déplacé" in lessons
    assert "initialement mercredi 09:00" in lessons
    assert "Salle B12 → C3" in lessons
    assert f'data-occurrence="{later.pk}"' not in lessons
    assert f'data-occurrence="{other_class.pk}"' not in lessons
    assert f'data-occurrence="{over.pk}"' not in lessons
    assert "Aujourd’hui" in lessons and "Demain" in lessons
    assert 'href="/timetable/"' in lessons
    # A pupil has no guardian's card.
    assert 'data-card="to_excuse"' not in html


def test_pupil_home_counts_unread_messages_and_notifications(school):
    from core.timetable.actions import change_occurrence

    occurrence = make_occurrence(school.class_4b, at(TOMORROW, 8))
    change_occurrence(occurrence=occurrence, actor=None, reason="", cancelled=True)
    html = login(school.pupil).get("/").content.decode()
    assert 'data-card="notifications" data-part=""' in html
    notifications = card_html(html, "notifications")
    assert "1 notification non lue" in notifications
    assert "Aucun message non lu" in card_html(html, "messages")


# Guardian ---------------------------------------------------------------------


def test_guardian_has_a_section_per_child_each_with_its_school(school):
    here = make_occurrence(school.class_4b, at(TODAY, 11), subject="Maths ici")
    there = make_occurrence(school.other_class, at(TODAY, 11), subject="Maths là")
    html = login(school.parent).get("/").content.decode()
    lea = card_html(html, "lessons", school.pupil.pk)
    ines = card_html(html, "lessons", school.other_child.pk)
    assert "Maths ici" in lea and "Maths là" not in lea
    assert "Maths là" in ines and "Maths ici" not in ines
    assert f"?child={school.other_child.pk}" in ines
    assert "Collège Jules Verne" in html and "Collège Victor Hugo" in html
    assert f'data-occurrence="{there.pk}"' in ines
    assert f'data-occurrence="{here.pk}"' in lea
    # Sophie's son is in 4e B too: she sees his lessons, not Léa's section.
    other = login(school.other_parent).get("/").content.decode()
    assert f'data-pupil="{school.pupil.pk}"' not in other
    assert f'data-pupil="{school.pupil2.pk}"' in other


def test_guardian_sees_absences_still_to_excuse(school):
    lesson = make_occurrence(school.class_4b, at(TODAY, 8))
    other = make_occurrence(school.other_class, at(TODAY, 8))
    bare = absence(lesson, school.pupil, school.teacher)
    late = absence(
        make_occurrence(school.class_4b, at(TODAY - dt.timedelta(days=1), 8)),
        school.pupil,
        school.teacher,
        status="late",
    )
    pending = absence(
        make_occurrence(school.class_4b, at(TODAY - dt.timedelta(days=2), 8)),
        school.pupil,
        school.teacher,
    )
    Excuse.objects.create(
        record=pending, submitted_by=school.parent, reason="illness", comment=""
    )
    refused = absence(
        make_occurrence(school.class_4b, at(TODAY - dt.timedelta(days=3), 8)),
        school.pupil,
        school.teacher,
    )
    Excuse.objects.create(
        record=refused,
        submitted_by=school.parent,
        reason="other",
        comment="",
        status=Excuse.Status.REFUSED,
    )
    neighbour = absence(lesson, school.pupil2, school.teacher)
    ines = absence(other, school.other_child, school.outsider)

    html = login(school.parent).get("/").content.decode()
    lea = card_html(html, "to_excuse", school.pupil.pk)
    for record in (bare, late, refused):
        assert f'data-record="{record.pk}"' in lea
    assert f'data-record="{pending.pk}"' not in lea
    assert f'data-record="{neighbour.pk}"' not in html
    assert f"/absences/{bare.pk}/excuse/" in lea
    assert 'data-count="3"' in lea
    assert f'data-record="{ines.pk}"' in card_html(
        html, "to_excuse", school.other_child.pk
    )


def test_guardian_without_children_is_told_so(school):
    lonely = make_user("zoe", User.Role.GUARDIAN, "Zoé", "Seule")
    html = login(lonely).get("/").content.decode()
    assert "Aucun enfant n’est lié à votre compte" in html or "Aucun enfant" in html
    assert 'data-card="messages"' in html


# Teacher ----------------------------------------------------------------------


def test_teacher_sees_lessons_across_classes_and_roll_calls_to_take(school):
    mine = make_occurrence(school.class_4b, at(TODAY, 9))
    named = make_occurrence(school.class_3a, at(TODAY, 11), subject="Histoire")
    named.teachers.add(school.teacher)
    taken = make_occurrence(school.class_4b, at(TODAY, 8, 30), minutes=120)
    RollCall.objects.create(occurrence=taken, taken_by=school.teacher)
    tomorrow = make_occurrence(school.class_3a, at(TOMORROW, 8), subject="Géo")
    tomorrow.teachers.add(school.teacher)
    colleague = make_user("bruno", "teacher", "Bruno", "Klein")
    theirs = make_occurrence(school.class_4b, at(TODAY, 14), teachers=[colleague])
    elsewhere = make_occurrence(school.other_class, at(TODAY, 10))

    html = login(school.teacher).get("/").content.decode()
    lessons = card_html(html, "my_lessons")
    for lesson in (mine, named, taken, tomorrow):
        assert f'data-occurrence="{lesson.pk}"' in lessons
    assert "3e A" in lessons and "4e B" in lessons
    assert f'data-occurrence="{theirs.pk}"' not in html
    assert f'data-occurrence="{elsewhere.pk}"' not in html
    assert "/timetable/mine/" in lessons
    to_take = card_html(html, "roll_calls")
    assert f"/absences/roll-call/{mine.pk}/" in to_take
    assert f"/absences/roll-call/{named.pk}/" in to_take
    assert f"/absences/roll-call/{taken.pk}/" not in to_take
    assert f"/absences/roll-call/{tomorrow.pk}/" not in to_take
    assert 'data-count="2"' in to_take


# School-life staff --------------------------------------------------------


def other_cpe(school) -> User:
    cpe = make_user("nina", User.Role.ADMINISTRATOR, "Nina", "Roux")
    cpe.orgs.add(school.other_org)
    grant_school_life_staff(cpe)
    return cpe


def test_cpe_sees_todays_absences_by_class_excuses_and_missing_roll_calls(school):
    maths = make_occurrence(school.class_4b, at(TODAY, 8))
    french = make_occurrence(school.class_3a, at(TODAY, 8))
    yesterday = make_occurrence(school.class_4b, at(TODAY - dt.timedelta(days=1), 8))
    absence(maths, school.pupil, school.teacher)
    absence(maths, school.pupil2, school.teacher, status="late")
    absence(french, school.pupil3, school.teacher)
    old = absence(yesterday, school.pupil, school.teacher)
    excuse = Excuse.objects.create(
        record=old, submitted_by=school.parent, reason="illness", comment=""
    )
    missing = make_occurrence(school.class_3a, at(TODAY, 9), subject="Musique")
    MissingRollCall.objects.create(occurrence=missing)
    theirs = make_occurrence(school.other_class, at(TODAY, 8), subject="Ailleurs")
    absence(theirs, school.other_child, school.outsider)
    MissingRollCall.objects.create(
        occurrence=make_occurrence(school.other_class, at(TODAY, 9))
    )

    html = login(school.cpe).get("/").content.decode()
    today = card_html(html, "absences_today")
    assert f'data-class="{school.class_4b.pk}"' in today
    assert f'data-class="{school.class_3a.pk}"' in today
    assert f'data-class="{school.other_class.pk}"' not in today
    assert "Hugo Petit (en retard)" in today and "Chloé Bernard" in today
    assert 'data-count="3"' in today
    excuses = card_html(html, "excuses")
    assert f'data-excuse="{excuse.pk}"' in excuses and "Léa Dubois" in excuses
    roll_calls = card_html(html, "missing_roll_calls")
    assert f'data-occurrence="{missing.pk}"' in roll_calls
    assert 'data-count="1"' in roll_calls
    # The reads of pupils' data are in this school's audit log.
    reads = AuditEntry.objects.filter(
        actor_id=school.cpe.pk, action="attendance.viewed"
    )
    assert set(reads.values_list("org_id", flat=True)) == {school.org.pk}
    assert set(reads.values_list("target_type", flat=True)) == {
        "home",
        "excuse_queue",
    }


def test_cpe_of_another_school_sees_nothing_of_this_one(school):
    maths = make_occurrence(school.class_4b, at(TODAY, 8))
    record = absence(maths, school.pupil, school.teacher)
    Excuse.objects.create(
        record=record, submitted_by=school.parent, reason="illness", comment=""
    )
    MissingRollCall.objects.create(
        occurrence=make_occurrence(school.class_3a, at(TODAY, 9))
    )
    nina = other_cpe(school)
    html = login(nina).get("/").content.decode()
    assert "Léa" not in html and "4e B" not in html and "3e A" not in html
    for name in ("absences_today", "excuses", "missing_roll_calls"):
        assert 'data-count="0"' in card_html(html, name)
    assert not AuditEntry.objects.filter(
        actor_id=nina.pk, action="attendance.viewed"
    ).exists()


def test_staff_without_the_permission_sees_no_pupil(school):
    maths = make_occurrence(school.class_4b, at(TODAY, 8))
    absence(maths, school.pupil, school.teacher)
    bare = make_user("ulysse", User.Role.ADMINISTRATOR, "Ulysse", "Sans")
    bare.orgs.add(school.org)
    html = login(bare).get("/").content.decode()
    assert "Léa" not in html
    assert 'data-count="0"' in card_html(html, "absences_today")


# The card API ---------------------------------------------------------------


def test_card_api_draws_each_part(school):
    make_occurrence(school.other_class, at(TODAY, 11), subject="Maths là")
    body = login(school.parent).get("/api/home/cards/lessons/").json()
    assert body["card"] == "lessons"
    assert set(body["parts"]) == {str(school.pupil.pk), str(school.other_child.pk)}
    assert "Maths là" in body["parts"][str(school.other_child.pk)]
    assert 'data-card="lessons"' in body["parts"][str(school.pupil.pk)]
    own = login(school.pupil).get("/api/home/cards/notifications/").json()
    assert list(own["parts"]) == [""]


@pytest.mark.parametrize(
    ("who", "name"),
    [
        ("pupil", "excuses"),
        ("pupil", "to_excuse"),
        ("parent", "roll_calls"),
        ("teacher", "absences_today"),
        ("cpe", "lessons"),
        ("pupil", "nothing"),
        ("pupil", "__init__"),
    ],
)
def test_card_api_refuses_a_card_of_another_role(school, who, name):
    response = login(getattr(school, who)).get(f"/api/home/cards/{name}/")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found"}


def test_card_api_needs_a_login(school):
    assert Client().get("/api/home/cards/messages/").status_code == 302


def test_every_card_has_a_template_and_a_role():
    from django.template.loader import get_template

    from hub.events import event_class

    assert set(home.CARDS) >= {
        "lessons",
        "to_excuse",
        "my_lessons",
        "roll_calls",
        "absences_today",
        "excuses",
        "missing_roll_calls",
        "messages",
        "notifications",
    }
    for card in home.CARDS.values():
        assert card.roles
        get_template(card.template)
        assert card.event_kinds()
        for kind in card.event_kinds():
            event_class(kind)  # a declared kind: a typo would never refresh it


def test_a_new_card_is_a_function_and_a_template(school, monkeypatch):
    """How the homework card will be added: register, and the page shows it."""
    monkeypatch.setattr(home, "CARDS", dict(home.CARDS))

    @home.card(
        "lessons_again",
        roles=(User.Role.STUDENT,),
        per_pupil=True,
        kinds=("homework.assignment",),
    )
    def again(user, today, pupils):
        return {p.pk: {"days": []} for p in pupils}

    monkeypatch.setattr(
        home.Card, "template", property(lambda self: "frontend/cards/lessons.html")
    )
    sections = home.build_home(school.pupil, TODAY)
    names = [c["card"] for c in sections[0].cards]
    assert "lessons_again" in names
    again_card = next(c for c in sections[0].cards if c["card"] == "lessons_again")
    assert again_card["kinds"] == ["homework.assignment"]


# The teacher's week ------------------------------------------------------------


def test_teacher_week_covers_every_class_with_changes(school):
    monday = dt.date(2026, 1, 19)
    mine = make_occurrence(school.class_4b, at(monday, 8))
    named = make_occurrence(school.class_3a, at(monday, 10), subject="Histoire")
    named.teachers.add(school.teacher)
    named.status = "cancelled"
    named.save()
    colleague = make_user("bruno", "teacher", "Bruno", "Klein")
    theirs = make_occurrence(school.class_4b, at(monday, 14), teachers=[colleague])
    next_week = make_occurrence(school.class_4b, at(monday + dt.timedelta(days=7), 8))

    client = login(school.teacher)
    page = client.get("/timetable/mine/?week=2026-01-21")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-api="/api/timetable/mine/"' in html
    body = client.get("/api/timetable/mine/?week=2026-01-21").json()
    assert body["mine"] is True and body["week"] == "2026-01-19"
    ids = [o["id"] for o in body["occurrences"]]
    assert ids == [mine.pk, named.pk]
    assert theirs.pk not in ids and next_week.pk not in ids
    assert body["occurrences"][1]["status"] == "cancelled"
    assert body["occurrences"][1]["class_title"] == "3e A"
    # Alice follows the class she is enrolled in (named only on 3e A's lesson).
    assert body["class_ids"] == [school.class_4b.pk]
    # Linked from the class timetable page.
    assert "/timetable/mine/" in client.get("/timetable/").content.decode()


def test_teacher_week_refuses_others_and_bad_weeks(school):
    assert login(school.pupil).get("/timetable/mine/").status_code == 404
    assert login(school.cpe).get("/api/timetable/mine/").status_code == 404
    response = login(school.teacher).get("/api/timetable/mine/?week=2026-13-40")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_week"
    assert (
        login(school.teacher).get("/api/timetable/mine/?week=1200-01-01").status_code
        == 400
    )


def test_teacher_week_follows_a_class_they_joined(school):
    new_class = SchoolClass.objects.create(
        org=school.org, session=school.session, title="6e D"
    )
    Enrollment.objects.create(
        user=school.teacher, school_class=new_class, role="teacher"
    )
    lesson = make_occurrence(new_class, at(dt.date(2026, 1, 19), 8))
    body = login(school.teacher).get("/api/timetable/mine/?week=2026-01-19").json()
    assert new_class.pk in body["class_ids"]
    assert [o["id"] for o in body["occurrences"]] == [lesson.pk]


def test_ended_guardian_link_removes_the_child_section(school):
    GuardianLink.objects.filter(
        guardian=school.parent, student=school.other_child
    ).delete()
    html = login(school.parent).get("/").content.decode()
    assert f'data-pupil="{school.other_child.pk}"' not in html
    assert f'data-pupil="{school.pupil.pk}"' in html


def test_teacher_week_opens_on_this_week_whatever_the_configured_week(school, settings):
    # A fresh user: the demo configures the timetable's week (2026-01-19 for
    # its real export) and "Ma semaine" opened there, empty, in December.
    settings.TIMETABLE_DEFAULT_WEEK = "2025-10-06"
    client = login(school.teacher)
    assert client.get("/api/timetable/mine/").json()["week"] == "2026-01-19"
    html = client.get("/timetable/mine/").content.decode()
    assert "2026-01-19" in html
    # Outside every session of their classes, the configured week.
    school.session.end_date = dt.date(2026, 1, 1)
    school.session.save()
    assert client.get("/api/timetable/mine/").json()["week"] == "2025-10-06"


def test_the_handins_card_logs_the_pupils_it_shows(school, settings, tmp_path):
    """Like the hand-ins page: one audit entry per render, in the school
    whose pupils were shown; nothing shown, nothing logged."""
    from core.homework import actions as homework_actions
    from core.homework.uploads import CheckedFile

    settings.MEDIA_ROOT = tmp_path
    client = login(school.teacher)
    client.get("/")
    assert not AuditEntry.objects.filter(action="handins.listed").exists()
    homework = homework_actions.set_homework(
        teacher=school.teacher,
        school_class=school.class_4b,
        subject="Mathématiques",
        title="DM",
        handin_required=True,
    )
    homework_actions.hand_in(
        homework=homework,
        student=school.pupil,
        upload=CheckedFile(name="a.pdf", mime="application/pdf", data=b"%PDF-1.4"),
    )
    html = client.get("/").content.decode()
    assert "Dubois" in card_html(html, "handins")
    (entry,) = AuditEntry.objects.filter(action="handins.listed")
    assert entry.actor_id == school.teacher.pk and entry.org_id == school.org.pk
