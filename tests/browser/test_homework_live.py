"""The homework notebook in real browsers: a teacher sets homework and the
pupil's open notebook shows it live; the pupil ticks it "fait" and the
guardian's open page (and the pupil's other tab) shows it."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

DUE = """
import datetime as dt
from django.utils import timezone
day = timezone.localdate() + dt.timedelta(days=3)
while day.weekday() >= 5:
    day += dt.timedelta(days=1)
print(day.isoformat())
"""


# 4e B's timetable names Alice for maths: the form offers the class's
# timetable subjects (other journeys add lessons of their own to 4e B).
MATHS = """
import datetime as dt
from django.utils import timezone
from core.roster.models import SchoolClass, User
from core.timetable.models import Feed, Lesson, Occurrence
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
feed, _ = Feed.objects.get_or_create(school_class=school_class, defaults={"name": "seed"})
lesson, _ = Lesson.objects.get_or_create(
    feed=feed, school_class=school_class, uid="homework-maths",
    defaults={"subject": "Mathématiques"})
start = timezone.now().replace(microsecond=0) + dt.timedelta(days=7)
occurrence, _ = Occurrence.objects.get_or_create(
    lesson=lesson, recurrence_key="", defaults=dict(
        school_class=school_class, start=start, end=start + dt.timedelta(minutes=55),
        subject="Mathématiques", room="B12"))
occurrence.teachers.set([User.objects.get(username="alice")])
"""


@pytest.fixture(scope="module", autouse=True)
def maths_lesson(live_hub):
    live_hub.shell(MATHS)


def new_page(browser, live_hub):
    context = browser.new_context(
        base_url=live_hub.url, locale="fr-FR", timezone_id="Europe/Paris"
    )
    return context, context.new_page()


def set_homework(page, title: str, due: str) -> None:
    page.goto("/homework/")
    page.get_by_role("link", name="4e B").first.click()
    page.select_option("#id_subject", "Mathématiques")
    page.fill("#id_title", title)
    page.select_option("#id_kind", "exercise")
    page.fill("#id_text", "Rédiger les calculs <b>proprement</b>.")
    page.fill("#id_due_date", due)
    with page.expect_navigation():
        page.get_by_role("button", name="Enregistrer le devoir").click()
    expect(page.locator(".message--success")).to_contain_text("Devoir enregistré")


@pytest.mark.browser
def test_homework_reaches_the_open_notebook_and_done_reaches_the_guardian(
    live_hub, browser, login
):
    due = live_hub.shell(DUE).strip()
    contexts, pages = [], {}
    for name in ("alice", "lea", "lea-2", "karim"):
        context, page = new_page(browser, live_hub)
        contexts.append(context)
        login(page, name.split("-")[0])
        pages[name] = page
    try:
        pupil, other_tab, parent = pages["lea"], pages["lea-2"], pages["karim"]
        pupil.goto("/homework/")
        other_tab.goto("/homework/")
        lea_id = pupil.locator("#homework").get_attribute("data-pupil")
        parent.goto(f"/homework/?child={lea_id}")
        for page in (pupil, other_tab, parent):
            expect(page.locator("#hub-status")).to_have_attribute(
                "data-state", "connected"
            )
            page.evaluate("window.notReloaded = true")
        title = "Exercices 12 à 15 page 88"
        item = pupil.locator(".hw", has_text=title)
        expect(item).to_have_count(0)

        set_homework(pages["alice"], title, due)

        # Journey 1: the pupil's open notebook shows it, without a reload.
        expect(item).to_have_count(1, timeout=8_000)
        expect(item).to_contain_text("Mathématiques")
        expect(item).to_contain_text("Alice Martin")
        expect(item).to_contain_text("<b>proprement</b>")  # text, not markup
        expect(parent.locator(".hw", has_text=title)).to_have_count(1, timeout=8_000)

        # Journey 2: ticking "fait" reaches the guardian and the other tab.
        item.get_by_label("Fait").check()
        parent_item = parent.locator(".hw", has_text=title)
        expect(parent_item.locator(".hw__done-tag")).to_have_attribute(
            "data-done", "1", timeout=8_000
        )
        expect(parent_item.locator(".hw__done-tag")).to_have_text("Fait")
        expect(
            other_tab.locator(".hw", has_text=title).get_by_label("Fait")
        ).to_be_checked(timeout=8_000)
        item.get_by_label("Fait").uncheck()
        expect(parent_item.locator(".hw__done-tag")).to_have_text(
            "À faire", timeout=8_000
        )
        for page in (pupil, other_tab, parent):
            assert page.evaluate("window.notReloaded") is True

        # A removal: the open page keeps the item, marked removed.
        teacher = pages["alice"]
        card = teacher.locator(".hw", has_text=title)
        with teacher.expect_navigation():
            card.get_by_role("button", name="Supprimer").click()
        expect(item).to_contain_text(
            re.compile("Supprimé par le professeur"), timeout=8_000
        )
        expect(item.get_by_label("Fait")).to_be_disabled()
    finally:
        for context in contexts:
            context.close()


@pytest.mark.browser
def test_the_workload_shows_when_the_teacher_picks_a_due_date(live_hub, browser, login):
    due = live_hub.shell(DUE).strip()
    context, page = new_page(browser, live_hub)
    try:
        login(page, "alice")
        set_homework(page, "Contrôle chapitre 3", due)
        page.fill("#id_title", "autre")
        page.fill("#id_due_date", due)
        page.locator("#id_due_date").dispatch_event("change")
        expect(page.locator("#workload-hint")).to_contain_text(
            "Déjà prévu ce jour-là : Mathématiques", timeout=5_000
        )
        assert dt.date.fromisoformat(due)
    finally:
        context.close()
