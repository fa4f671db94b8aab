"""The CPE's excuse queue, live: a guardian's new excuse appears on the CPE's
open page without reload and can be accepted there; a decision taken by
another CPE removes the card."""

import re

import pytest
from playwright.sync_api import expect

# Two past lessons of 4e B taught by alice, each with Léa marked absent, and a
# second CPE of the school, nadia (the one who decides gets no event of it).
SEED = """
import datetime as dt
from zoneinfo import ZoneInfo
from core.attendance.actions import take_roll_call
from core.roster.models import SchoolClass, User
from core.timetable.models import Feed, Lesson, Occurrence
school_class = SchoolClass.objects.get(title="4e B", org__uai="0350001A")
feed, _ = Feed.objects.get_or_create(school_class=school_class, defaults={"name": "seed"})
alice = User.objects.get(username="alice")
lea = User.objects.get(username="lea")
if not User.objects.filter(username="nadia").exists():
    from tests.conftest import make_user
    nadia = make_user("nadia", User.Role.ADMINISTRATOR, "Nadia", "Benali")
    nadia.orgs.add(school_class.org)
    from core.roster.actions import grant_school_life_staff
    grant_school_life_staff(nadia)
ids = []
for uid, subject, day in [("queue-music", "Éducation musicale", 20),
                          ("queue-art", "Arts plastiques", 21)]:
    lesson, _ = Lesson.objects.get_or_create(
        feed=feed, school_class=school_class, uid=uid, defaults={"subject": subject})
    start = dt.datetime(2026, 1, day, 10, tzinfo=ZoneInfo("Europe/Paris"))
    occurrence, _ = Occurrence.objects.get_or_create(
        lesson=lesson, recurrence_key="", defaults=dict(
            school_class=school_class, start=start, end=start + dt.timedelta(minutes=55),
            subject=subject, room="Salle 3"))
    occurrence.teachers.set([alice])
    roll_call = take_roll_call(occurrence=occurrence, teacher=alice,
                               marks={lea.pk: ("absent", None)})
    ids.append(roll_call.records.get(student=lea).pk)
print(*ids)
"""

SUBMIT = """
from core.attendance.actions import submit_excuse
from core.attendance.models import AttendanceRecord
from core.roster.models import User
excuse = submit_excuse(record=AttendanceRecord.objects.get(pk={pk}),
                       guardian=User.objects.get(username="karim"),
                       reason="medical", comment="Rendez-vous chez l'orthodontiste")
print(excuse.pk)
"""


def open_absences(page):
    page.goto("/absences/")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    page.evaluate("window.notReloaded = true")


def expect_empty_state_matches(page):
    """The queue shows its empty state exactly when no card is left."""
    queue = page.locator("#excuse-queue")
    if queue.locator("li[data-excuse-id]").count():
        expect(queue.locator("li.empty")).to_have_count(0)
    else:
        expect(queue.locator("li.empty")).to_have_count(1)
        expect(queue.locator("li.empty")).to_have_text("Aucun justificatif en attente.")


@pytest.mark.browser
def test_cpe_sees_a_new_excuse_live_and_accepts_it(live_hub, browser, login):
    music, art = map(int, live_hub.shell(SEED).split())
    contexts = [
        browser.new_context(
            base_url=live_hub.url, locale="fr-FR", timezone_id="Europe/Paris"
        )
        for _ in range(3)
    ]
    try:
        cpe, other_cpe, parent = (context.new_page() for context in contexts)
        errors = []
        for page in (cpe, other_cpe, parent):
            page.on("pageerror", lambda error: errors.append(str(error)))
        login(cpe, "paul")
        login(other_cpe, "nadia")
        login(parent, "karim")
        open_absences(cpe)
        open_absences(other_cpe)
        open_absences(parent)
        expect_empty_state_matches(cpe)

        # The guardian excuses the music lesson through the page.
        row = parent.locator(f'#records tr[data-record-id="{music}"]')
        with parent.expect_navigation():
            row.get_by_role("link", name="Justificatif").click()
        parent.select_option("#id_reason", "illness")
        parent.fill("#id_comment", "Fièvre <b>38,5</b>")
        with parent.expect_navigation():
            parent.click("form.stacked-form button[type=submit]")
        expect(parent.locator(".message--success")).to_be_visible()
        # Drawn by the server: its words may not be capitalised (yet).
        expect(
            parent.locator(f'#records tr[data-record-id="{music}"]')
        ).to_contain_text(re.compile("en attente", re.I))
        parent.evaluate("window.notReloaded = true")

        # Both CPE pages show the card without reloading, the text escaped.
        for page in (cpe, other_cpe):
            card = page.locator("#excuse-queue li[data-excuse-id]").filter(
                has_text="Éducation musicale"
            )
            expect(card).to_have_count(1, timeout=20_000)
            expect(card).to_contain_text("Léa Dubois")
            expect(card).to_contain_text("maladie")
            expect(card).to_contain_text("« Fièvre <b>38,5</b> »")
            expect(card.locator("b")).to_have_count(0)
            expect_empty_state_matches(page)
            expect(
                page.locator(f'#records tr[data-record-id="{music}"] .excuse')
            ).to_contain_text("En attente")
            assert page.evaluate("window.notReloaded") is True
        music_card = cpe.locator("#excuse-queue li[data-excuse-id]").filter(
            has_text="Éducation musicale"
        )
        music_excuse = music_card.get_attribute("data-excuse-id")

        # A note being typed survives the arrival of another excuse.
        music_card.get_by_placeholder("Note (facultative)").fill("Vu avec la famille")
        live_hub.shell(SUBMIT.format(pk=art))
        art_card = cpe.locator("#excuse-queue li[data-excuse-id]").filter(
            has_text="Arts plastiques"
        )
        expect(art_card).to_have_count(1, timeout=10_000)
        expect(music_card.get_by_placeholder("Note (facultative)")).to_have_value(
            "Vu avec la famille"
        )
        assert cpe.evaluate("window.notReloaded") is True

        # The CPE accepts the music excuse from the live card (its CSRF form works).
        with cpe.expect_navigation():
            music_card.get_by_role("button", name="Accepter").click()
        expect(cpe.locator(".message--success")).to_have_text("Décision enregistrée.")
        expect(
            cpe.locator(f'#excuse-queue li[data-excuse-id="{music_excuse}"]')
        ).to_have_count(0)
        expect(
            cpe.locator(f'#records tr[data-record-id="{music}"] .excuse')
        ).to_contain_text("ccept")  # "accepté", capitalised or not

        # The other CPE's page drops the card live; the guardian sees the decision.
        expect(
            other_cpe.locator(f'#excuse-queue li[data-excuse-id="{music_excuse}"]')
        ).to_have_count(0, timeout=10_000)
        expect(
            other_cpe.locator(f'#records tr[data-record-id="{music}"] .excuse')
        ).to_contain_text("Accepté")
        expect(
            parent.locator(f'#records tr[data-record-id="{music}"] .excuse')
        ).to_contain_text("Accepté", timeout=10_000)

        # Paul refuses the art excuse: Nadia's queue empties live.
        art_excuse = other_cpe.locator("#excuse-queue li[data-excuse-id]").filter(
            has_text="Arts plastiques"
        )
        expect(art_excuse).to_have_count(1)
        with cpe.expect_navigation():
            cpe.locator("#excuse-queue li[data-excuse-id]").filter(
                has_text="Arts plastiques"
            ).get_by_role("button", name="Refuser").click()
        expect(art_excuse).to_have_count(0, timeout=10_000)
        expect_empty_state_matches(other_cpe)
        expect_empty_state_matches(cpe)
        expect(
            parent.locator(f'#records tr[data-record-id="{art}"] .excuse')
        ).to_contain_text("Refusé", timeout=10_000)
        for page in (other_cpe, parent):
            assert page.evaluate("window.notReloaded") is True
        assert not errors, errors
    finally:
        for context in contexts:
            context.close()
