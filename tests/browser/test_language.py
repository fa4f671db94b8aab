"""The language switcher turns pages and their live parts into English."""

import pytest
from playwright.sync_api import expect


@pytest.mark.browser
def test_switching_to_english_translates_pages_and_scripts(page, login):
    login(page, "lea")
    page.goto("/timetable/?week=2026-01-21")
    expect(page.locator("#week-label")).to_have_text("Semaine du 19 janvier 2026")
    with page.expect_navigation():
        page.click('.language-form button[value="en"]')
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".site-nav")).to_contain_text("Timetable")
    # Drawn by timetable.js with the JavaScript catalog of the new language.
    expect(page.locator("#week-label")).to_have_text("Week of January 19, 2026")
    expect(page.locator("section.day h2").first).to_have_text("Monday, January 19")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    expect(page.locator("#hub-status .hub-status__text")).to_have_text("Live")
    with page.expect_navigation():
        page.click('.language-form button[value="fr"]')
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert not page.js_errors, page.js_errors
