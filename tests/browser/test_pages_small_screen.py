"""Every persona's pages fit a 360 px wide phone screen, in French."""

import pytest
from playwright.sync_api import expect

PAGES = {
    "karim": ["/", "/timetable/?week=2026-01-19", "/notifications/", "/absences/"],
    "alice": ["/", "/absences/"],
    "lea": ["/", "/notifications/"],
    "paul": ["/", "/absences/"],
}


@pytest.mark.browser
@pytest.mark.parametrize("username", sorted(PAGES))
def test_pages_fit_360_px(live_hub, browser, login, screens_dir, username):
    context = browser.new_context(
        base_url=live_hub.url, viewport={"width": 360, "height": 740}, locale="fr-FR"
    )
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        login(page, username)
        for path in PAGES[username]:
            response = page.goto(path)
            assert response.status == 200, f"{path}: HTTP {response.status}"
            expect(page.locator("html")).to_have_attribute("lang", "fr")
            expect(page.locator("#hub-status")).to_have_attribute(
                "data-state", "connected"
            )
            width = page.evaluate("document.scrollingElement.scrollWidth")
            name = path.strip("/").split("?")[0].replace("/", "-") or "home"
            page.screenshot(
                path=str(screens_dir / f"{username}-{name}-360.png"), full_page=True
            )
            assert width <= 360, f"{path} is {width} px wide for {username}"
        assert not errors, errors
    finally:
        context.close()
