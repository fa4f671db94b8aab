"""What notifications.js says about a withdrawn absence, in French and English."""

import pytest
from playwright.sync_api import expect

CLEARED = {
    "kind": "attendance.record",
    "op": "cleared",
    "stream": "user:1",
    "offset": 1,
    "data": {
        "record_id": 1,
        "student_id": 1,
        "student_name": "Léa Dubois",
        "org_id": 1,
        "status": "present",
        "minutes_late": None,
        "lesson": {
            "id": 1,
            "class_id": 1,
            "class_title": "4e B",
            "subject": "Mathématiques",
            "start": "2026-01-19T08:00:00+01:00",
            "end": "2026-01-19T09:00:00+01:00",
        },
    },
}

DESCRIBE = """async (event) => {
  const { describe } = await import("/static/hub/notifications.js");
  return describe(event);
}"""


@pytest.mark.browser
def test_a_cleared_mark_reads_naturally(page, login):
    login(page, "karim")
    page.goto("/notifications/")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    assert page.evaluate(DESCRIBE, CLEARED) == (
        "Absence annulée\u00a0: Léa Dubois était présent·e en Mathématiques "
        "(lun. 19 janv., 08:00)"
    )
    with page.expect_navigation():
        page.click('.language-form button[value="en"]')
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.evaluate(DESCRIBE, CLEARED) == (
        "Absence cancelled: Léa Dubois was present in Mathématiques (Mon, Jan 19, 08:00)"
    )
    with page.expect_navigation():
        page.click('.language-form button[value="fr"]')
    assert not page.js_errors, page.js_errors
