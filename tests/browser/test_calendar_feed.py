"""A pupil sees the school holidays in the week view, copies the calendar link
and renews it: the old link stops working."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect


@pytest.fixture(scope="module")
def school_calendar(live_hub):
    """Load the shipped school calendar; the personas' school is in Rennes."""
    live_hub.manage("load_school_calendar")
    live_hub.shell(
        "from core.roster.models import Org; "
        "Org.objects.filter(uai='0350001A').update(academy='Rennes', holiday_zone='')"
    )
    return live_hub


@pytest.mark.browser
def test_pupil_sees_holidays_copies_and_renews_the_calendar_link(
    school_calendar, page, login, screens_dir
):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, "lea")
    page.goto("/timetable/?week=2019-10-21")
    monday = page.locator('section.day[data-date="2019-10-21"]')
    expect(monday.locator(".day__holiday")).to_have_text("Vacances de la Toussaint")
    # Two weeks on (without reloading), lessons resume on Monday 4 November.
    page.click("#week-next")
    expect(
        page.locator('section.day[data-date="2019-10-28"] .day__holiday')
    ).to_have_text("Vacances de la Toussaint")
    page.click("#week-next")
    resumed = page.locator('section.day[data-date="2019-11-04"]')
    expect(resumed.locator(".day__empty")).to_have_text("Pas de cours")
    expect(resumed.locator(".day__holiday")).to_have_count(0)

    box = page.locator("#calendar-subscribe")
    expect(box.locator("h2")).to_have_text("S'abonner dans votre agenda")
    link = page.locator("#calendar-feed-url").input_value()
    assert re.fullmatch(r"https?://[^/]+/calendar/[0-9a-f]{64}\.ics", link)
    path = urlsplit(link).path
    page.click("#calendar-feed-copy")
    expect(page.locator("#calendar-feed-status")).to_have_text("Lien copié.")
    assert page.evaluate("navigator.clipboard.readText()") == link
    feed = page.request.get(path)
    assert feed.status == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    assert feed.text().startswith("BEGIN:VCALENDAR")
    box.screenshot(path=str(screens_dir / "calendar-subscribe.png"))

    with page.expect_navigation():
        page.click("#calendar-subscribe button[type=submit]")
    expect(page.locator(".messages")).to_contain_text(
        "l'ancien lien ne fonctionne plus"
    )
    renewed = page.locator("#calendar-feed-url").input_value()
    assert renewed != link
    assert page.request.get(path).status == 404
    assert page.request.get(urlsplit(renewed).path).status == 200
    assert not page.js_errors, page.js_errors
