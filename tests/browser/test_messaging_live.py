"""Messaging in two real browsers: teacher alice and guardian karim exchange
messages; each sees the other's message, the typing indicator and the read
receipt live, and the pages fit a 360 px screen."""

import re
import uuid

import pytest
from playwright.sync_api import expect


def new_context(browser, live_hub, width=1280, height=800):
    context = browser.new_context(
        base_url=live_hub.url,
        viewport={"width": width, "height": height},
        locale="fr-FR",
        timezone_id="Europe/Paris",
    )
    context.set_default_timeout(15_000)
    return context


def watch_errors(page) -> list:
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def connected(page):
    expect(page.locator("#hub-status")).to_have_attribute("data-state", "connected")


@pytest.mark.browser
def test_teacher_and_guardian_exchange_messages_live(live_hub, browser, login):
    subject = f"Sortie au musée {uuid.uuid4().hex[:6]}"
    contexts = [new_context(browser, live_hub) for _ in range(2)]
    try:
        teacher, parent = (context.new_page() for context in contexts)
        teacher_errors, parent_errors = watch_errors(teacher), watch_errors(parent)
        login(teacher, "alice")
        login(parent, "karim")

        # Karim's inbox is open; its header badge shows what he has unread.
        parent.goto("/messages/")
        connected(parent)
        parent.evaluate("window.notReloaded = true")
        # Blank the badge's label: the page must write it again when it changes.
        parent.evaluate(
            "document.getElementById('messages-unread-label').textContent = ''"
        )
        header_badge = parent.locator("#messages-unread")
        unread_before = int(header_badge.get_attribute("data-count") or 0)
        row = parent.locator("#conversation-list > li", has_text=subject)
        expect(row).to_have_count(0)

        # Alice starts the conversation through the form.
        teacher.goto("/messages/new/")
        teacher.get_by_label("Objet").fill(subject)
        teacher.get_by_label(re.compile(r"^Karim Dubois")).check()
        teacher.get_by_label("Les destinataires peuvent répondre à tous").check()
        teacher.get_by_label("Message", exact=True).fill(
            "Bonjour,\n\nLa **4e B** visite le musée jeudi.\n\n- départ 8 h 15"
        )
        with teacher.expect_navigation():
            teacher.get_by_role("button", name="Envoyer").click()
        expect(teacher.locator("h1")).to_have_text(subject)
        connected(teacher)
        first = teacher.locator("#message-list > li").first
        expect(first.locator(".msg__body strong")).to_have_text("4e B")
        expect(first.locator("[data-receipt]")).to_have_text("Lu par 0 sur 1")

        # The row appears live in Karim's open inbox, unread, and the badge goes up.
        expect(row).to_have_count(1)
        expect(row.locator(".conv__unread")).to_contain_text("1")
        expect(row).to_contain_text("Alice Martin")
        expect(header_badge).to_have_attribute("data-count", str(unread_before + 1))
        # Its label agrees in number, redrawn by the page (issue 16).
        expect(parent.locator("#messages-unread-label")).to_have_text(
            " conversation non lue" if unread_before == 0 else " conversations non lues"
        )
        assert parent.evaluate("window.notReloaded") is True

        # Karim opens it: his reading shows on Alice's message, live.
        row.locator("a").click()
        expect(parent.locator("h1")).to_have_text(subject)
        connected(parent)
        expect(parent.locator("#message-list > li")).to_have_count(1)
        expect(first.locator("[data-receipt]")).to_have_text("Lu par 1 sur 1")
        expect(parent.locator("#messages-unread")).to_have_attribute(
            "data-count", str(unread_before)
        )

        # Karim types: Alice sees it; he sends with the keyboard alone.
        teacher.evaluate("window.notReloaded = true")
        parent.locator("#reply-body").focus()
        parent.keyboard.type("Merci, c'est noté <b>!</b>")
        expect(teacher.locator("#typing")).to_have_text("Karim Dubois écrit…")
        parent.keyboard.press("Control+Enter")
        reply = teacher.locator("#message-list > li", has_text="c'est noté")
        expect(reply).to_have_count(1)
        expect(reply).to_contain_text("Karim Dubois")
        expect(reply).to_contain_text("<b>!</b>")  # shown as text, not markup
        expect(teacher.locator("#typing")).to_have_text("")
        mine = parent.locator("#message-list > li", has_text="c'est noté")
        expect(mine).to_have_count(1)
        expect(parent.locator("#reply-body")).to_have_value("")

        # Alice's open page read it: Karim's receipt turns live too.
        expect(mine.locator("[data-receipt]")).to_have_text("Lu par 1 sur 1")

        # Alice answers: typing then message on Karim's side.
        teacher.locator("#reply-body").fill("Parfait")
        teacher.locator("#reply-body").press("Space")
        expect(parent.locator("#typing")).to_have_text("Alice Martin écrit…")
        teacher.get_by_role("button", name="Envoyer").click()
        expect(parent.locator("#message-list > li", has_text="Parfait")).to_have_count(
            1
        )

        # Each message once on each side, and no page reloaded.
        teacher.wait_for_timeout(1_000)
        expect(teacher.locator("#message-list > li")).to_have_count(3)
        expect(parent.locator("#message-list > li")).to_have_count(3)
        assert teacher.evaluate("window.notReloaded") is True
        assert not teacher_errors and not parent_errors, teacher_errors + parent_errors
    finally:
        for context in contexts:
            context.close()


@pytest.mark.browser
def test_draft_is_kept_when_the_message_is_refused(live_hub, browser, login):
    context = new_context(browser, live_hub)
    try:
        page = context.new_page()
        errors = watch_errors(page)
        login(page, "alice")
        page.goto("/messages/new/")
        page.get_by_label("Objet").fill("Brouillon gardé")
        page.get_by_label(re.compile(r"^Karim Dubois")).check()
        page.get_by_label("Message", exact=True).fill("Premier message")
        with page.expect_navigation():
            page.get_by_role("button", name="Envoyer").click()
        connected(page)
        too_long = "a" * 10_001
        page.locator("#reply-body").fill(too_long)
        key = page.locator("input[name=idempotency_key]").input_value()
        page.get_by_role("button", name="Envoyer").click()
        expect(page.locator("#reply-error")).to_contain_text("Message trop long")
        expect(page.locator("#reply-body")).to_have_value(too_long)
        assert page.locator("input[name=idempotency_key]").input_value() == key
        expect(page.locator("#message-list > li")).to_have_count(1)
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.browser
def test_messaging_pages_fit_360_px(live_hub, browser, login, screens_dir):
    live_hub.shell(
        "from core.messaging.actions import start_conversation\n"
        "from core.roster.models import User\n"
        "alice, karim = User.objects.get(username='alice'), "
        "User.objects.get(username='karim')\n"
        "conversation = start_conversation(sender=alice, org=alice.orgs.get(), "
        "subject='Conseil de classe du deuxième trimestre : les dates et les "
        "documents à préparer', recipients=[karim], "
        "body='Bonjour,\\n\\nVoici un très long message avec un lien "
        "https://ent.example.fr/documents/conseil-de-classe/2026/trimestre-2/"
        "convocation-tres-longue.pdf et une liste :\\n\\n- un\\n- deux', "
        "idempotency_key='small-screen-1')\n"
    )
    context = new_context(browser, live_hub, width=360, height=740)
    try:
        page = context.new_page()
        errors = watch_errors(page)
        login(page, "karim")
        for path, name in [("/messages/", "inbox"), ("/messages/new/", "new")]:
            page.goto(path)
            connected(page)
            page.screenshot(
                path=str(screens_dir / f"karim-messages-{name}-360.png"),
                full_page=True,
            )
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 360, f"{path} is {width} px wide"
        page.goto("/messages/")
        page.locator("#conversation-list > li", has_text="Conseil de classe").locator(
            "a"
        ).click()
        connected(page)
        page.locator("#reply-body").fill("Une réponse")
        page.get_by_role("button", name="Envoyer").click()
        expect(page.locator("#message-list > li")).to_have_count(2)
        page.locator(".msg--mine summary", has_text="Modifier").click()
        page.wait_for_timeout(500)  # a late redraw would close the edit box
        expect(page.locator(".msg--mine details.msg__edit")).to_have_attribute(
            "open", ""
        )
        expect(page.get_by_label("Nouveau texte")).to_have_value("Une réponse")
        page.screenshot(
            path=str(screens_dir / "karim-messages-conversation-360.png"),
            full_page=True,
        )
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 360, f"the conversation is {width} px wide"
        assert not errors, errors
    finally:
        context.close()
