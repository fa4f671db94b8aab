"""Fresh-user trial fixes on the school-life pages: plural forms, link
labels, confirmations of irreversible actions, the body's length limit."""

import re

import pytest

from core.schoollife import actions
from tests.conftest import login_verified
from tests.schoollife.conftest import publish

pytestmark = pytest.mark.django_db


def test_the_acknowledgement_count_agrees_in_number(life, client):
    notice = publish(life, requires_ack=True)
    login_verified(client, life.cpe)
    page = client.get(f"/schoollife/{notice.pk}/status/").content.decode()
    assert "0 sur 2 a confirmé la lecture" in page
    assert ">Modifier</a>" in page and "Modification" not in page
    actions.acknowledge(notice=notice, user=life.parent)
    page = client.get(f"/schoollife/{notice.pk}/status/").content.decode()
    assert "1 sur 2 a confirmé la lecture" in page
    actions.acknowledge(notice=notice, user=life.other_parent)
    page = client.get(f"/schoollife/{notice.pk}/status/").content.decode()
    assert "2 sur 2 ont confirmé la lecture" in page


def test_withdraw_and_remind_ask_first(life, client):
    notice = publish(life, requires_ack=True)
    login_verified(client, life.cpe)
    page = client.get(f"/schoollife/{notice.pk}/status/").content.decode()
    assert (
        'data-confirm="Retirer cette information ? Les familles ne la verront plus."'
        in page
    )
    assert 'data-confirm="Relancer ceux qui n’ont pas confirmé la lecture ?"' in page
    assert "/static/hub/confirm.js" in page


def test_a_long_text_is_not_cut_by_the_browser_and_the_limit_is_said(life, client):
    login_verified(client, life.cpe)
    page = client.get("/schoollife/new/").content.decode()
    textarea = page[page.index('<textarea name="body"') :].split(">", 1)[0]
    assert "maxlength" not in textarea
    assert "10 000 caractères au plus" in page
    text = "Une sortie. " * 900  # 10 800 characters
    response = client.post(
        "/schoollife/new/",
        {
            "org": life.org.pk,
            "roles": ["guardian"],
            "title": "Sortie",
            "body": text,
            "reply_kind": "none",
        },
    )
    content = response.content.decode()
    assert "10000" in content and text.strip() in content
    notice = publish(life)
    page = client.get(f"/schoollife/{notice.pk}/edit/").content.decode()
    textarea = page[page.index('<textarea name="body"') :].split(">", 1)[0]
    assert "maxlength" not in textarea


def test_a_reminder_to_one_person_says_so_in_the_singular(life, client):
    notice = publish(life, requires_ack=True)
    actions.acknowledge(notice=notice, user=life.parent)
    login_verified(client, life.cpe)
    page = client.get(f"/schoollife/{notice.pk}/status/").content.decode()
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    done = client.post(
        f"/schoollife/{notice.pk}/remind/", {"token": token}, follow=True
    ).content.decode()
    assert "Relance envoyée à 1 personne." in done
