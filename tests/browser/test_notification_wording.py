"""What notifications.js says about a withdrawn absence and about timetable
changes, in French and English."""

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

READ = """async (event) => {
  const { describe, detail, eventLink } = await import("/static/hub/notifications.js");
  return [describe(event), detail(event), eventLink(event)];
}"""


def lesson(id, subject, start, **extra):
    return {
        "id": id,
        "class_id": 2,
        "subject": subject,
        "start": start,
        "end": start.replace("T08", "T09"),
        "room": "B12",
        "teachers": "AM",
        "status": "scheduled",
        "previous_start": None,
        "previous_end": None,
        "previous_room": "",
        "previous_teachers": "",
        "reason": "",
        **extra,
    }


def changes(count, first):
    return {
        "kind": "timetable.changes",
        "op": "changed",
        "stream": "class:2",
        "offset": 9,
        "data": {
            "batch": 40,
            "class_id": 2,
            "class_title": "3e A",
            "org_id": 1,
            "count": count,
            "week": "2026-01-19",
            "first": first,
            "reason": "",
        },
    }


CANCELLED = {
    "op": "cancelled",
    "changes": ["cancelled"],
    "occurrence": lesson(
        11, "Maths", "2026-01-19T08:00:00+01:00", status="cancelled", reason="Sortie"
    ),
}
MOVED = {
    "op": "moved",
    "changes": ["moved"],
    "occurrence": lesson(
        12,
        "Français",
        "2026-01-20T08:00:00+01:00",
        previous_start="2026-01-19T10:00:00+01:00",
    ),
}
ROOM = {
    "op": "room_changed",
    "changes": ["room_changed"],
    "occurrence": lesson(
        13, "Anglais", "2026-01-21T08:00:00+01:00", room="C3", previous_room="B12"
    ),
}


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


@pytest.mark.browser
def test_timetable_changes_read_as_one_notification(page, login):
    login(page, "karim")
    page.goto("/notifications/")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    link = "/timetable/?class=2&week=2026-01-19"
    assert page.evaluate(READ, changes(7, [CANCELLED, MOVED, ROOM])) == [
        "7 changements dans l'emploi du temps de 3e A",
        "Maths lun. 19 janv., 08:00 annulé, "
        "Français déplacé au mar. 20 janv., 08:00, "
        "Anglais mer. 21 janv., 08:00 en salle C3, …",
        link,
    ]
    # A batch of one reads as that change, as before batches.
    assert page.evaluate(READ, changes(1, [CANCELLED])) == [
        "Cours annulé\u00a0: Maths, lun. 19 janv., 08:00 (Sortie)",
        "",
        link,
    ]
    with page.expect_navigation():
        page.click('.language-form button[value="en"]')
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.evaluate(READ, changes(3, [CANCELLED, MOVED, ROOM]))[:2] == [
        "3 changes in the timetable of 3e A",
        "Maths Mon, Jan 19, 08:00 cancelled, "
        "Français moved to Tue, Jan 20, 08:00, "
        "Anglais Wed, Jan 21, 08:00 in room C3",
    ]
    with page.expect_navigation():
        page.click('.language-form button[value="fr"]')
    assert not page.js_errors, page.js_errors


GRADE = {
    "kind": "grades.mark",
    "op": "published",
    "stream": "user:1",
    "offset": 3,
    "data": {"student_id": 1, "student_name": "Léa Dubois"},
}


@pytest.mark.browser
def test_a_kind_without_describer_reads_the_server_words_or_a_sentence(page, login):
    login(page, "karim")
    page.goto("/notifications/")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    # From the notifications API: the server's title, body and link.
    served = {
        **GRADE,
        "title": "Nouvelle note en Mathématiques : Contrôle (15,5/20)",
        "body": "Léa Dubois",
        "url": "/grades/?child=1&period=2",
    }
    assert page.evaluate(READ, served) == [
        "Nouvelle note en Mathématiques : Contrôle (15,5/20)",
        "Léa Dubois",
        "/grades/?child=1&period=2",
    ]
    # Live, before the list is fetched again: a sentence, never the kind.
    assert page.evaluate(READ, GRADE) == ["Nouvelle notification", "", None]
    # A link elsewhere than this site is not followed.
    assert page.evaluate(READ, {**served, "url": "//evil.example/"})[2] is None
    with page.expect_navigation():
        page.click('.language-form button[value="en"]')
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.evaluate(DESCRIBE, GRADE) == "New notification"
    with page.expect_navigation():
        page.click('.language-form button[value="fr"]')
    assert not page.js_errors, page.js_errors
