"""A guardian sees their phone and laptop on "Mes appareils", logs the phone
out from the laptop: the phone's open page, whose socket closes at once,
lands on the login page; the laptop stays logged in and connected. Then five
wrong passwords lock the login, with the French message."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/140.0.0.0 Mobile Safari/537.36"
)


def test_logging_a_device_out_from_mes_appareils(browser, live_hub, screens_dir):
    live_hub.shell(
        "from tests.conftest import make_user\n"
        "make_user('appareils', 'guardian', 'Marc', 'Appareil')\n"
    )
    laptop_context = browser.new_context(base_url=live_hub.url, locale="fr-FR")
    phone_context = browser.new_context(
        base_url=live_hub.url,
        locale="fr-FR",
        user_agent=PHONE_UA,
        viewport={"width": 360, "height": 740},
    )
    try:
        laptop, phone = laptop_context.new_page(), phone_context.new_page()
        for page in (phone, laptop):
            page.goto("/login/")
            page.fill("#id_username", "appareils")
            page.fill("#id_password", "pw-appareils")
            page.click("form.form button[type=submit]")
            expect(page.locator("h1")).to_contain_text("Bonjour Marc")
        phone.goto("/timetable/")
        expect(phone.locator("#hub-status")).to_have_attribute(
            "data-state", "connected"
        )

        laptop.goto("/settings/notifications/")
        laptop.click("#sessions-link")
        expect(laptop.locator("h1")).to_have_text("Mes appareils")
        rows = laptop.locator("#sessions li.session")
        expect(rows).to_have_count(2)
        current = laptop.locator("li.session--current")
        expect(current).to_contain_text("Cet appareil")
        other = laptop.locator("li.session:not(.session--current)")
        expect(other).to_contain_text("Android")
        laptop.screenshot(path=str(screens_dir / "mes-appareils.png"), full_page=True)

        other.get_by_role("button", name="Déconnecter").click()
        expect(laptop.get_by_text("1 appareil a été déconnecté.")).to_be_visible()
        expect(rows).to_have_count(1)
        # The phone's socket closed at once: its page goes to the login page.
        expect(phone).to_have_url(re.compile(r"/login/"), timeout=15_000)
        phone.goto("/timetable/")
        expect(phone).to_have_url(re.compile(r"/login/"))
        expect(laptop.locator("#hub-status")).to_have_attribute(
            "data-state", "connected"
        )
    finally:
        laptop_context.close()
        phone_context.close()


def test_five_wrong_passwords_show_the_lock_page(page, live_hub, screens_dir):
    live_hub.shell(
        "from tests.conftest import make_user\n"
        "make_user('verrou', 'guardian', 'Vera', 'Verrou')\n"
    )
    for _ in range(5):
        page.goto("/login/")
        page.fill("#id_username", "verrou")
        page.fill("#id_password", "mauvais")
        page.click("form.form button[type=submit]")
    page.goto("/login/")
    page.fill("#id_username", "verrou")
    page.fill("#id_password", "pw-verrou")
    page.click("form.form button[type=submit]")
    alert = page.locator("#locked-out")
    expect(alert).to_contain_text("Trop de tentatives de connexion")
    expect(alert).to_contain_text("réessayez dans 15 minutes")
    expect(alert).to_contain_text(
        "demandez à votre établissement de débloquer votre compte"
    )
    page.screenshot(path=str(screens_dir / "connexion-bloquee.png"), full_page=True)
    live_hub.manage("axes_reset_username", "verrou")
    page.goto("/login/")
    page.fill("#id_username", "verrou")
    page.fill("#id_password", "pw-verrou")
    with page.expect_navigation():
        page.click("form.form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Bonjour Vera")
