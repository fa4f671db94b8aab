"""Push notifications in a real Chromium: the service worker shows and closes them.

A real push subscription cannot be made in headless Chromium: there is no
push service behind ``pushManager.subscribe()`` in a browser without Google
services. The Chrome DevTools Protocol replaces the push service:
``ServiceWorker.deliverPushMessage`` hands a payload to the registered
worker exactly as a decrypted push would arrive (the ``push`` event with
``event.data``), so what is tested is everything after the push service:
``/sw.js`` as the hub serves it, its parsing, the text it shows (title, body,
the child and the school), its tags, and closing by tag. Encryption and the
push service protocol are tested against a local RFC 8030 endpoint in
``tests/delivery``.

The notifications shown are read back with ``registration.getNotifications()``
in the page (headless Chromium keeps them, without drawing them anywhere).
"""

import json
import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

NOTIFICATIONS = """
() => navigator.serviceWorker.ready
  .then((registration) => registration.getNotifications())
  .then((shown) => shown.map((n) => ({title: n.title, body: n.body, tag: n.tag,
                                       data: n.data, icon: n.icon})))
"""


def new_page(browser, live_hub, width=1280, height=800):
    """Return a page of a fresh context allowed to show notifications."""
    context = browser.new_context(
        base_url=live_hub.url,
        viewport={"width": width, "height": height},
        locale="fr-FR",
        timezone_id="Europe/Paris",
    )
    context.set_default_timeout(15_000)
    context.grant_permissions(["notifications"], origin=live_hub.url)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    return page


def registration_id(page, live_hub) -> tuple:
    """Return ``(cdp session, registration id)`` of the worker scoped at ``/``."""
    cdp = page.context.new_cdp_session(page)
    found = {}

    def updated(event):
        for registration in event["registrations"]:
            if registration["scopeURL"] == live_hub.url + "/":
                if registration.get("isDeleted"):
                    found.pop("id", None)
                else:
                    found["id"] = registration["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while "id" not in found and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # lets Playwright dispatch the CDP events
    assert "id" in found, "the service worker registration was not reported"
    return cdp, found["id"]


def deliver(cdp, live_hub, registration, message) -> None:
    """Hand ``message`` (a dict, or raw text) to the worker as a push would."""
    data = message if isinstance(message, str) else json.dumps(message)
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": live_hub.url, "registrationId": registration, "data": data},
    )


def shown(page, tag=None, timeout=10.0) -> list[dict]:
    """Return the notifications shown (those with ``tag`` if given), waiting
    up to ``timeout`` seconds for at least one."""
    deadline = time.monotonic() + timeout
    while True:
        notes = page.evaluate(NOTIFICATIONS)
        if tag is not None:
            notes = [n for n in notes if n["tag"] == tag]
        if notes or time.monotonic() > deadline:
            return notes
        page.wait_for_timeout(100)


def test_a_push_shows_the_child_and_the_school_then_a_close_removes_it(
    live_hub, browser, login
):
    page = new_page(browser, live_hub)
    login(page, "karim")
    page.goto("/settings/notifications/")
    # The page registers /sw.js; the explanation is there before any tap.
    expect(page.locator("#push-explain")).to_be_visible()
    expect(page.locator("#push-enable")).to_have_text(
        "Activer les notifications sur cet appareil"
    )
    expect(page.locator("#push-state")).to_have_attribute("data-state", "off")
    assert page.evaluate(
        "navigator.serviceWorker.ready.then((r) => r.active.scriptURL)"
    ) == (live_hub.url + "/sw.js?lang=fr")
    cdp, registration = registration_id(page, live_hub)

    deliver(
        cdp,
        live_hub,
        registration,
        {
            "type": "show",
            "title": "Léa Dubois : absence en Mathématiques",
            "body": "lun. 19 janv., 08:00",
            "tag": "absence-41",
            "url": "/absences/?student=7",
            "child": "Léa Dubois",
            "school": "Collège Victor Hugo",
            "ts": "2026-01-19T08:05:00+01:00",
        },
    )

    notes = shown(page, "absence-41")
    assert len(notes) == 1, notes
    note = notes[0]
    assert note["title"] == "Léa Dubois : absence en Mathématiques"
    assert "lun. 19 janv., 08:00" in note["body"]
    assert "Léa Dubois · Collège Victor Hugo" in note["body"]
    assert note["data"] == {"url": "/absences/?student=7"}
    assert note["icon"].endswith("/static/hub/favicon.svg")

    deliver(cdp, live_hub, registration, {"type": "close", "tags": ["absence-41"]})

    deadline = time.monotonic() + 10
    while shown(page, "absence-41", timeout=0) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert shown(page, "absence-41", timeout=0) == []
    assert not page.js_errors, page.js_errors
    page.context.close()


def test_a_malformed_push_shows_a_generic_notification_and_foreign_urls_stay_home(
    live_hub, browser, login
):
    page = new_page(browser, live_hub)
    login(page, "sophie")
    page.goto("/settings/notifications/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    cdp, registration = registration_id(page, live_hub)

    deliver(cdp, live_hub, registration, "{not json")
    deliver(
        cdp,
        live_hub,
        registration,
        {
            "type": "show",
            "title": "Nouveau message",
            "tag": "conversation-9",
            "url": "https://evil.example/phish",
        },
    )

    generic = [n for n in shown(page) if n["title"] == "Nouvelle notification"]
    assert generic, shown(page)
    message = shown(page, "conversation-9")
    assert message and message[0]["data"] == {"url": "/"}
    page.context.close()


@pytest.mark.parametrize(
    ("username", "path"),
    [("karim", "/settings/notifications/"), ("paul", "/delivery/log/?q=dubois")],
)
def test_delivery_pages_fit_360_px(live_hub, browser, login, username, path):
    page = new_page(browser, live_hub, width=360, height=740)
    login(page, username)

    response = page.goto(path)

    assert response.status == 200
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 360, f"{path} is {width} px wide at 360 px"
    assert not page.js_errors, page.js_errors
    page.context.close()
