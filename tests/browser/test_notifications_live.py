"""A parent's notification centre receives an absence live and marks it read."""

import pytest
from playwright.sync_api import expect

SEED_LESSON = """
import datetime as dt
from zoneinfo import ZoneInfo
from core.roster.models import SchoolClass
from core.timetable.models import Feed, Lesson, Occurrence
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
feed, _ = Feed.objects.get_or_create(school_class=school_class, defaults={"name": "seed"})
lesson, _ = Lesson.objects.get_or_create(
    feed=feed, school_class=school_class, uid="browser-maths",
    defaults={"subject": "Mathématiques"},
)
start = dt.datetime(2026, 1, 19, 8, tzinfo=ZoneInfo("Europe/Paris"))
occurrence, _ = Occurrence.objects.get_or_create(
    lesson=lesson, recurrence_key="", defaults=dict(
        school_class=school_class, start=start, end=start + dt.timedelta(hours=1),
        subject="Mathématiques", room="B12",
    ),
)
print(occurrence.pk)
"""

ROLL_CALL = """
from core.attendance.actions import take_roll_call
from core.roster.models import User
from core.timetable.models import Occurrence
lea = User.objects.get(username="lea")
take_roll_call(
    occurrence=Occurrence.objects.get(pk={pk}),
    teacher=User.objects.get(username="alice"),
    marks={{lea.pk: ("absent", None)}},
)
"""


@pytest.mark.browser
def test_parent_sees_an_absence_arrive_and_marks_it_read(live_hub, page, login):
    occurrence_id = int(live_hub.shell(SEED_LESSON).strip())
    login(page, "karim")
    page.goto("/notifications/")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    before = int(page.locator("#unread-count").get_attribute("data-count") or 0)
    # Blank the badge's label: the page must write it again, in number.
    page.evaluate("document.getElementById('unread-label').textContent = ''")

    live_hub.shell(ROLL_CALL.format(pk=occurrence_id))

    first = page.locator("#notif-list li").first
    expect(first).to_contain_text(
        "Léa Dubois\u00a0: absence en Mathématiques (lun. 19 janv., 08:00)",
        timeout=15_000,
    )
    expect(first).to_have_class("notif notif--unread")
    expect(page.locator("#unread-count")).to_have_attribute(
        "data-count", str(before + 1)
    )
    expect(page.locator("#unread-count")).to_be_visible()
    expect(page.locator("#unread-label")).to_have_text(
        " notification non lue" if before == 0 else " notifications non lues"
    )

    page.click("#mark-read")
    expect(page.locator("#unread-count")).to_be_hidden()
    expect(page.locator("#notif-status")).to_contain_text("marquées comme lues")
    page.reload()
    expect(page.locator("#unread-count")).to_be_hidden()
    expect(page.locator("#notif-list li").first).to_have_class("notif")
    assert not page.js_errors, page.js_errors


REPORT_CARD = """
from django.db import transaction
from core.reportcards.events import ReportCardAvailable
from core.roster.models import Org, User
from hub import send_event
from hub.streams import user_stream
karim = User.objects.get(username="karim")
lea = User.objects.get(username="lea")
with transaction.atomic():
    send_event([user_stream(karim.pk)], ReportCardAvailable(
        op="published", report_card_id=999, student_id=lea.pk,
        student_name=lea.get_full_name(), org_id=Org.objects.get(uai="0350001A").pk,
        class_title="4e B", period_title="Trimestre témoin",
        actor_id=karim.pk,
    ))
"""


@pytest.mark.browser
def test_a_report_card_arrives_in_french_with_its_link(live_hub, page, login):
    # A kind notifications.js does not word itself: the centre shows the
    # server's words (its push and e-mail title), live and after a reload.
    login(page, "karim")
    page.goto("/notifications/")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")

    live_hub.shell(REPORT_CARD)

    link = page.locator("#notif-list li").first.locator("a")
    expect(link).to_contain_text(
        "Bulletin disponible (Trimestre témoin)", timeout=15_000
    )
    expect(link).to_contain_text("Léa Dubois")
    expect(link).to_have_attribute("href", "/reportcards/")
    expect(page.locator("#notif-list")).not_to_contain_text("reportcards.")
    page.reload()
    link = page.locator("#notif-list li").first.locator("a")
    expect(link).to_contain_text("Bulletin disponible (Trimestre témoin)")
    expect(link).to_have_attribute("href", "/reportcards/")
    assert not page.js_errors, page.js_errors
