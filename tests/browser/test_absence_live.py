"""The absence journey in two real browsers: a teacher's roll call reaches the
guardian's open page live, and a page that was offline catches up exactly once."""

import re

import pytest
from playwright.sync_api import expect

SEED_LESSONS = """
import datetime as dt
from django.utils import timezone
from core.roster.models import SchoolClass, User
from core.timetable.models import Feed, Lesson, Occurrence
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
feed, _ = Feed.objects.get_or_create(school_class=school_class, defaults={"name": "seed"})
alice = User.objects.get(username="alice")
now = timezone.now().replace(second=0, microsecond=0)
ids = []
for uid, subject, minutes_ago in [("abs-1", "Physique-chimie", 70), ("abs-2", "Technologie", 10)]:
    lesson, _ = Lesson.objects.get_or_create(
        feed=feed, school_class=school_class, uid=uid, defaults={"subject": subject})
    start = now - dt.timedelta(minutes=minutes_ago)
    occurrence, _ = Occurrence.objects.get_or_create(
        lesson=lesson, recurrence_key="", defaults=dict(
            school_class=school_class, start=start, end=start + dt.timedelta(minutes=55),
            subject=subject, room="Labo 1"))
    occurrence.teachers.set([alice])
    ids.append(occurrence.pk)
print(*ids)
"""


def take_roll_call(page, occurrence_id: int, pupil_label: str) -> None:
    page.goto(f"/absences/roll-call/{occurrence_id}/")
    row = page.locator("tr", has=page.locator("th", has_text=pupil_label))
    row.locator("input[value=absent]").check()
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("appel", re.I)).click()
    expect(page.locator(".message--success")).to_be_visible()


@pytest.mark.browser
def test_guardian_page_shows_absences_live_and_catches_up_once_after_offline(
    live_hub, browser, login
):
    first, second = map(int, live_hub.shell(SEED_LESSONS).split())
    contexts = [
        browser.new_context(
            base_url=live_hub.url, locale="fr-FR", timezone_id="Europe/Paris"
        )
        for _ in range(2)
    ]
    try:
        teacher, parent = (context.new_page() for context in contexts)
        login(teacher, "alice")
        login(parent, "karim")
        parent.goto("/absences/")
        expect(parent.locator("#hub-status")).to_have_attribute(
            "data-state", "connected"
        )
        rows = parent.locator("#records tbody tr")
        physics = rows.filter(has_text="Physique-chimie")
        technology = rows.filter(has_text="Technologie")
        expect(physics).to_have_count(0)
        parent.evaluate("window.notReloaded = true")
        badge_before = int(
            parent.locator("#unread-count").get_attribute("data-count") or 0
        )

        take_roll_call(teacher, first, "Dubois Léa")
        expect(physics).to_have_count(1, timeout=5_000)
        expect(physics).to_contain_text("Léa Dubois")
        expect(physics).to_contain_text("Absent")
        expect(parent.locator("#unread-count")).to_have_attribute(
            "data-count", str(badge_before + 1)
        )

        contexts[1].set_offline(True)
        expect(parent.locator("#hub-status")).not_to_have_attribute(
            "data-state", "connected"
        )
        take_roll_call(teacher, second, "Dubois Léa")
        parent.wait_for_timeout(1_000)
        expect(technology).to_have_count(0)

        contexts[1].set_offline(False)
        expect(technology).to_have_count(1, timeout=20_000)
        expect(parent.locator("#hub-status")).to_have_attribute(
            "data-state", "connected"
        )
        parent.wait_for_timeout(1_500)  # a duplicate would arrive within this time
        expect(technology).to_have_count(1)
        expect(physics).to_have_count(1)
        expect(parent.locator("#unread-count")).to_have_attribute(
            "data-count", str(badge_before + 2)
        )
        assert parent.evaluate("window.notReloaded") is True
    finally:
        for context in contexts:
            context.close()
