"""Course documents in two real browsers: teacher Alice uploads a PDF to 4e B
through the form, and pupil Léa's open documents page shows it at once,
without a reload; Léa downloads it; Alice deletes it and it leaves Léa's
page; the pages fit 360 px and 1280 px and pass axe."""

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_messaging_live import connected, new_context, watch_errors
from tests.documents.conftest import pdf_bytes


def class_4b_url(live_hub) -> str:
    out = live_hub.shell(
        "from core.roster.models import SchoolClass;"
        "print(SchoolClass.objects.get(title='4e B', org__uai='0350001A').pk)"
    )
    return f"/documents/class/{out.strip().splitlines()[-1]}/"


def no_horizontal_scroll(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


@pytest.mark.browser
def test_a_teacher_uploads_and_the_pupils_open_page_shows_it_live(
    live_hub, browser, login, screens_dir, tmp_path
):
    title = f"Carte de l'Europe {uuid.uuid4().hex[:6]}"
    url = class_4b_url(live_hub)
    pdf = tmp_path / "carte.pdf"
    pdf.write_bytes(pdf_bytes("Carte"))
    contexts = [
        new_context(browser, live_hub),
        new_context(browser, live_hub, width=360, height=780),
    ]
    try:
        teacher, pupil = (context.new_page() for context in contexts)
        teacher_errors, pupil_errors = watch_errors(teacher), watch_errors(pupil)
        login(teacher, "alice")
        login(pupil, "lea")

        # Léa's tab, on a phone, is open on 4e B's documents.
        pupil.goto(url)
        connected(pupil)
        pupil.evaluate("window.notReloaded = true")
        expect(pupil.locator("h1")).to_contain_text("4e B")
        item = pupil.locator("#document-list .doc", has_text=title)
        expect(item).to_have_count(0)
        assert no_horizontal_scroll(pupil)
        expect(pupil.locator("#add-form")).to_have_count(0)  # pupils do not write

        # Alice adds the PDF through the form, guardians allowed (default).
        teacher.goto(url)
        expect(teacher.locator("#quota")).to_contain_text("Votre espace")
        teacher.get_by_label("Titre").fill(title)
        teacher.locator("#add-file").set_input_files(str(pdf))
        with teacher.expect_navigation():
            teacher.get_by_role("button", name="Ajouter", exact=True).click()
        expect(teacher.locator(".message--success")).to_contain_text(title)
        expect(teacher.locator("#document-list .doc", has_text=title)).to_have_count(1)

        # Léa's page shows it without a reload, with its download link.
        expect(item).to_have_count(1, timeout=20_000)
        assert pupil.evaluate("window.notReloaded") is True
        expect(pupil.locator("#documents-announcer")).to_contain_text(
            "Nouveau document"
        )
        link = item.get_by_role("link", name=title)
        href = link.get_attribute("href")
        assert href and href.startswith("/documents/files/")
        response = pupil.request.get(href)
        assert response.status == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.body().startswith(b"%PDF")
        assert no_horizontal_scroll(pupil)
        pupil.screenshot(path=str(screens_dir / "documents-live-360.png"))
        teacher.screenshot(
            path=str(screens_dir / "documents-teacher-1280.png"), full_page=True
        )
        teacher.set_viewport_size({"width": 360, "height": 780})
        assert no_horizontal_scroll(teacher)
        teacher.screenshot(
            path=str(screens_dir / "documents-teacher-360.png"), full_page=True
        )
        # Alice deletes it: it leaves Léa's page as live.
        teacher.set_viewport_size({"width": 1280, "height": 800})
        mine = teacher.locator("#document-list .doc", has_text=title)
        with teacher.expect_navigation():
            mine.get_by_role("button", name="Supprimer").click()
        expect(item).to_have_count(0, timeout=20_000)
        assert pupil.evaluate("window.notReloaded") is True
        assert not teacher_errors, teacher_errors
        assert not pupil_errors, pupil_errors
    finally:
        for context in contexts:
            context.close()


ADD_LINK = """
from core.documents import access, actions
from core.roster.models import SchoolClass, User
alice = User.objects.get(username="alice")
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
space = access.get_space(alice, "class", school_class.pk)
actions.add_link(space=space, actor=alice, url="https://example.org/",
                 title={title!r})
"""


@pytest.mark.browser
def test_an_item_added_live_has_the_teachers_forms(live_hub, browser, login):
    """On a teacher's open page, an item arriving live can be deleted (and a
    file given a new version) without a reload, like the page's own."""
    title = f"Frise {uuid.uuid4().hex[:6]}"
    context = new_context(browser, live_hub)
    try:
        teacher = context.new_page()
        errors = watch_errors(teacher)
        login(teacher, "alice")
        teacher.goto(class_4b_url(live_hub))
        connected(teacher)
        live_hub.shell(ADD_LINK.format(title=title))
        item = teacher.locator("#document-list .doc", has_text=title)
        expect(item).to_have_count(1, timeout=20_000)
        button = item.get_by_role("button", name=f"Supprimer {title}")
        expect(button).to_be_visible()
        with teacher.expect_navigation():
            button.click()
        expect(teacher.locator(".message--success")).to_contain_text(title)
        expect(item).to_have_count(0)
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.browser
def test_a_teacher_hides_an_item_and_the_guardians_open_page_drops_it(
    live_hub, browser, login
):
    """Karim (Léa's father) has 4e B's documents open; Alice hides an item
    (its form drawn live on her page) and it leaves his page without a
    reload; she shows it again and it comes back."""
    title = f"Croquis {uuid.uuid4().hex[:6]}"
    url = class_4b_url(live_hub)
    contexts = [
        new_context(browser, live_hub),
        new_context(browser, live_hub, width=360, height=780),
    ]
    try:
        teacher, guardian = (context.new_page() for context in contexts)
        teacher_errors, guardian_errors = watch_errors(teacher), watch_errors(guardian)
        login(teacher, "alice")
        login(guardian, "karim")
        guardian.goto(url)
        connected(guardian)
        guardian.evaluate("window.notReloaded = true")
        teacher.goto(url)
        connected(teacher)
        live_hub.shell(ADD_LINK.format(title=title))
        seen = guardian.locator("#document-list .doc", has_text=title)
        expect(seen).to_have_count(1, timeout=20_000)
        mine = teacher.locator("#document-list .doc", has_text=title)
        expect(mine).to_have_count(1, timeout=20_000)
        expect(seen.get_by_role("button")).to_have_count(0)  # guardians do not write

        with teacher.expect_navigation():
            mine.get_by_role("button", name=f"Masquer aux parents {title}").click()
        expect(teacher.locator(".message--success")).to_contain_text(
            "masqué aux parents"
        )
        expect(seen).to_have_count(0, timeout=20_000)
        assert guardian.evaluate("window.notReloaded") is True

        with teacher.expect_navigation():
            mine.get_by_role(
                "button", name=f"Rendre visible des parents {title}"
            ).click()
        expect(seen).to_have_count(1, timeout=20_000)
        assert guardian.evaluate("window.notReloaded") is True
        expect(guardian.locator("#documents-announcer")).to_contain_text(
            "Nouveau document"
        )
        assert not teacher_errors, teacher_errors
        assert not guardian_errors, guardian_errors
    finally:
        for context in contexts:
            context.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 360])
@pytest.mark.parametrize("username", ["alice", "lea", "karim", "paul"])
def test_documents_pages_fit_and_pass_axe(live_hub, browser, login, username, width):
    from tests.browser.test_accessibility import run_axe

    # axe is injected inline: the page's CSP is test_csp.py's business.
    context = browser.new_context(
        base_url=live_hub.url,
        viewport={"width": width, "height": 800},
        locale="fr-FR",
        timezone_id="Europe/Paris",
        bypass_csp=True,
    )
    context.set_default_timeout(15_000)
    context_errors = []
    try:
        page = context.new_page()
        context_errors = watch_errors(page)
        login(page, username)
        found = {}
        for path in ("/documents/", class_4b_url(live_hub)):
            response = page.goto(path)
            assert response.status == 200, f"{path}: HTTP {response.status}"
            expect(page.locator("html")).to_have_attribute("lang", "fr")
            connected(page)
            assert no_horizontal_scroll(page), f"{path} scrolls sideways at {width}"
            violations = run_axe(page)
            if violations:
                found[path] = violations
        assert not found, found
        assert not context_errors, context_errors
    finally:
        context.close()
