"""A pupil's week view updates live when a newer timetable export is imported."""

import re

import pytest
from playwright.sync_api import expect

FLOP_BEFORE = "ical/flopedt_iut-blagnac_RT-BUT1-1C_2025-12-14T1822Z_before.ics"
FLOP_AFTER = "ical/flopedt_iut-blagnac_RT-BUT1-1C_2025-12-15T0629Z_after.ics"


@pytest.fixture(scope="module")
def flop_4b(live_hub):
    """Import the flop!EDT "before" export into 4e B (once for the module)."""
    live_hub.manage("load_holidays")
    live_hub.manage(
        "import_ical",
        "--class",
        "4e B",
        "--org",
        "0350001A",
        str(live_hub.data_file(FLOP_BEFORE)),
    )
    return live_hub


def badge_count(page) -> int:
    return int(page.locator("#unread-count").get_attribute("data-count") or 0)


@pytest.mark.browser
def test_pupil_sees_a_reimport_live_without_reload(flop_4b, page, login, screens_dir):
    login(page, "lea")
    page.goto("/timetable/?week=2026-01-19")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    tuesday = page.locator('section.day[data-date="2026-01-20"]')
    r111 = tuesday.locator(".occ", has_text="R111 TD")
    expect(r111).to_have_count(1)
    expect(r111).not_to_have_class(re.compile("occ--cancelled"))
    before = badge_count(page)
    page.evaluate("window.__notReloaded = true")

    flop_4b.manage(
        "import_ical",
        "--class",
        "4e B",
        "--org",
        "0350001A",
        "--reason",
        "Nouvel export flop!EDT",
        str(flop_4b.data_file(FLOP_AFTER)),
    )

    expect(r111).to_have_class(re.compile("occ--cancelled"), timeout=20_000)
    expect(r111).to_contain_text("Annulé")
    assert (
        r111.locator(".occ__time").evaluate(
            "node => getComputedStyle(node).textDecorationLine"
        )
        == "line-through"
    )
    moved = page.locator(".occ--moved .occ__note--moved")
    expect(moved.first).to_contain_text(re.compile(r"initialement \w+ \d\d:\d\d"))
    # Seven lessons changed: each is drawn, the import is one notification
    # (the badge counts it once) and is announced once, after them.
    expect(page.locator("#timetable-announcer")).to_have_text(
        "7 changements dans l'emploi du temps de 4e B (Nouvel export flop!EDT)",
        timeout=10_000,
    )
    expect(page.locator("#unread-count")).to_have_attribute(
        "data-count", str(before + 1), timeout=10_000
    )
    assert page.evaluate("window.__notReloaded") is True
    assert not page.js_errors, page.js_errors

    page.screenshot(path=str(screens_dir / "timetable-live-1280.png"))
    page.set_viewport_size({"width": 360, "height": 780})
    r111.scroll_into_view_if_needed()
    page.screenshot(path=str(screens_dir / "timetable-live-360.png"), full_page=True)
    page.screenshot(path=str(screens_dir / "timetable-live-360-viewport.png"))
    # On a phone the week is one column, day after day.
    columns = page.locator("#week").evaluate(
        "node => getComputedStyle(node).gridTemplateColumns.split(' ').length"
    )
    assert columns == 1

    # The notification centre lists the import once, its first changes below.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/notifications/")
    # Other journeys share the hub and change 4e B too: this import's batch.
    batch = page.locator(
        "#notif-list li", has_text="7 changements dans l'emploi du temps de 4e B"
    )
    expect(batch).to_have_count(1)
    expect(batch).to_contain_text(
        "7 changements dans l'emploi du temps de 4e B (Nouvel export flop!EDT)"
    )
    expect(batch.locator(".notif__detail")).to_contain_text(
        re.compile(r"R111 TD \w+\. 20 janv\., 11:05 annulé, …$")
    )
    expect(page.locator("#notif-list li", has_text="R111 TD")).to_have_count(1)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(screens_dir / "notifications-batch-360.png"))
    assert not page.js_errors, page.js_errors
