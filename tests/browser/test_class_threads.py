"""A class-wide message in three real browsers (issue 13, finding 7).

Alice writes to all the guardians of 4e B, replies to her only. Karim
replies; Alice answers him in his private thread, told who will see it.
Sophie, another family of the class with her page open, sees none of it:
not the reply, not the answer, not Karim's name or reading.
"""

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_messaging_live import connected, new_context, watch_errors


@pytest.mark.browser
def test_a_familys_private_thread_stays_between_it_and_the_teacher(
    live_hub, browser, login, screens_dir
):
    subject = f"Sortie au musée {uuid.uuid4().hex[:6]}"
    contexts = [new_context(browser, live_hub) for _ in range(3)]
    try:
        teacher, karim, sophie = (context.new_page() for context in contexts)
        errors = [watch_errors(page) for page in (teacher, karim, sophie)]
        login(teacher, "alice")
        login(karim, "karim")
        login(sophie, "sophie")

        # Alice writes to the whole class: replies go to her only.
        teacher.goto("/messages/new/")
        teacher.get_by_label("Objet").fill(subject)
        teacher.get_by_label("Responsables des élèves de 4e B").check()
        expect(
            teacher.get_by_label(
                "Les destinataires peuvent répondre à l’expéditeur seulement"
            )
        ).to_be_checked()
        teacher.get_by_label("Message", exact=True).fill("Autorisation à rendre.")
        with teacher.expect_navigation():
            teacher.get_by_role("button", name="Envoyer").click()
        expect(teacher.locator("h1")).to_have_text(subject)
        conversation_url = teacher.url.split("#")[0]
        connected(teacher)

        # Both families open it.
        for page in (karim, sophie):
            page.goto(conversation_url)
            connected(page)
            expect(page.locator("#message-list > li")).to_have_count(1)
        expect(karim.locator("#reply-note")).to_have_text(
            "Votre réponse n'est visible que par l'enseignant, Alice Martin."
        )
        sophie.evaluate("window.notReloaded = true")

        # Karim replies: Alice gets it, in his private thread.
        karim.locator("#reply-body").fill("Léa viendra avec son frère ?")
        karim.get_by_role("button", name="Envoyer").click()
        question = teacher.locator("#message-list > li", has_text="son frère")
        expect(question).to_have_count(1)
        expect(question).to_contain_text("fil privé avec Karim Dubois")
        expect(karim.locator("#message-list > li")).to_have_count(2)
        # Alice's reading of it reaches Karim: "read by 1 of 1", the teacher.
        expect(
            karim.locator("#message-list > li", has_text="son frère").locator(
                "[data-receipt]"
            )
        ).to_have_text("Lu par 1 sur 1")

        # Alice answers privately: the box says who will see it.
        expect(teacher.locator("#reply-note")).to_have_text(
            "Message visible par tous les destinataires"
        )
        question.get_by_role("link", name="Répondre en privé à Karim Dubois").click()
        expect(teacher.locator("#reply-to")).to_have_value(str(user_id(live_hub)))
        expect(teacher.locator("#reply-note")).to_have_text(
            "Réponse visible uniquement par Karim Dubois"
        )
        expect(teacher.locator("#reply-body")).to_be_focused()
        teacher.keyboard.type("Oui, son frère est le bienvenu.")
        teacher.get_by_role("button", name="Envoyer").click()
        answer = karim.locator("#message-list > li", has_text="bienvenu")
        expect(answer).to_have_count(1)
        mine = teacher.locator("#message-list > li", has_text="bienvenu")
        expect(mine).to_contain_text("fil privé avec Karim Dubois")
        expect(mine.locator("[data-receipt]")).to_have_text("Lu par 1 sur 1")
        teacher.screenshot(
            path=str(screens_dir / "alice-class-thread.png"), full_page=True
        )

        # Sophie saw none of it, live or after a reload.
        sophie.wait_for_timeout(1_000)
        assert sophie.evaluate("window.notReloaded") is True
        expect(sophie.locator("#message-list > li")).to_have_count(1)
        expect(sophie.locator("#typing")).to_have_text("")
        sophie.reload()
        connected(sophie)
        expect(sophie.locator("#message-list > li")).to_have_count(1)
        page_text = sophie.locator("body").inner_text()
        for secret in ("son frère", "bienvenu", "Karim", "Dubois"):
            assert secret not in page_text, secret
        assert not re.search(r"Lu par \d+ sur [2-9]", page_text)
        sophie.screenshot(
            path=str(screens_dir / "sophie-class-thread.png"), full_page=True
        )
        assert not any(errors), errors
    finally:
        for context in contexts:
            context.close()


def user_id(live_hub) -> int:
    output = live_hub.shell(
        "from core.roster.models import User\n"
        "print(User.objects.get(username='karim').pk)"
    )
    return int(output.strip().splitlines()[-1])
