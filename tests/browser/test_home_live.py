"""The home pages live: a pupil's shows a lesson cancelled, a guardian's a new
absence, without a reload; a teacher's week follows all their classes."""

import re

import pytest
from playwright.sync_api import expect

# A lesson of 4e B in an hour (today's or tomorrow's card shows it), and one
# that began ten minutes ago, both taught by Alice.
SEED = """
import datetime as dt
from django.utils import timezone
from core.roster.models import SchoolClass, User
from core.timetable.models import Feed, Lesson, Occurrence
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
feed, _ = Feed.objects.get_or_create(school_class=school_class, defaults={"name": "seed"})
alice = User.objects.get(username="alice")
now = timezone.now().replace(second=0, microsecond=0)
ids = []
for uid, subject, minutes in [("home-1", "Éducation musicale", 60), ("home-2", "Latin (option)", -10)]:
    lesson, _ = Lesson.objects.get_or_create(
        feed=feed, school_class=school_class, uid=uid, defaults={"subject": subject})
    start = now + dt.timedelta(minutes=minutes)
    occurrence, _ = Occurrence.objects.get_or_create(
        lesson=lesson, recurrence_key="", defaults=dict(
            school_class=school_class, start=start, end=start + dt.timedelta(minutes=55),
            subject=subject, room="S4"))
    occurrence.teachers.set([alice])
    ids.append(occurrence.pk)
print(*ids)
"""

CANCEL = """
from core.timetable.actions import change_occurrence
from core.timetable.models import Occurrence
change_occurrence(occurrence=Occurrence.objects.get(pk={pk}), actor=None,
                  reason="Professeure absente", cancelled=True)
"""

ABSENT = """
from core.attendance.actions import take_roll_call
from core.roster.models import User
from core.timetable.models import Occurrence
take_roll_call(occurrence=Occurrence.objects.get(pk={pk}),
               teacher=User.objects.get(username="alice"),
               marks={{User.objects.get(username="lea").pk: ("absent", None)}})
"""


@pytest.fixture(scope="module")
def lessons(live_hub) -> tuple[int, int]:
    later, started = map(int, live_hub.shell(SEED).split())
    return later, started


@pytest.mark.browser
def test_pupil_home_shows_a_lesson_cancelled_live(
    live_hub, page, login, lessons, screens_dir
):
    later, _started = lessons
    login(page, "lea")
    page.goto("/")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    lesson = page.locator(f'[data-card="lessons"] [data-occurrence="{later}"]')
    expect(lesson).to_have_attribute("data-status", "scheduled")
    expect(lesson).to_contain_text("Éducation musicale")
    page.evaluate("window.__notReloaded = true")

    live_hub.shell(CANCEL.format(pk=later))

    expect(lesson).to_have_attribute("data-status", "cancelled", timeout=15_000)
    expect(lesson).to_contain_text("Annulé")
    expect(lesson).to_contain_text("Professeure absente")
    assert (
        lesson.locator(".time").evaluate(
            "node => getComputedStyle(node).textDecorationLine"
        )
        == "line-through"
    )
    expect(page.locator('[data-card="notifications"] .count')).not_to_have_text("0")
    assert page.evaluate("window.__notReloaded") is True
    assert not page.js_errors, page.js_errors
    page.screenshot(path=str(screens_dir / "home-pupil-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(screens_dir / "home-pupil-360.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360


@pytest.mark.browser
def test_guardian_home_shows_a_new_absence_live(
    live_hub, page, login, lessons, screens_dir
):
    _later, started = lessons
    login(page, "karim")
    page.goto("/")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    lea = page.locator("section.home-section", has=page.locator("h2", has_text="Léa"))
    card = lea.locator('[data-card="to_excuse"]')
    expect(card).to_have_count(1)
    expect(card.locator("li", has_text="Latin (option)")).to_have_count(0)
    before = int(card.locator(".count").get_attribute("data-count"))
    page.evaluate("window.__notReloaded = true")

    live_hub.shell(ABSENT.format(pk=started))

    row = card.locator("li", has_text="Latin (option)")
    expect(row).to_have_count(1, timeout=15_000)
    expect(row).to_contain_text("Absent")
    expect(row.get_by_role("link", name=re.compile("Justificatif"))).to_be_visible()
    expect(lea.locator('[data-card="to_excuse"] .count')).to_have_attribute(
        "data-count", str(before + 1)
    )
    # Inès's section (her own school) did not change.
    ines = page.locator("section.home-section", has=page.locator("h2", has_text="Inès"))
    expect(ines).to_contain_text("Collège Jules Verne")
    expect(ines.locator("li", has_text="Latin (option)")).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True
    assert not page.js_errors, page.js_errors
    page.screenshot(path=str(screens_dir / "home-guardian-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(screens_dir / "home-guardian-360.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


ROOM = """
from core.timetable.actions import change_occurrence
from core.timetable.models import Occurrence
change_occurrence(occurrence=Occurrence.objects.get(pk={pk}), actor=None,
                  reason="Travaux", room="C7")
"""

# The notice an action changing two lessons of 4e B ends with (the lessons'
# own updates aside): what the teacher's week must announce once.
BATCH = """
from django.db import transaction
import hub
from core.timetable.actions import occurrence_data
from core.timetable.events import ChangeData, TimetableChanges
from core.timetable.models import Occurrence
from hub.streams import class_stream
lessons = list(Occurrence.objects.filter(pk__in={pks}).order_by("start"))
school_class = lessons[0].school_class
with transaction.atomic():
    hub.send_event([class_stream(school_class.pk)], TimetableChanges(
        op="changed", batch=1, class_id=school_class.pk,
        class_title=school_class.title, org_id=school_class.org_id,
        count=len(lessons), week=lessons[0].start.date().isoformat(),
        first=[ChangeData(op="room_changed", changes=["room"],
                          occurrence=occurrence_data(o)) for o in lessons],
        reason="Travaux"))
"""


@pytest.mark.browser
def test_teacher_week_across_classes_updates_live(
    live_hub, page, login, lessons, screens_dir
):
    later, started = lessons
    login(page, "alice")
    page.goto("/")
    page.get_by_role("link", name="Ma semaine").click()
    expect(page).to_have_url(re.compile("/timetable/mine/"))
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    lesson = page.locator(f"#occ-{started}")
    expect(lesson).to_contain_text("4e B")
    expect(lesson).to_contain_text("Latin (option)")
    page.evaluate("window.__notReloaded = true")

    live_hub.shell(ROOM.format(pk=started))

    expect(lesson.locator(".occ__room--changed")).to_contain_text(
        "S4 → C7", timeout=15_000
    )
    assert page.evaluate("window.__notReloaded") is True
    # A change of several lessons at once is announced to screen readers
    # once, on the teacher's own week too.
    live_hub.shell(BATCH.format(pks=[later, started]))
    expect(page.locator("#timetable-announcer")).to_contain_text(
        "2 changements dans l'emploi du temps de 4e B", timeout=15_000
    )
    assert not page.js_errors, page.js_errors
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(screens_dir / "timetable-mine-360.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


HOMEWORK = """
import datetime as dt
from django.utils import timezone
from core.homework.actions import set_homework
from core.roster.models import SchoolClass, User
homework = set_homework(
    teacher=User.objects.get(username="alice"),
    school_class=SchoolClass.objects.get(title="4e B", org__uai="0350001A"),
    subject="Éducation musicale", title="Apprendre le refrain",
    due_date=timezone.localdate() + dt.timedelta(days=1))
print(homework.pk)
"""

DONE = """
from core.homework.actions import set_done
from core.homework.models import Homework
from core.roster.models import User
set_done(homework=Homework.objects.get(pk={pk}),
         student=User.objects.get(username="lea"), done=True)
"""


@pytest.mark.browser
def test_guardian_home_shows_homework_for_tomorrow_and_its_tick_live(
    live_hub, page, login, lessons, screens_dir
):
    login(page, "karim")
    page.goto("/")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    lea = page.locator("section.home-section", has=page.locator("h2", has_text="Léa"))
    card = lea.locator('[data-card="homework_due"]')
    expect(card).to_contain_text("Devoirs pour demain")
    page.evaluate("window.__notReloaded = true")

    pk = int(live_hub.shell(HOMEWORK))
    item = card.locator(f'[data-homework="{pk}"]')
    expect(item).to_contain_text("Apprendre le refrain", timeout=15_000)
    expect(item).to_have_attribute("data-done", "false")

    live_hub.shell(DONE.format(pk=pk))
    expect(item).to_have_attribute("data-done", "true", timeout=15_000)
    expect(item).to_contain_text("fait")
    # Inès, in the other school, has no such homework.
    ines = page.locator("section.home-section", has=page.locator("h2", has_text="Inès"))
    expect(ines.locator(f'[data-homework="{pk}"]')).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True
    assert not page.js_errors, page.js_errors
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(screens_dir / "home-guardian-homework-360.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


@pytest.mark.browser
def test_guardian_home_announces_a_report_card_in_french(live_hub, page, login):
    # A kind notifications.js does not word itself: the announcer reads the
    # server's words (the notification's title), never the kind's name.
    from tests.browser.test_notifications_live import REPORT_CARD

    login(page, "karim")
    page.goto("/")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")

    live_hub.shell(REPORT_CARD)

    announcer = page.locator("#home-announcer")
    expect(announcer).to_contain_text(
        "Bulletin disponible (Trimestre témoin)", timeout=15_000
    )
    expect(announcer).not_to_contain_text("reportcards")
    assert not page.js_errors, page.js_errors
