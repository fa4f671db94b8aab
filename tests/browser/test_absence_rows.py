"""Rows added live to the absences page: at their place by lesson start, and
reading like the rows the server draws (same words, same date format)."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

REPO = Path(__file__).resolve().parents[2]

# Lessons of 4e B taught by alice, by uid: (subject, day of January 2026, hour).
SEED = """
import datetime as dt
from zoneinfo import ZoneInfo
from core.roster.models import SchoolClass, User
from core.timetable.models import Feed, Lesson, Occurrence
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
feed, _ = Feed.objects.get_or_create(school_class=school_class, defaults={{"name": "seed"}})
alice = User.objects.get(username="alice")
ids = []
for uid, (subject, day, hour) in {lessons!r}.items():
    lesson, _ = Lesson.objects.get_or_create(
        feed=feed, school_class=school_class, uid=uid, defaults={{"subject": subject}})
    start = dt.datetime(2026, 1, day, hour, tzinfo=ZoneInfo("Europe/Paris"))
    occurrence, _ = Occurrence.objects.get_or_create(
        lesson=lesson, recurrence_key="", defaults=dict(
            school_class=school_class, start=start, end=start + dt.timedelta(minutes=55),
            subject=subject, room="Salle 5"))
    occurrence.teachers.set([alice])
    ids.append(occurrence.pk)
print(*ids)
"""

MARK = """
from core.attendance.actions import take_roll_call
from core.roster.models import User
from core.timetable.models import Occurrence
lea = User.objects.get(username="lea")
take_roll_call(occurrence=Occurrence.objects.get(pk={pk}),
               teacher=User.objects.get(username="alice"),
               marks={{lea.pk: ({status!r}, {minutes!r})}})
"""


def seed(live_hub, lessons: dict) -> list[int]:
    return [int(pk) for pk in live_hub.shell(SEED.format(lessons=lessons)).split()]


def mark(live_hub, occurrence_id: int, status: str, minutes: int | None = None):
    live_hub.shell(MARK.format(pk=occurrence_id, status=status, minutes=minutes))


def row_texts(page, subject: str) -> list[str]:
    row = page.locator("#records tbody tr").filter(has_text=subject)
    expect(row).to_have_count(1, timeout=10_000)
    return [" ".join(text.split()) for text in row.locator("td").all_text_contents()]


def open_parent_page(browser, live_hub, login, language: str):
    context = browser.new_context(
        base_url=live_hub.url, locale="fr-FR", timezone_id="Europe/Paris"
    )
    page = context.new_page()
    login(page, "karim")
    page.goto("/absences/")
    if language == "en":
        with page.expect_navigation():
            page.click('.language-form button[value="en"]')
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    page.evaluate("window.notReloaded = true")
    return context, page


@pytest.mark.browser
def test_a_live_row_goes_at_its_place_by_lesson_start(live_hub, browser, login):
    newer, older = seed(
        live_hub,
        {"rows-newer": ("Latin", 23, 14), "rows-older": ("Grec ancien", 22, 14)},
    )
    context, page = open_parent_page(browser, live_hub, login, "fr")
    try:
        rows = page.locator("#records tbody tr")
        mark(live_hub, newer, "absent")
        expect(rows.filter(has_text="Latin")).to_have_count(1, timeout=10_000)
        mark(live_hub, older, "late", 12)  # arrives last, but its lesson is older
        expect(rows.filter(has_text="Grec ancien")).to_have_count(1, timeout=10_000)
        texts = rows.all_text_contents()
        position = {
            subject: next(i for i, text in enumerate(texts) if subject in text)
            for subject in ("Latin", "Grec ancien")
        }
        assert position["Latin"] < position["Grec ancien"], texts
        # Rows that carry their lesson start are newest first.
        starts = page.eval_on_selector_all(
            "#records tbody tr[data-start]",
            "rows => rows.map(row => Date.parse(row.dataset.start))",
        )
        assert starts == sorted(starts, reverse=True), starts
        assert page.evaluate("window.notReloaded") is True
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_live_row_reads_like_the_server_row(live_hub, browser, login, language):
    """The same row, added live, then drawn by the server after a reload."""
    subject = {"fr": "Espagnol LV2", "en": "Allemand LV2"}[language]
    day = {"fr": 26, "en": 27}[language]
    late, absent = seed(
        live_hub,
        {
            f"rows-{language}-late": (f"{subject} (retard)", day, 8),
            f"rows-{language}-absent": (f"{subject} (absence)", day, 9),
        },
    )
    context, page = open_parent_page(browser, live_hub, login, language)
    try:
        mark(live_hub, late, "late", 7)
        mark(live_hub, absent, "absent")
        live = [
            row_texts(page, f"{subject} (retard)"),
            row_texts(page, f"{subject} (absence)"),
        ]
        assert page.evaluate("window.notReloaded") is True
        assert re.search(r"\(7 min\)", live[0][2]), live
        page.reload()
        expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
        drawn = [
            row_texts(page, f"{subject} (retard)"),
            row_texts(page, f"{subject} (absence)"),
        ]
        assert live == drawn
    finally:
        context.close()
