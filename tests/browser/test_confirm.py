"""Irreversible actions ask first (frontend/static/hub/confirm.js): the CPE's
"Relancer" and "Retirer" on a notice's acknowledgement page. Refused,
nothing is sent; accepted, the form goes once and its button is disabled."""

import pytest
from playwright.sync_api import expect

SEED = """
from core.roster.models import Org, User
from core.schoollife import actions
notice = actions.publish_notice(
    author=User.objects.get(username="paul"), org=Org.objects.get(uai="0350001A"),
    title="Réunion d'information", body="Au réfectoire.",
    audience={"roles": ["guardian"], "levels": ["4e"]}, requires_ack=True)
print(notice.pk)
"""


@pytest.mark.browser
def test_remind_and_withdraw_ask_before_they_are_sent(live_hub, browser, login):
    notice = live_hub.shell(SEED).strip()
    context = browser.new_context(base_url=live_hub.url, locale="fr-FR")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        login(page, "paul")
        page.goto(f"/schoollife/{notice}/status/")
        expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
        asked = []

        def refuse(dialog):
            asked.append(dialog.message)
            dialog.dismiss()

        page.once("dialog", refuse)
        page.get_by_role("button", name="Relancer").click()
        expect(page.get_by_role("button", name="Relancer")).to_be_enabled()
        assert asked == ["Relancer ceux qui n’ont pas confirmé la lecture ?"]
        expect(page.locator(".message--success")).to_have_count(0)

        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_navigation():
            page.get_by_role("button", name="Relancer").click()
        expect(page.locator(".message--success")).to_have_count(1)

        page.once("dialog", refuse)
        page.get_by_role("button", name="Retirer").click()
        assert asked[-1].startswith("Retirer cette information ?")
        page.reload()
        expect(page.get_by_role("button", name="Retirer")).to_have_count(1)
        assert not errors, errors
    finally:
        context.close()
