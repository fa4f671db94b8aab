"""The installable app in a real Chromium (frontend/webapp.py, static/hub/sw.js).

- Chromium finds nothing missing to install it (the DevTools Protocol's own
  check, ``Page.getInstallabilityErrors``, as the install button uses it).
- Offline, the timetable and notifications last seen show again with the
  "Hors ligne" banner; a page never saved shows the offline page; after
  logout nothing of the user's is left.
- An iPhone is told to add the hub to its home screen before push.
"""

import tempfile
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_accessibility import run_axe

pytestmark = pytest.mark.browser

TIMETABLE = "/timetable/?week=2026-01-19"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
# Safari on a Mac, and on an iPad (iPadOS asks for the desktop site).
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)

# An absence of Léa on Karim's own stream, a subject no other test uses.
SEED_NOTIFICATION = """
from django.db import transaction
from core.attendance.events import AttendanceRecorded, LessonRef
from core.roster.models import Org, SchoolClass, User
from hub import send_event
from hub.streams import user_stream
karim, lea = User.objects.get(username="karim"), User.objects.get(username="lea")
klass = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
with transaction.atomic():
    send_event([user_stream(karim.pk)], AttendanceRecorded(
        op="recorded", record_id=990001, student_id=lea.pk,
        student_name=lea.get_full_name(), org_id=klass.org_id, status="absent",
        minutes_late=None, lesson=LessonRef(
            id=990001, class_id=klass.pk, class_title="4e B",
            subject="Arts plastiques", start="2026-01-20T14:00:00+01:00",
            end="2026-01-20T15:00:00+01:00")))
"""

SAVED_PAGES = """
() => caches.open("hub-pages")
  .then((cache) => cache.keys())
  .then((requests) => requests.map((r) => new URL(r.url).pathname + new URL(r.url).search))
"""


def new_context(browser, live_hub, width=1280, **options):
    context = browser.new_context(
        base_url=live_hub.url,
        viewport={"width": width, "height": 800},
        locale="fr-FR",
        timezone_id="Europe/Paris",
        **options,
    )
    context.set_default_timeout(15_000)
    return context


def wait_for_worker(page) -> None:
    """Wait until /sw.js is active and controls ``page`` (registered by every page)."""
    page.wait_for_function(
        "() => navigator.serviceWorker.controller !== null"
        " && navigator.serviceWorker.controller.state === 'activated'"
    )


def saved_pages(page) -> list[str]:
    """Return the paths (with their query) the worker keeps for offline."""
    return page.evaluate(SAVED_PAGES)


def saved(page, paths, timeout=10.0) -> None:
    """Wait until the worker's cache of pages holds every one of ``paths``."""
    deadline = time.monotonic() + timeout
    while not set(paths) <= set(saved_pages(page)):
        assert time.monotonic() < deadline, saved_pages(page)
        page.wait_for_timeout(100)


def test_chromium_finds_the_hub_installable(live_hub, browser, login):
    # An incognito context (Playwright's default) can never install an app:
    # this one keeps a profile on disk, as a phone's browser does.
    with tempfile.TemporaryDirectory(prefix="hub-pwa-") as profile:
        context = browser.browser_type.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            base_url=live_hub.url,
            locale="fr-FR",
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            login(page, "karim")
            wait_for_worker(page)
            cdp = context.new_cdp_session(page)

            manifest = cdp.send("Page.getAppManifest")
            installability = cdp.send("Page.getInstallabilityErrors")
        finally:
            context.close()

    assert manifest["url"] == live_hub.url + "/manifest.webmanifest"
    assert manifest["errors"] == []
    assert '"short_name": "ENT"' in manifest["data"]
    assert installability["installabilityErrors"] == []


def test_offline_the_last_timetable_and_notifications_stay_readable(
    live_hub, browser, login
):
    live_hub.shell(SEED_NOTIFICATION)
    context = new_context(browser, live_hub)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    login(page, "karim")
    wait_for_worker(page)
    # Registered by the home page without asking anything of the user.
    assert page.evaluate("Notification.permission") == "default"
    page.goto(TIMETABLE)
    expect(page.locator("section.day").first).to_be_visible()
    lessons = page.locator("#timetable").inner_text()
    page.goto("/notifications/")
    expect(page.locator("#notif-list")).to_contain_text("Arts plastiques")
    saved(page, [TIMETABLE, "/notifications/"])

    context.set_offline(True)
    page.goto(TIMETABLE)
    banner = page.locator("#offline-banner")
    expect(banner).to_be_visible(timeout=15_000)
    expect(banner).to_contain_text("Hors ligne — dernière mise à jour le ")
    expect(page.locator("section.day").first).to_be_visible()
    assert page.locator("#timetable").inner_text() == lessons

    page.goto("/notifications/")
    expect(page.locator("#offline-banner")).to_be_visible()
    expect(page.locator("#notif-list")).to_contain_text("Arts plastiques")

    # A page this device never saved: the offline page, with what is left.
    page.goto("/absences/")
    expect(page.locator("h1")).to_have_text("Vous êtes hors ligne")
    pages = page.locator("#offline-pages li")
    expect(pages).to_have_count(2)
    expect(page.locator("#offline-retry")).to_have_attribute("href", "/absences/")
    expect(pages.filter(has_text="Emploi du temps")).to_contain_text("enregistrée le")
    expect(
        page.locator("#offline-pages a", has_text="Notifications")
    ).to_have_attribute("href", "/notifications/")

    # Back online, logging out leaves nothing of Karim's on the device.
    context.set_offline(False)
    page.goto("/")
    with page.expect_navigation():
        page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/login/")
    deadline = time.monotonic() + 10
    while saved_pages(page) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert saved_pages(page) == []
    context.set_offline(True)
    page.goto(TIMETABLE)
    expect(page.locator("h1")).to_have_text("Vous êtes hors ligne")
    expect(page.locator("#offline-none")).to_be_visible()
    assert not errors, errors
    context.close()


@pytest.mark.parametrize("width", [360, 1280])
def test_offline_pages_pass_the_accessibility_check_at(live_hub, browser, login, width):
    context = new_context(browser, live_hub, width, bypass_csp=True)
    page = context.new_page()
    login(page, "lea")
    wait_for_worker(page)
    page.goto("/notifications/")
    saved(page, ["/notifications/"])
    context.set_offline(True)
    found = {}
    for path in ("/notifications/", "/absences/"):
        page.goto(path)
        # A worker woken on a loaded machine can take a few seconds.
        expect(page.locator("#offline-banner, #offline-title")).to_be_visible(
            timeout=15_000
        )
        found[path] = run_axe(page)
        wide = page.evaluate("document.scrollingElement.scrollWidth")
        assert wide <= width, f"{path} offline is {wide} px wide"
    context.close()

    assert found == {"/notifications/": [], "/absences/": []}


@pytest.mark.parametrize("width", [360, 1280])
def test_an_iphone_is_told_to_add_the_hub_to_its_home_screen(
    live_hub, browser, login, width
):
    context = new_context(
        browser,
        live_hub,
        width,
        user_agent=IPHONE,
        is_mobile=width == 360,
        has_touch=True,
        bypass_csp=True,
    )
    page = context.new_page()
    login(page, "karim")
    page.goto("/settings/notifications/")

    instructions = page.locator("#push-ios")
    expect(instructions).to_be_visible()
    expect(instructions).to_contain_text("touchez Partager")
    expect(instructions).to_contain_text("« Sur l’écran d’accueil »")
    expect(page.locator("#push-state")).to_have_attribute("data-state", "install")
    expect(page.locator("#push-state")).to_have_text(
        "Sur iPhone et iPad, ajoutez d’abord le hub à l’écran d’accueil."
    )
    expect(page.locator("#push-enable")).to_be_hidden()
    violations = run_axe(page)
    context.close()

    assert violations == []


def test_an_ipad_saying_macintosh_is_told_too(live_hub, browser, login):
    context = new_context(browser, live_hub, user_agent=MAC_SAFARI)
    page = context.new_page()
    # A touch screen of several points: what tells an iPad from a Mac.
    context.new_cdp_session(page).send(
        "Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5}
    )
    login(page, "karim")
    page.goto("/settings/notifications/")

    expect(page.locator("#push-ios")).to_be_visible()
    expect(page.locator("#push-state")).to_have_attribute("data-state", "install")
    context.close()


@pytest.mark.parametrize("user_agent", [None, MAC_SAFARI], ids=["chromium", "mac"])
def test_a_desktop_browser_is_not_told_about_the_home_screen(
    live_hub, browser, login, user_agent
):
    context = new_context(browser, live_hub, user_agent=user_agent)
    page = context.new_page()
    login(page, "karim")
    page.goto("/settings/notifications/")

    expect(page.locator("#push-state")).not_to_have_attribute("data-state", "unknown")
    expect(page.locator("#push-state")).not_to_have_attribute("data-state", "install")
    expect(page.locator("#push-ios")).to_be_hidden()
    assert "Sur l’écran d’accueil" not in page.locator("main").inner_text()
    context.close()
