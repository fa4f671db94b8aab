"""Report cards in real browsers: school-life staff publish a term for
4e B; the PDFs are made by the task worker (``manage.py db_worker``, as
``make run`` starts it); the staff's open page follows the generation and
the guardian's open page shows the new card, live, and downloads it."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_roster_import_live import task_worker  # noqa: F401

SEED = """
import datetime as dt
from decimal import Decimal
from django.utils import timezone
from core.grades.models import Evaluation, Mark, Period
from core.roster.models import SchoolClass, User
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
period, _ = Period.objects.get_or_create(
    org=school_class.org, session=school_class.session, title="2e trimestre",
    defaults=dict(start_date=dt.date(2025, 12, 1), end_date=dt.date(2026, 3, 10)))
evaluation, _ = Evaluation.objects.get_or_create(
    school_class=school_class, subject="Mathématiques", period=period,
    title="Contrôle", defaults=dict(teacher=User.objects.get(username="alice"),
    date=dt.date(2026, 1, 12), published_at=timezone.now()))
for username, value in (("lea", "14.5"), ("hugo", "9")):
    Mark.objects.get_or_create(evaluation=evaluation,
        student=User.objects.get(username=username), defaults={"value": Decimal(value)})
pupils = school_class.enrollments.filter(role="student").count()
print(school_class.pk, period.pk, pupils)
"""


def new_page(browser, live_hub, size=None):
    context = browser.new_context(
        base_url=live_hub.url,
        locale="fr-FR",
        timezone_id="Europe/Paris",
        viewport=size or {"width": 1280, "height": 800},
    )
    return context, context.new_page()


@pytest.mark.browser
def test_staff_publish_and_the_guardians_open_page_shows_the_card(
    live_hub,
    browser,
    login,
    screens_dir,
    task_worker,  # noqa: F811
):
    # Other journeys of the session may have added pupils to 4e B.
    class_id, period_id, pupils = live_hub.shell(SEED).split()
    staff_context, staff = new_page(browser, live_hub)
    family_context, parent = new_page(browser, live_hub, {"width": 360, "height": 740})
    try:
        login(staff, "paul")
        login(parent, "karim")
        parent.goto("/reportcards/")
        staff.goto(f"/reportcards/class/{class_id}/period/{period_id}/")
        for page in (staff, parent):
            expect(page.locator("#hub-status")).to_have_attribute(
                "data-state", "connected"
            )
        parent.evaluate("window.notReloaded = true")
        lea = parent.locator(".rc-child", has_text="Léa Dubois")
        expect(lea.locator(".rc-card", has_text="2e trimestre")).to_have_count(0)

        staff.fill(
            f"#{staff.locator('textarea').first.get_attribute('id')}",
            "Très bon trimestre, l’élève s’investit.",
        )
        with staff.expect_navigation():
            staff.get_by_role("button", name="Enregistrer les appréciations").click()
        expect(staff.locator(".message--success")).to_be_visible()
        with staff.expect_navigation():
            staff.get_by_role("button", name="Publier les bulletins").click()
        expect(staff.locator(".rc-progress")).to_contain_text(f"en cours : {pupils}")
        staff.evaluate("window.notReloaded = true")

        task_worker()

        # The staff's open page follows the generation without a reload.
        expect(staff.locator(".rc-progress")).to_contain_text(
            f"Générés : {pupils}", timeout=20_000
        )
        assert staff.evaluate("window.notReloaded") is True
        # The guardian's open page shows Léa's new card, live.
        card = lea.locator(".rc-card", has_text="2e trimestre")
        expect(card).to_have_count(1, timeout=20_000)
        expect(parent.locator("#reportcards-status")).to_contain_text(
            "Nouveau bulletin pour Léa Dubois"
        )
        assert parent.evaluate("window.notReloaded") is True
        # Hugo's card is not Karim's.
        expect(parent.locator(".rc-child", has_text="Hugo")).to_have_count(0)
        with parent.expect_download() as download:
            card.get_by_role("link").click()
        path = download.value.path()
        with open(path, "rb") as handle:
            assert handle.read(5) == b"%PDF-"
        assert download.value.suggested_filename.endswith(".pdf")
        parent.screenshot(path=str(screens_dir / "karim-reportcards-live-360.png"))
        width = parent.evaluate("document.documentElement.scrollWidth")
        assert width <= 360
    finally:
        staff_context.close()
        family_context.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 360])
def test_the_appraisal_pages_fit_and_pass_axe(
    live_hub, browser, login, screens_dir, width
):
    """The teacher's and the staff's forms (the shared lists have the index
    pages): no horizontal scroll at 360 px, no serious axe violation."""
    from tests.browser.test_accessibility import run_axe

    class_id, period_id, _pupils = live_hub.shell(SEED).split()
    pages = {
        "alice": [
            f"/reportcards/class/{class_id}/period/{period_id}/subject/"
            "?subject=Math%C3%A9matiques"
        ],
        "paul": [f"/reportcards/class/{class_id}/period/{period_id}/"],
    }
    for username, paths in pages.items():
        context = browser.new_context(
            base_url=live_hub.url,
            viewport={"width": width, "height": 800},
            locale="fr-FR",
            bypass_csp=True,  # axe is injected inline (CSP: test_csp.py)
        )
        page = context.new_page()
        try:
            login(page, username)
            for path in paths:
                response = page.goto(path)
                assert response.status == 200, f"{path}: HTTP {response.status}"
                expect(page.locator("#hub-status")).to_have_attribute(
                    "data-state", "connected"
                )
                page.screenshot(
                    path=str(screens_dir / f"{username}-reportcard-form-{width}.png"),
                    full_page=True,
                )
                assert page.evaluate("document.scrollingElement.scrollWidth") <= width
                assert run_axe(page) == [], path
        finally:
            context.close()
