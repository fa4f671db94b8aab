"""A family imported from the academy's file activates its accounts from the
activation letters: a guardian types the letter's code on /activer/, a pupil
opens the letter's QR link; each sets a password, confirms the e-mail
address, and lands on their home page. On a 360 px phone screen."""

import re

import pytest
import zxingcpp
from playwright.sync_api import expect
from pypdf import PdfReader

CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}\b")

# A class of its own (other browser tests count the pupils of 4e B), a
# guardian and two children as the roster import leaves them: unusable
# passwords, source identifiers, the guardian's address from the file.
SEED = """
from core.roster.models import AcademicSession, Enrollment, GuardianLink, Org, SchoolClass, User
org = Org.objects.get(uai="0350001A")
session = AcademicSession.objects.filter(org=org).first()
six, _ = SchoolClass.objects.get_or_create(org=org, session=session, title="6e D")
five, _ = SchoolClass.objects.get_or_create(org=org, session=session, title="5e D")
def imported(username, role, first, last, email=""):
    user = User(username=username, role=role, first_name=first, last_name=last,
                email=email, source="aaf", sourced_id="aaf-" + username)
    user.set_unusable_password()
    user.save()
    return user
mother = imported("nathalie.roux", "guardian", "Nathalie", "Roux", "n.roux@example.org")
emma = imported("emma.roux", "student", "Emma", "Roux")
jules = imported("jules.roux", "student", "Jules", "Roux")
Enrollment.objects.create(user=emma, school_class=six, role="student")
Enrollment.objects.create(user=jules, school_class=five, role="student")
GuardianLink.objects.create(guardian=mother, student=emma, source="aaf", sourced_id="aaf-l1")
GuardianLink.objects.create(guardian=mother, student=jules, source="aaf", sourced_id="aaf-l2")
"""


@pytest.fixture(scope="module")
def letters(live_hub) -> dict[str, dict]:
    """Seed the family, print the letters of 6e D; return each page's text,
    code and QR link by name."""
    live_hub.shell(SEED)
    out = live_hub.var_dir / "lettres-6eD.pdf"
    live_hub.manage(
        "make_activation_letters", "--org", "0350001A", "--class", "6e D", str(out)
    )
    found = {}
    for page in PdfReader(out).pages:
        text = page.extract_text()
        name = re.search(r"À l'attention (?:de |d’)(.*)", text).group(1)
        (qr,) = [r.text for i in page.images for r in zxingcpp.read_barcodes(i.image)]
        found[name] = {"text": text, "code": CODE.findall(text)[0], "link": qr}
    return found


def phone(browser, live_hub):
    context = browser.new_context(
        base_url=live_hub.url,
        viewport={"width": 360, "height": 740},
        locale="fr-FR",
        timezone_id="Europe/Paris",
    )
    context.set_default_timeout(15_000)
    return context


def fits(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} is {overflow} px wider than the screen"


@pytest.mark.browser
def test_letters_are_one_page_per_guardian_and_pupil(letters):
    assert list(letters) == ["Nathalie Roux", "Emma Roux"]  # the class is 6e D
    mother = letters["Nathalie Roux"]["text"]
    assert "Emma Roux : 6e D (Collège Victor Hugo)" in mother
    assert "Jules Roux : 5e D (Collège Victor Hugo)" in mother
    assert "nathalie.roux" in mother


@pytest.mark.browser
def test_guardian_types_the_letters_code_and_sees_her_children(
    browser, live_hub, letters, screens_dir
):
    context = phone(browser, live_hub)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/login/")
        expect(page.locator("#forgot-password")).to_have_text("Mot de passe oublié ?")
        fits(page)
        page.screenshot(path=str(screens_dir / "login-links-360.png"))
        page.click("#activate-link")
        expect(page).to_have_url(re.compile(r"/activer/$"))
        expect(page.get_by_role("heading", name="Activer mon compte")).to_be_visible()
        page.fill("#id_login", "nathalie.roux")
        # A mistyped code first: the one clear error.
        page.fill("#id_code", "ABCD-EFGH-JK")
        page.get_by_role("button", name="Continuer").click()
        expect(page.locator("#activate-error")).to_contain_text(
            "n'ouvrent aucun compte"
        )
        page.fill("#id_code", letters["Nathalie Roux"]["code"].lower())
        fits(page)
        page.screenshot(path=str(screens_dir / "activation-code-360.png"))
        page.get_by_role("button", name="Continuer").click()
        expect(page).to_have_url(re.compile(r"/activer/mot-de-passe/$"))
        email = page.get_by_label("Adresse e-mail")
        expect(email).to_have_value("n.roux@example.org")
        email.fill("nathalie.roux@example.org")
        page.get_by_label("Nouveau mot de passe", exact=True).fill("123")
        page.get_by_label("Confirmation du nouveau mot de passe").fill("123")
        page.get_by_role("button", name="Activer mon compte").click()
        expect(page.locator(".errorlist").first).to_contain_text("trop court")
        page.get_by_label("Nouveau mot de passe", exact=True).fill("Tilleul-du-6eD!")
        page.get_by_label("Confirmation du nouveau mot de passe").fill(
            "Tilleul-du-6eD!"
        )
        fits(page)
        page.screenshot(path=str(screens_dir / "activation-password-360.png"))
        page.get_by_role("button", name="Activer mon compte").click()
        expect(page).to_have_url(live_hub.url + "/")
        expect(page.locator(".messages")).to_contain_text("Votre compte est activé")
        children = page.locator("section.home-section[data-pupil] h2")
        expect(children).to_have_text(["Emma Roux", "Jules Roux"])
        expect(page.locator("section.home-section[data-pupil]").first).to_contain_text(
            "6e D"
        )
        fits(page)
        page.screenshot(path=str(screens_dir / "activation-home-360.png"))
        assert errors == []
    finally:
        context.close()
    stored = live_hub.shell(
        "from core.roster.models import User; "
        "u = User.objects.get(username='nathalie.roux'); "
        "print(u.email, u.check_password('Tilleul-du-6eD!'))"
    )
    assert stored.split() == ["nathalie.roux@example.org", "True"]


@pytest.mark.browser
def test_pupil_opens_the_qr_link_with_login_and_code_filled_in(
    browser, live_hub, letters, screens_dir
):
    link = letters["Emma Roux"]["link"]
    path = link.split("://", 1)[1].split("/", 1)[1]  # SITE_URL may differ
    context = phone(browser, live_hub)
    page = context.new_page()
    try:
        page.goto("/" + path)
        expect(page.locator("#id_login")).to_have_value("emma.roux")
        expect(page.locator("#id_code")).to_have_value(letters["Emma Roux"]["code"])
        assert "#" not in page.url  # the fragment left the address bar
        page.get_by_role("button", name="Continuer").click()
        page.get_by_label("Nouveau mot de passe", exact=True).fill("Emma-en-6eD!")
        page.get_by_label("Confirmation du nouveau mot de passe").fill("Emma-en-6eD!")
        page.get_by_role("button", name="Activer mon compte").click()
        expect(page).to_have_url(live_hub.url + "/")
        expect(page.locator("main")).to_contain_text("6e D")
    finally:
        context.close()
    # The same link again, on another phone: spent.
    context = phone(browser, live_hub)
    page = context.new_page()
    try:
        page.goto("/" + path)
        expect(page.locator("#id_code")).to_have_value(letters["Emma Roux"]["code"])
        page.get_by_role("button", name="Continuer").click()
        expect(page.locator("#activate-error")).to_contain_text(
            "n'ouvrent aucun compte"
        )
    finally:
        context.close()


@pytest.mark.browser
def test_reset_link_with_token_in_fragment_leads_to_new_password(
    browser, live_hub, screens_dir
):
    # The link of the reset e-mail, made as ResetForm makes it.
    out = live_hub.shell(
        "from urllib.parse import urlencode\n"
        "from django.contrib.auth.tokens import default_token_generator as g\n"
        "from django.utils.encoding import force_bytes\n"
        "from django.utils.http import urlsafe_base64_encode\n"
        "from tests.conftest import make_user\n"
        "u = make_user('oubli', 'guardian', 'Odile', 'Oubli')\n"
        "print(urlencode({'uid': urlsafe_base64_encode(force_bytes(u.pk)),"
        " 'token': g.make_token(u)}))"
    )
    context = phone(browser, live_hub)
    page = context.new_page()
    try:
        page.goto("/mot-de-passe/nouveau/#" + out.strip())
        expect(page).to_have_url(
            re.compile(r"/mot-de-passe/nouveau/[^/]+/set-password/$")
        )
        page.get_by_label("Nouveau mot de passe", exact=True).fill("Souvenir-2026!")
        page.get_by_label("Confirmation du nouveau mot de passe").fill("Souvenir-2026!")
        fits(page)
        page.screenshot(path=str(screens_dir / "password-reset-360.png"))
        page.get_by_role("button", name="Modifier mon mot de passe").click()
        expect(page).to_have_url(re.compile(r"/mot-de-passe/nouveau/termine/$"))
        page.get_by_role("link", name="Se connecter").click()
        page.fill("#id_username", "oubli")
        page.fill("#id_password", "Souvenir-2026!")
        page.click("form.form button[type=submit]")
        expect(page.locator("h1")).to_contain_text("Bonjour Odile")
    finally:
        context.close()


@pytest.mark.browser
def test_changing_the_password_keeps_this_page_and_ends_the_other_device(
    browser, live_hub
):
    # Found by a fresh-user trial: this page's own socket got "bye" and the
    # page went to the login page before the form's answer could show.
    live_hub.shell(
        "from tests.conftest import make_user\n"
        "make_user('changeur', 'guardian', 'Chloé', 'Change')\n"
    )
    contexts = [
        browser.new_context(base_url=live_hub.url, locale="fr-FR") for _ in range(2)
    ]
    try:
        laptop, phone_page = (context.new_page() for context in contexts)
        for page in (laptop, phone_page):
            page.goto("/login/")
            page.fill("#id_username", "changeur")
            page.fill("#id_password", "pw-changeur")
            page.click("form.form button[type=submit]")
            expect(page.locator("h1")).to_contain_text("Bonjour Chloé")
        phone_page.goto("/timetable/")
        laptop.goto("/settings/password/")
        expect(laptop.locator("#hub-status")).to_have_attribute(
            "data-state", "connected"
        )
        laptop.get_by_label("Ancien mot de passe").fill("pw-changeur")
        laptop.get_by_label("Nouveau mot de passe", exact=True).fill("Autre-mot-2026!")
        laptop.get_by_label("Confirmation du nouveau mot de passe").fill(
            "Autre-mot-2026!"
        )
        laptop.get_by_role("button", name="Modifier mon mot de passe").click()

        expect(laptop.get_by_text("Votre mot de passe a changé")).to_be_visible()
        expect(phone_page).to_have_url(re.compile(r"/login/"), timeout=15_000)
        expect(laptop.locator("#hub-status")).to_have_attribute(
            "data-state", "connected", timeout=15_000
        )
        assert "/login/" not in laptop.url
    finally:
        for context in contexts:
            context.close()
