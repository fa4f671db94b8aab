"""The API's pages in Chromium: the Swagger UI documentation runs under the
site's Content-Security-Policy (its files are served by the hub, no CDN),
and Réglages › Accès API creates, shows once and revokes a token."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_csp import violations, watch


@pytest.mark.browser
def test_the_api_docs_run_under_the_policy(live_hub, page):
    refused = watch(page)
    response = page.goto("/api/docs")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Hub ENT API")
    expect(
        page.locator('.opblock-summary-path[data-path="/api/v1/me"]')
    ).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert violations(page, refused) == []
    assert not page.js_errors, page.js_errors


@pytest.mark.browser
def test_a_token_is_created_shown_once_and_revoked(live_hub, page, login):
    refused = watch(page)
    login(page, "karim")
    page.goto("/settings/notifications/")
    page.locator("#api-tokens-link").click()
    expect(page.locator("h1")).to_have_text("Accès API")
    page.get_by_label("Nom").fill("Appli de la région")
    page.locator("#create-token").click()
    secret = page.locator("#token-secret").inner_text()
    assert secret.startswith("hub_") and len(secret) == 47
    card = page.locator("#tokens li", has_text="Appli de la région")
    expect(card).to_contain_text("lecture")
    page.goto("/settings/api/")
    expect(page.locator("#token-secret")).to_have_count(0)
    page.locator("#tokens li", has_text="Appli de la région").get_by_role(
        "button", name="Révoquer"
    ).click()
    expect(page.locator("#tokens li", has_text="Appli de la région")).to_contain_text(
        "révoqué"
    )
    assert violations(page, refused) == []
    assert not page.js_errors, page.js_errors
