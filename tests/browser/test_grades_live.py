"""Grades in real browsers: a teacher creates an evaluation, types the marks
with the keyboard (Enter goes to the next pupil), publishes, and the
guardian's already open Notes page shows the child's mark live, and no other
pupil's."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_homework_live import MATHS

PERIODS = """
import datetime as dt
from core.grades.models import Period
from core.roster.models import SchoolClass
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
for title, start, end in [
    ("Trimestre 1", dt.date(2025, 9, 1), dt.date(2025, 11, 30)),
    ("Trimestre 2", dt.date(2025, 12, 1), dt.date(2026, 2, 28)),
    ("Trimestre 3", dt.date(2026, 3, 1), dt.date(2026, 7, 4)),
]:
    Period.objects.get_or_create(org=school_class.org, session=school_class.session,
        title=title, defaults={"start_date": start, "end_date": end})
print(Period.objects.get(org=school_class.org, title="Trimestre 3").pk)
"""


def new_page(browser, live_hub):
    context = browser.new_context(
        base_url=live_hub.url, locale="fr-FR", timezone_id="Europe/Paris"
    )
    return context, context.new_page()


@pytest.mark.browser
def test_a_published_mark_reaches_the_open_notes_page(live_hub, browser, login):
    live_hub.shell(MATHS)
    term = live_hub.shell(PERIODS).strip()
    contexts, pages = [], {}
    for name in ("alice", "karim", "sophie"):
        context, page = new_page(browser, live_hub)
        contexts.append(context)
        login(page, name)
        pages[name] = page
    try:
        teacher, parent, other_parent = pages["alice"], pages["karim"], pages["sophie"]
        lea = live_hub.shell(
            "from core.roster.models import User;"
            "print(User.objects.get(username='lea').pk)"
        ).strip()
        hugo = live_hub.shell(
            "from core.roster.models import User;"
            "print(User.objects.get(username='hugo').pk)"
        ).strip()
        parent.goto(f"/grades/?child={lea}&period={term}")
        other_parent.goto(f"/grades/?period={term}")
        for page in (parent, other_parent):
            expect(page.locator("#hub-status")).to_have_attribute(
                "data-state", "connected"
            )
            page.evaluate("window.notReloaded = true")
        title = "Contrôle : équations du premier degré"
        expect(parent.locator("#grades-notes")).not_to_contain_text(title)

        teacher.goto("/grades/")
        teacher.locator("section", has_text="4e B").get_by_role(
            "link", name="Nouvelle évaluation"
        ).click()
        teacher.fill("#id_title", title)
        teacher.select_option("#id_subject", "Mathématiques")
        teacher.fill("#id_date", "2026-06-02")
        teacher.fill("#id_coefficient", "2")
        teacher.fill("#id_out_of", "40")
        with teacher.expect_navigation():
            teacher.get_by_role("button", name="Créer et saisir les notes").click()
        expect(teacher.locator("h1")).to_contain_text(title)

        # Keyboard: Enter goes down to the next pupil's mark.
        teacher.fill(f"input[name=mark-{lea}]", "31")
        teacher.press(f"input[name=mark-{lea}]", "Enter")
        focused = teacher.evaluate("document.activeElement.name")
        assert focused == f"mark-{hugo}"
        teacher.keyboard.type("ABS")
        # A wrong cell is flagged as typed; the server refuses it, keeps it.
        teacher.fill(f"input[name=comment-{lea}]", "Très bien <b>rédigé</b>")
        teacher.fill(f"input[name=mark-{lea}]", "41")
        expect(teacher.locator(f"input[name=mark-{lea}]")).to_have_attribute(
            "aria-invalid", "true"
        )
        teacher.locator("#marks-grid").evaluate("form => form.noValidate = true")
        with teacher.expect_navigation():
            teacher.get_by_role("button", name="Enregistrer le brouillon").click()
        expect(teacher.locator(".message--error")).to_contain_text("rien n'a été")
        expect(teacher.locator(f"input[name=mark-{lea}]")).to_have_value("41")
        # "ABS" was written back as "abs" on leaving the cell.
        expect(teacher.locator(f"input[name=mark-{hugo}]")).to_have_value("abs")
        teacher.fill(f"input[name=mark-{lea}]", "31")
        expect(teacher.locator(f"input[name=mark-{lea}]")).to_have_attribute(
            "aria-invalid", "false"
        )
        with teacher.expect_navigation():
            teacher.get_by_role("button", name="Publier").click()
        expect(teacher.locator(".message--success")).to_contain_text("Notes publiées")

        # The guardian's open page shows Léa's mark, without a reload.
        item = parent.locator(".grade", has_text=title)
        expect(item).to_have_count(1, timeout=8_000)
        expect(item.locator(".grade__value")).to_have_text("31/40")
        expect(item).to_contain_text("Très bien <b>rédigé</b>")  # text, not markup
        expect(parent.locator("#grades-status")).to_contain_text("Nouvelle note")
        # Hugo's mother sees Hugo's "absent", never Léa's mark.
        hugo_item = other_parent.locator(".grade", has_text=title)
        expect(hugo_item).to_have_count(1, timeout=8_000)
        expect(hugo_item.locator(".grade__value")).to_have_text("absent")
        # (The class figures, which the school shows, are over Léa's mark.)
        expect(other_parent.locator("#grades-notes")).not_to_contain_text("31/40")
        expect(other_parent.locator("#grades-notes")).not_to_contain_text("Très bien")
        for page in (parent, other_parent):
            assert page.evaluate("window.notReloaded") is True
    finally:
        for context in contexts:
            context.close()
