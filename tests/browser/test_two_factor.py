"""Two-factor authentication in Chromium: a teacher enrols an authenticator
app and logs in with its code; a parent registers a passkey (Chromium's
virtual authenticator, through the DevTools protocol) and logs in with it,
without a password, then as a second factor."""

import re
from base64 import b32decode

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

SEED = """
from tests.conftest import make_user
make_user("mme.totp", "teacher", "Hélène", "Totp")
make_user("m.passkey", "guardian", "Pierre", "Passkey")
"""


@pytest.fixture(scope="module")
def people(live_hub):
    live_hub.shell(SEED)


def password_login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-" + username)
    with page.expect_navigation():
        page.click("form.form button[type=submit]")


def log_out(page) -> None:
    with page.expect_navigation():
        page.click(".logout-form button")


@pytest.mark.browser
def test_a_teacher_enrols_an_app_then_logs_in_with_its_code(
    page, live_hub, people, screens_dir
):
    password_login(page, live_hub.url, "mme.totp")

    # No way around enrolment, not even the socket: the page starts none.
    expect(page).to_have_url(re.compile(r"/double-authentification/activer/"))
    expect(
        page.get_by_role("heading", name="Ajouter une application d’authentification")
    ).to_be_visible()
    expect(page.locator("#totp-qr svg")).to_be_visible()
    expect(page.locator("#hub-status")).to_have_count(0)
    page.goto("/timetable/")
    expect(page).to_have_url(re.compile(r"/double-authentification/activer/\?next="))
    page.set_viewport_size({"width": 360, "height": 740})
    page.screenshot(path=str(screens_dir / "twofactor-enrol-360.png"), full_page=True)

    secret = page.text_content("#totp-secret").replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("#id_code", f"{totp(key):06d}")
    page.click("#enrol-form button[type=submit]")

    expect(page.get_by_role("heading", name="Codes de secours")).to_be_visible()
    expect(page.locator("#recovery-codes code")).to_have_count(10)
    with page.expect_navigation():
        page.click("#recovery-continue")
    expect(page).to_have_url(re.compile(r"/timetable/"))
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    log_out(page)

    password_login(page, live_hub.url, "mme.totp")
    expect(page).to_have_url(re.compile(r"/connexion/verification/"))
    expect(page.get_by_role("heading", name="Double authentification")).to_be_visible()
    # (Wrong codes, and the delay they add, are tests/twofactor's.) The code
    # of the next 30 s: the app's current one was spent at enrolment and a
    # code works once; django-otp accepts one step ahead.
    page.fill("#id_code", f"{totp(key, drift=1):06d}")
    with page.expect_navigation():
        page.click("#verify-form button[type=submit]")
    expect(page).to_have_url(live_hub.url + "/")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    assert not page.js_errors, page.js_errors
    audit = live_hub.shell(
        "from core.audit.models import AuditEntry as A; "
        "print(sorted(set(A.objects.filter(actor_name='mme.totp')"
        ".values_list('action', flat=True))))"
    )
    for action in ("twofactor.totp_added", "twofactor.verified"):
        assert action in audit


def virtual_authenticator(page) -> None:
    """A platform authenticator that says yes (fingerprint checked) at once."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


@pytest.mark.browser
def test_a_parent_adds_a_passkey_then_logs_in_with_it(page, live_hub, people):
    # Passkeys need a secure context with a domain: localhost, not 127.0.0.1.
    base = live_hub.url.replace("127.0.0.1", "localhost")
    virtual_authenticator(page)
    password_login(page, base, "m.passkey")
    page.goto(f"{base}/settings/security/")

    with page.expect_navigation():
        page.click("#passkey-register")
    expect(page.locator("#passkeys li")).to_have_count(1)
    expect(page.locator("#passkeys li")).to_contain_text("Clé d’accès du")
    log_out(page)

    # Without a password.
    page.goto(f"{base}/login/")
    with page.expect_navigation():
        page.click("#passkey-login")
    expect(page).to_have_url(base + "/")
    expect(page.locator(".user-name")).to_have_text("Pierre Passkey")
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")
    log_out(page)

    # As the second step after the password.
    password_login(page, base, "m.passkey")
    expect(page).to_have_url(re.compile(r"/connexion/verification/"))
    with page.expect_navigation():
        page.click("#passkey-verify")
    expect(page).to_have_url(base + "/")
    assert not page.js_errors, page.js_errors
    audit = live_hub.shell(
        "from core.audit.models import AuditEntry as A; "
        "print(list(A.objects.filter(actor_name='m.passkey', action__startswith="
        "'twofactor.').order_by('pk').values_list('action', flat=True)))"
    )
    assert audit.count("twofactor.verified") == 2, audit
    assert "twofactor.passkey_added" in audit
