"""Parent–teacher meetings in real browsers: the teacher opens slots from
the evening's page, a guardian books one, and the teacher's open page shows
who booked it live (no reload); the guardian's other open page sees the
slot go."""

import pytest
from playwright.sync_api import expect

# An evening of 4e B a week ahead whose booking is open now.
EVENING = """
import datetime as dt
from django.utils import timezone
from core.agenda import actions
from core.agenda.models import MeetingEvening
from core.roster.models import SchoolClass, User
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
evening = MeetingEvening.objects.filter(title="Réunion navigateur").first()
if evening is None:
    now = timezone.now()
    evening = actions.create_evening(
        actor=User.objects.get(username="paul"), org=school_class.org,
        title="Réunion navigateur", date=timezone.localdate() + dt.timedelta(days=7),
        class_ids=[school_class.pk], booking_opens=now - dt.timedelta(hours=1),
        booking_closes=now + dt.timedelta(days=5))
print(evening.pk)
"""


@pytest.fixture(scope="module")
def evening_id(live_hub) -> int:
    return int(live_hub.shell(EVENING).strip())


def new_page(browser, live_hub, errors):
    context = browser.new_context(
        base_url=live_hub.url, locale="fr-FR", timezone_id="Europe/Paris"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page


@pytest.mark.browser
def test_a_booking_reaches_the_teachers_open_page(live_hub, browser, login, evening_id):
    contexts, errors = [], []
    try:
        context, teacher = new_page(browser, live_hub, errors)
        contexts.append(context)
        login(teacher, "alice")
        teacher.goto(f"/agenda/evenings/{evening_id}/")
        teacher.fill("#id_start", "17:00")
        teacher.fill("#id_end", "17:30")
        teacher.fill("#id_minutes", "10")
        teacher.fill("#id_room", "B12")
        with teacher.expect_navigation():
            teacher.get_by_role("button", name="Ouvrir les créneaux").click()
        expect(teacher.locator(".message--success")).to_contain_text(
            "3 créneaux ouverts"
        )
        expect(teacher.locator("#my-slots .slot")).to_have_count(3)
        expect(teacher.locator("#hub-status")).to_have_attribute(
            "data-state", "connected"
        )

        context, parent = new_page(browser, live_hub, errors)
        contexts.append(context)
        login(parent, "karim")
        context, other = new_page(browser, live_hub, errors)
        contexts.append(context)
        login(other, "sophie")
        other.goto(f"/agenda/evenings/{evening_id}/")
        expect(other.locator("#hub-status")).to_have_attribute(
            "data-state", "connected"
        )
        expect(other.get_by_role("button", name="17:00 (B12)")).to_be_visible()

        parent.goto(f"/agenda/evenings/{evening_id}/")
        with parent.expect_navigation():
            parent.get_by_role("button", name="17:00 (B12)").click()
        expect(parent.locator(".message--success")).to_contain_text("Rendez-vous pris")
        expect(parent.locator("#agenda-live")).to_contain_text("Rendez-vous à 17:00")

        # Live: the teacher sees who booked, Sophie sees the slot go.
        taken = teacher.locator("#my-slots .slot--taken")
        expect(taken).to_have_count(1)
        expect(taken).to_contain_text("Karim Dubois pour Léa Dubois")
        expect(teacher.locator("#agenda-status")).to_contain_text(
            "Un rendez-vous a été pris."
        )
        expect(other.get_by_role("button", name="17:00 (B12)")).to_have_count(0)
        expect(other.get_by_role("button", name="17:10 (B12)")).to_be_visible()
        assert errors == []
    finally:
        for context in contexts:
            context.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [360, 1280])
@pytest.mark.parametrize("username", ["alice", "karim", "paul"])
def test_the_evening_page_fits_and_passes_the_accessibility_check(
    live_hub, browser, login, evening_id, username, width
):
    """The evening's page (not in the shared page lists: its id comes from
    this module's seed) at 360 and 1280 px, with axe-core (serious and
    critical violations) as tests/browser/test_accessibility.py runs it."""
    from tests.browser.test_accessibility import run_axe

    context = browser.new_context(
        base_url=live_hub.url,
        viewport={"width": width, "height": 740},
        locale="fr-FR",
        # axe is injected inline (the journey above runs under the page's CSP).
        bypass_csp=True,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        login(page, username)
        response = page.goto(f"/agenda/evenings/{evening_id}/")
        assert response.status == 200
        expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        assert run_axe(page) == []
        assert errors == []
    finally:
        context.close()
