"""School-life notices in real browsers: the CPE publishes a notice asking
for an acknowledgement; Karim's open "Informations" page shows it live; he
acknowledges it; the CPE's open acknowledgement page follows live."""

import re

import pytest
from playwright.sync_api import expect

# How many guardians of 4e the notice reaches: other journeys of the session
# may have added pupils (and guardians) to 4e B.
GUARDIANS_OF_4E = """
from core.roster.audience import Audience, members
from core.roster.models import Org
org = Org.objects.get(uai="0350001A")
print(len(members(Audience(org.pk, frozenset({"guardian"}), frozenset({"4e"})))))
"""


def new_page(browser, live_hub):
    context = browser.new_context(
        base_url=live_hub.url, locale="fr-FR", timezone_id="Europe/Paris"
    )
    return context, context.new_page()


@pytest.mark.browser
def test_a_notice_reaches_the_guardian_and_his_acknowledgement_the_cpe(
    live_hub, browser, login
):
    contexts = []
    total = live_hub.shell(GUARDIANS_OF_4E).strip()
    try:
        cpe_context, cpe = new_page(browser, live_hub)
        parent_context, parent = new_page(browser, live_hub)
        contexts += [cpe_context, parent_context]
        login(cpe, "paul")
        login(parent, "karim")
        parent.goto("/schoollife/")
        expect(parent.locator("#hub-status")).to_have_attribute(
            "data-state", "connected"
        )
        parent.evaluate("window.notReloaded = true")
        title = "Sortie au musée des Beaux-Arts"
        notice = parent.locator(".notice", has_text=title)
        expect(notice).to_have_count(0)

        # The CPE publishes to the guardians of 4e, asking for an answer.
        cpe.goto("/schoollife/new/")
        cpe.get_by_label("responsables").check()
        cpe.get_by_label("4e", exact=True).check()
        cpe.fill("#id_title", title)
        cpe.fill("#id_body", "Départ à 8 h. <b>Prévoir</b> un pique-nique.")
        cpe.get_by_label("Demander une confirmation de lecture").check()
        cpe.select_option("#id_reply_kind", "yes_no")
        with cpe.expect_navigation():
            cpe.get_by_role("button", name="Publier").click()
        expect(cpe.locator(".message--success")).to_contain_text("Information publiée")
        expect(cpe.locator("#ack-total")).to_contain_text(f"0 sur {total}")
        expect(cpe.locator("#hub-status")).to_have_attribute("data-state", "connected")
        cpe.evaluate("window.notReloaded = true")

        # Karim's open list shows it without a reload, to confirm.
        expect(notice).to_have_count(1, timeout=8_000)
        expect(notice).to_contain_text("à confirmer")
        assert parent.evaluate("window.notReloaded") is True

        # He reads it (text, not markup) and authorises the outing.
        notice.get_by_role("link", name=title).click()
        expect(parent.locator(".notice__body")).to_contain_text("<b>Prévoir</b>")
        parent.get_by_label("Oui, j’autorise").check()
        with parent.expect_navigation():
            parent.get_by_role("button", name="J’ai pris connaissance").click()
        expect(parent.locator("li.message--success")).to_contain_text(
            "confirmation de lecture est enregistrée"
        )
        expect(parent.locator("#notice-ack")).to_contain_text("Votre réponse : Oui")

        # The CPE's open page follows: Karim moves to the acknowledged rows.
        expect(cpe.locator("#ack-total")).to_contain_text(
            f"1 sur {total}", timeout=8_000
        )
        row = cpe.locator("tr.ack--done", has_text="Dubois Karim")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Léa Dubois")
        expect(row).to_contain_text("Oui")
        expect(cpe.locator("tr.ack--waiting", has_text="Petit Sophie")).to_have_count(1)
        expect(cpe.locator("#schoollife-status")).to_have_text(
            re.compile(f"1 sur {total}")
        )
        assert cpe.evaluate("window.notReloaded") is True
    finally:
        for context in contexts:
            context.close()
