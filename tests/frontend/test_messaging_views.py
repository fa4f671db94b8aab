"""Messaging pages and JSON endpoints, through Django's test client.

Personas (tests/conftest.py): teacher alice (4e B), guardian karim (Léa in
4e B), other guardian sophie (Hugo in 4e B), cpe paul, outsider oscar.
"""

import json
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core import crypto, files
from core.messaging import actions
from core.messaging.models import (
    Attachment,
    Conversation,
    Message,
    MessagingPolicy,
    Participant,
    Report,
    WriteSuspension,
)
from tests.conftest import verify_session

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password="pw-" + user.username)
    verify_session(client, user)
    return client


def key() -> str:
    return uuid.uuid4().hex


def start(sender, recipients, subject="Sortie au musée", body="Bonjour", **extra):
    return actions.start_conversation(
        sender=sender,
        org=extra.pop("org", None) or sender.orgs.first(),
        subject=subject,
        recipients=recipients,
        body=body,
        idempotency_key=key(),
        **extra,
    )


def send_json(client, conversation, body="Merci", idempotency_key=None, files=()):
    data = {"body": body, "idempotency_key": idempotency_key or key()}
    if files:
        data["files"] = list(files)
    return client.post(
        f"/messages/{conversation.pk}/api/messages/",
        data,
        HTTP_ACCEPT="application/json",
    )


def json_script(html: str, element_id: str):
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, f"no json_script {element_id}"
    return json.loads(match.group(1))


@pytest.fixture
def alice_karim(school):
    """A conversation alice started with karim (replies to all)."""
    return start(school.teacher, [school.parent], body="Bonjour **Karim**")


@pytest.fixture
def alice_sophie(school):
    """Another family's conversation, with a file."""
    conversation = start(
        school.teacher,
        [school.other_parent],
        subject="Le cas de Hugo",
        body="Bonjour Sophie",
        uploads=[SimpleUploadedFile("bulletin.pdf", PDF)],
    )
    return conversation


# Inbox ---------------------------------------------------------------------


def test_inbox_lists_only_own_conversations(school, alice_karim, alice_sophie):
    response = login(school.parent).get("/messages/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Sortie au musée" in html
    assert "Le cas de Hugo" not in html
    assert f'data-conversation-id="{alice_karim.pk}"' in html
    assert f'data-conversation-id="{alice_sophie.pk}"' not in html
    assert 'href="/messages/new/"' in html


def test_inbox_shows_unread_counts_and_the_header_badge(school, alice_karim):
    actions.send_message(
        conversation=alice_karim,
        sender=school.teacher,
        body="Un autre message",
        idempotency_key=key(),
    )
    client = login(school.parent)
    html = client.get("/messages/").content.decode()
    row = re.search(r'<li class="conv conv--unread".*?</li>', html, re.S).group(0)
    assert re.search(r'class="badge conv__unread">2<', row)
    assert re.search(r'id="messages-unread" class="badge" data-count="1"', html)
    assert client.get("/messages/api/unread/").json() == {
        "conversations": 1,
        "messages": 2,
    }
    # The sender has nothing unread.
    assert login(school.teacher).get("/messages/api/unread/").json() == {
        "conversations": 0,
        "messages": 0,
    }


def test_inbox_search_by_subject_and_participant_name(school, alice_karim):
    start(school.cpe, [school.parent], subject="Cantine")
    client = login(school.parent)
    by_subject = client.get("/messages/", {"q": "musée"}).content.decode()
    assert "Sortie au musée" in by_subject and "Cantine" not in by_subject
    by_name = client.get("/messages/", {"q": "paul gir"}).content.decode()
    assert "Cantine" in by_name and "Sortie au musée" not in by_name
    by_last_first = client.get("/messages/", {"q": "Martin Alice"}).content.decode()
    assert "Sortie au musée" in by_last_first and "Cantine" not in by_last_first
    nothing = client.get("/messages/", {"q": "zzz"}).content.decode()
    assert 'id="conversation-empty" class="empty">' in nothing


def test_search_does_not_reveal_the_other_families_of_a_class_message(school):
    start(
        school.teacher,
        [school.parent, school.other_parent],
        subject="Réunion",
        reply_policy=Conversation.ReplyPolicy.SENDER,
    )
    client = login(school.parent)
    assert "Réunion" not in client.get("/messages/", {"q": "Sophie"}).content.decode()
    html = client.get("/messages/").content.decode()
    assert "Sophie" not in html
    assert "Alice Martin" in html
    # The creator sees everyone.
    teacher_html = login(school.teacher).get("/messages/", {"q": "Sophie"})
    assert "Réunion" in teacher_html.content.decode()


def test_row_endpoint(school, alice_karim):
    client = login(school.parent)
    body = client.get(f"/messages/api/conversations/{alice_karim.pk}/").json()
    assert body["id"] == alice_karim.pk
    assert body["unread"] == 1
    assert body["matches"] is True
    assert f'data-conversation-id="{alice_karim.pk}"' in body["html"]
    searched = client.get(
        f"/messages/api/conversations/{alice_karim.pk}/", {"q": "cantine"}
    ).json()
    assert searched["matches"] is False


# Not found and not allowed look the same -------------------------------------


def test_another_familys_conversation_is_404_everywhere(
    school, alice_karim, alice_sophie
):
    client = login(school.parent)
    other = alice_sophie.pk
    message = alice_sophie.messages.get()
    attachment = Attachment.objects.get(message=message)
    assert client.get(f"/messages/{other}/").status_code == 404
    for url in [
        f"/messages/{other}/api/messages/",
        f"/messages/{other}/api/messages/{message.pk}/",
        f"/messages/api/conversations/{other}/",
    ]:
        response = client.get(url, HTTP_ACCEPT="application/json")
        assert response.status_code == 404, url
        assert response.json()["error"] == "not_found"
    assert client.get(f"/messages/files/{attachment.pk}/").status_code == 404
    assert (
        client.post(
            f"/messages/{other}/api/read/",
            {"message_id": message.pk},
        ).status_code
        == 404
    )
    # Another conversation's message under one's own conversation id.
    response = client.get(f"/messages/{alice_karim.pk}/api/messages/{message.pk}/")
    assert response.status_code == 404
    for action in ("edit", "delete", "report"):
        response = client.post(
            f"/messages/{alice_karim.pk}/api/messages/{message.pk}/{action}/",
            {"body": "x", "reason": "x"},
            HTTP_ACCEPT="application/json",
        )
        assert response.status_code == 404, action
    assert not Report.objects.exists()
    assert (
        Participant.objects.get(
            conversation=alice_sophie, user=school.other_parent
        ).last_read_message_id
        == 0
    )


def test_posting_to_a_conversation_one_is_not_in_is_404(school, alice_sophie):
    before = Message.objects.count()
    client = login(school.parent)
    response = send_json(client, alice_sophie, "Intrus")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    response = client.post(
        f"/messages/{alice_sophie.pk}/", {"body": "Intrus", "idempotency_key": key()}
    )
    assert response.status_code == 404
    assert Message.objects.count() == before


@pytest.mark.parametrize(
    "url",
    [
        "/messages/0/",
        "/messages/007/",
        "/messages/-1/",
        "/messages/abc/",
        "/messages/99999999999999999999999999/",
        "/messages/999999/",
        "/messages/999999/api/messages/",
        "/messages/1/api/messages/99999999999999999999999/",
        "/messages/files/99999999999999999999/",
        "/messages/files/999999/",
        "/messages/api/conversations/999999/",
    ],
)
def test_forged_ids_are_404(school, alice_karim, url):
    assert login(school.parent).get(url).status_code == 404


def test_forged_after_and_read_ids(school, alice_karim):
    client = login(school.parent)
    url = f"/messages/{alice_karim.pk}/api/messages/"
    assert client.get(url, {"after": "abc"}).status_code == 400
    assert client.get(url, {"after": "1" * 30}).status_code == 400
    read = f"/messages/{alice_karim.pk}/api/read/"
    assert client.post(read, {"message_id": "x"}).status_code == 400
    # An id far ahead only reads what exists: later messages stay unread.
    first = alice_karim.messages.get()
    response = client.post(
        read, json.dumps({"message_id": 10**17}), content_type="application/json"
    )
    assert response.json() == {"last_read": first.pk}
    actions.send_message(
        conversation=alice_karim,
        sender=school.teacher,
        body="Suite",
        idempotency_key=key(),
    )
    assert client.get("/messages/api/unread/").json()["messages"] == 1


def test_outsider_and_other_school_see_nothing(school, alice_karim):
    client = login(school.outsider)
    assert client.get(f"/messages/{alice_karim.pk}/").status_code == 404
    assert "Sortie" not in client.get("/messages/").content.decode()


# The conversation page ---------------------------------------------------------


def test_conversation_page_shows_messages_receipts_and_reply_form(school, alice_karim):
    client = login(school.teacher)
    html = client.get(f"/messages/{alice_karim.pk}/").content.decode()
    assert "<strong>Karim</strong>" in html  # the markdown subset, rendered
    assert 'id="reply-form"' in html
    assert 'name="idempotency_key"' in html
    assert "Lu par 0 sur 1" in html
    data = json_script(html, "conversation-data")
    assert data["id"] == alice_karim.pk
    assert data["receipts"] is True
    assert data["positions"] == {str(school.parent.pk): 0}
    message = alice_karim.messages.get()
    login(school.parent).post(
        f"/messages/{alice_karim.pk}/api/read/", {"message_id": message.pk}
    )
    html = client.get(f"/messages/{alice_karim.pk}/").content.decode()
    assert "Lu par 1 sur 1" in html


def test_read_receipts_off_by_school_policy(school, alice_karim):
    MessagingPolicy.objects.create(org=school.org, read_receipts=False)
    html = login(school.teacher).get(f"/messages/{alice_karim.pk}/").content.decode()
    assert "data-receipt" not in html
    assert json_script(html, "conversation-data")["positions"] == {}


def test_reply_policy_sender_says_who_sees_the_reply(school):
    conversation = start(
        school.teacher,
        [school.parent, school.other_parent],
        reply_policy=Conversation.ReplyPolicy.SENDER,
    )
    html = login(school.parent).get(f"/messages/{conversation.pk}/").content.decode()
    assert (
        "Votre réponse n&#x27;est visible que par l&#x27;enseignant, Alice Martin"
        in html
    )
    assert 'id="reply-form"' in html
    assert "Sophie" not in html  # the other family stays unnamed
    assert "1 autre destinataire" in html


def test_reply_policy_none_hides_the_form(school):
    conversation = start(
        school.teacher, [school.parent], reply_policy=Conversation.ReplyPolicy.NONE
    )
    client = login(school.parent)
    html = client.get(f"/messages/{conversation.pk}/").content.decode()
    assert 'id="reply-form"' not in html
    assert "Les réponses ne sont pas ouvertes" in html
    response = send_json(client, conversation)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_send_returns_the_message_and_a_resend_is_the_same_message(school, alice_karim):
    client = login(school.parent)
    same = key()
    first = send_json(client, alice_karim, "Merci beaucoup", same)
    assert first.status_code == 200
    message = first.json()["message"]
    assert message["mine"] is True
    assert message["state"] == "ok"
    assert f'data-message-id="{message["id"]}"' in message["html"]
    assert "Merci beaucoup" in message["html"]
    count = Message.objects.count()
    again = send_json(client, alice_karim, "Merci beaucoup", same)
    assert again.status_code == 200
    assert again.json()["message"]["id"] == message["id"]
    assert Message.objects.count() == count
    other = send_json(client, alice_karim, "Autre texte", same)
    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_conflict"
    assert Message.objects.count() == count


def test_reply_without_script_redirects_to_the_message(school, alice_karim):
    client = login(school.parent)
    response = client.post(
        f"/messages/{alice_karim.pk}/",
        {"body": "Sans script\r\nligne 2", "idempotency_key": key()},
    )
    message = Message.objects.latest("pk")
    assert response.status_code == 302
    assert response["Location"].endswith(f"#message-{message.pk}")
    assert crypto.decrypt(message.body).decode() == "Sans script\nligne 2"


def test_too_long_is_400_too_long_and_nothing_is_stored(school, alice_karim):
    client = login(school.parent)
    count = Message.objects.count()
    response = send_json(client, alice_karim, "a" * 10_001)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "too_long"
    assert "10000" in body["message"].replace("\u202f", "").replace(" ", "")
    assert Message.objects.count() == count
    # CRLF line breaks count as one character: 5,000 lines of "a" fit.
    assert send_json(client, alice_karim, "a\r\n" * 4_999 + "a").status_code == 200


def test_too_long_without_script_keeps_the_draft(school, alice_karim):
    response = login(school.parent).post(
        f"/messages/{alice_karim.pk}/",
        {"body": "<b>brouillon</b>" + "a" * 10_000, "idempotency_key": "k-1"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Message trop long" in html
    assert "&lt;b&gt;brouillon&lt;/b&gt;aaa" in html
    assert 'name="idempotency_key" value="k-1"' in html


def test_rate_limit_is_429_with_retry_after(school, alice_karim):
    client = login(school.parent)
    statuses = [send_json(client, alice_karim, f"n°{i}").status_code for i in range(6)]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429
    response = send_json(client, alice_karim, "encore")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert body["error"] == "rate_limited"
    assert body["retry_after"] == int(response["Retry-After"])
    assert "réessayez dans" in body["message"]


def test_exe_renamed_pdf_is_refused(school, alice_karim):
    count = Attachment.objects.count()
    response = send_json(
        login(school.parent),
        alice_karim,
        "Voici le justificatif",
        files=[SimpleUploadedFile("justificatif.pdf", EXE)],
    )
    assert response.status_code == 400
    assert response.json()["error"] == "files"
    assert "justificatif.pdf" in response.json()["message"]
    assert Attachment.objects.count() == count


def test_six_files_are_refused(school, alice_karim):
    files = [SimpleUploadedFile(f"f{i}.pdf", PDF) for i in range(6)]
    response = send_json(login(school.parent), alice_karim, "fichiers", files=files)
    assert response.status_code == 400
    assert response.json()["error"] == "files"


def test_html_and_script_in_body_subject_and_file_name_are_escaped(school):
    evil = '<img src=x onerror="alert(1)">.pdf'
    conversation = start(
        school.teacher,
        [school.parent],
        subject="<script>alert('objet')</script>",
        body="<script>alert('corps')</script> **gras** [lien](javascript:alert(1))",
        uploads=[SimpleUploadedFile(evil, PDF)],
    )
    client = login(school.parent)
    page = client.get(f"/messages/{conversation.pk}/").content.decode()
    inbox = client.get("/messages/").content.decode()
    api = client.get(f"/messages/{conversation.pk}/api/messages/").json()
    fragment = api["messages"][0]["html"]
    for html in (page, fragment):
        assert "<script>alert(" not in html
        assert "onerror=" not in html.replace("onerror=&quot;", "")
        assert "<img" not in html
        assert 'href="javascript' not in html  # left as plain text
        assert "<strong>gras</strong>" in html
        # Shown as it downloads: the sender's base name made a file name.
        assert files.download_name(evil, "application/pdf") in html
    assert "&lt;script&gt;alert(&#x27;objet&#x27;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#x27;objet&#x27;)&lt;/script&gt;" in inbox
    assert "<script>alert(" not in inbox


def test_attachment_is_served_decrypted_to_participants_only(school, alice_sophie):
    attachment = Attachment.objects.get(message__conversation=alice_sophie)
    assert PDF not in attachment.file.open("rb").read()  # encrypted at rest
    response = login(school.other_parent).get(f"/messages/files/{attachment.pk}/")
    assert response.status_code == 200
    assert response.content == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "bulletin.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert (
        login(school.parent).get(f"/messages/files/{attachment.pk}/").status_code == 404
    )


def test_messages_api_pages_by_id(school, alice_karim):
    client = login(school.parent)
    first = alice_karim.messages.get()
    reply = send_json(client, alice_karim, "Réponse").json()["message"]
    url = f"/messages/{alice_karim.pk}/api/messages/"
    body = client.get(url).json()
    assert [m["id"] for m in body["messages"]] == [first.pk, reply["id"]]
    assert body["more"] is False
    after = client.get(url, {"after": first.pk}).json()
    assert [m["id"] for m in after["messages"]] == [reply["id"]]
    one = client.get(f"{url}{first.pk}/").json()["message"]
    assert one["id"] == first.pk and one["mine"] is False


def test_edit_delete_and_report(school, alice_karim):
    client = login(school.parent)
    mine = send_json(client, alice_karim, "Premier jet").json()["message"]
    base = f"/messages/{alice_karim.pk}/api/messages/{mine['id']}"
    edited = client.post(
        f"{base}/edit/", {"body": "Version corrigée"}, HTTP_ACCEPT="application/json"
    )
    assert edited.status_code == 200
    assert "Version corrigée" in edited.json()["message"]["html"]
    assert "modifié" in edited.json()["message"]["html"]
    deleted = client.post(f"{base}/delete/", HTTP_ACCEPT="application/json")
    assert deleted.json()["message"]["state"] == "deleted"
    assert "Message supprimé" in deleted.json()["message"]["html"]
    # Someone else's message: no edit, no delete, but a report.
    theirs = alice_karim.messages.order_by("pk").first()
    base = f"/messages/{alice_karim.pk}/api/messages/{theirs.pk}"
    response = client.post(
        f"{base}/edit/", {"body": "pirate"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 403
    assert (
        client.post(f"{base}/delete/", HTTP_ACCEPT="application/json").status_code
        == 403
    )
    assert (
        client.post(
            f"{base}/report/", {"reason": ""}, HTTP_ACCEPT="application/json"
        ).json()["error"]
        == "invalid"
    )
    reported = client.post(
        f"{base}/report/", {"reason": "Propos déplacés"}, HTTP_ACCEPT="application/json"
    )
    assert reported.status_code == 200
    assert "Signalé" in reported.json()["message"]["html"]
    assert Report.objects.get().reason == "Propos déplacés"


def test_edit_window_is_15_minutes(school, alice_karim):
    import datetime as dt

    client = login(school.parent)
    mine = send_json(client, alice_karim, "Vieux").json()["message"]
    Message.objects.filter(pk=mine["id"]).update(
        created_at=Message.objects.get(pk=mine["id"]).created_at
        - dt.timedelta(minutes=16)
    )
    html = client.get(f"/messages/{alice_karim.pk}/").content.decode()
    assert (
        f'action="/messages/{alice_karim.pk}/api/messages/{mine["id"]}/edit/"'
        not in html
    )
    response = client.post(
        f"/messages/{alice_karim.pk}/api/messages/{mine['id']}/edit/",
        {"body": "Trop tard"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 403
    assert response.json()["error"] == "edit_window"


# New conversation ----------------------------------------------------------------


def test_new_conversation_offers_only_allowed_recipients(school):
    client = login(school.parent)
    html = client.get("/messages/new/", {"org": school.org.pk}).content.decode()
    assert f'id="recipient-{school.teacher.pk}"' in html  # Léa's teacher
    assert f'id="recipient-{school.cpe.pk}"' in html  # school-life staff
    assert f'id="recipient-{school.other_parent.pk}"' not in html  # another family
    assert f'id="recipient-{school.pupil2.pk}"' not in html  # a pupil
    assert f'id="recipient-{school.outsider.pk}"' not in html  # another school
    assert 'name="classes"' not in html  # shortcuts are for teachers and staff


def test_guardian_with_children_in_two_schools_chooses_the_school(school):
    client = login(school.parent)
    html = client.get("/messages/new/").content.decode()
    assert 'id="org-choice"' in html
    assert "Collège Jules Verne" in html
    other = client.get("/messages/new/", {"org": school.other_org.pk}).content.decode()
    assert f'id="recipient-{school.outsider.pk}"' in other  # Inès's teacher
    assert f'id="recipient-{school.teacher.pk}"' not in other


def test_forged_recipient_is_refused_and_the_form_is_kept(school):
    client = login(school.parent)
    response = client.post(
        "/messages/new/",
        {
            "org": school.org.pk,
            "subject": "Coucou <b>Sophie</b>",
            "recipients": [school.other_parent.pk],
            "body": "Mon brouillon",
            "idempotency_key": key(),
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert not Conversation.objects.exists()
    assert "Mon brouillon" in html
    assert 'value="Coucou &lt;b&gt;Sophie&lt;/b&gt;"' in html


def test_guardian_starts_a_conversation_with_the_teacher(school):
    client = login(school.parent)
    idempotency_key = key()
    data = {
        "org": school.org.pk,
        "subject": "Absence de Léa",
        "recipients": [school.teacher.pk],
        "reply_policy": "all",
        "body": "Bonjour Madame",
        "idempotency_key": idempotency_key,
    }
    response = client.post("/messages/new/", data)
    conversation = Conversation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/messages/{conversation.pk}/"
    assert set(conversation.participants.values_list("user_id", flat=True)) == {
        school.parent.pk,
        school.teacher.pk,
    }
    # A double submit opens the same conversation again.
    again = client.post("/messages/new/", data)
    assert again["Location"] == f"/messages/{conversation.pk}/"
    assert Conversation.objects.count() == 1


def test_teacher_writes_to_all_guardians_of_a_class(school):
    client = login(school.teacher)
    html = client.get("/messages/new/").content.decode()
    assert f'id="class-{school.class_4b.pk}"' in html
    assert f'id="class-{school.class_3a.pk}"' not in html  # not her class
    response = client.post(
        "/messages/new/",
        {
            "org": school.org.pk,
            "subject": "Sortie",
            "classes": [school.class_4b.pk],
            "body": "Autorisation à rendre",
            "idempotency_key": key(),
        },
    )
    assert response.status_code == 302
    conversation = Conversation.objects.get()
    assert conversation.reply_policy == "sender"  # the default for a class
    assert set(conversation.participants.values_list("user_id", flat=True)) == {
        school.teacher.pk,
        school.parent.pk,
        school.other_parent.pk,
    }


def test_teacher_writes_to_the_guardians_of_one_pupil(school):
    response = login(school.teacher).post(
        "/messages/new/",
        {
            "org": school.org.pk,
            "subject": "Léa",
            "pupil": school.pupil.pk,
            "reply_policy": "all",
            "body": "Bonjour",
            "idempotency_key": key(),
        },
    )
    assert response.status_code == 302
    conversation = Conversation.objects.get()
    assert set(conversation.participants.values_list("user_id", flat=True)) == {
        school.teacher.pk,
        school.parent.pk,
    }


def test_teacher_cannot_forge_a_class_she_does_not_teach(school):
    response = login(school.teacher).post(
        "/messages/new/",
        {
            "org": school.org.pk,
            "subject": "Intrus",
            "classes": [school.class_3a.pk],
            "pupil": school.pupil3.pk,
            "body": "Bonjour",
            "idempotency_key": key(),
        },
    )
    assert response.status_code == 400
    assert not Conversation.objects.exists()


def test_new_conversation_errors_of_the_action_are_shown(school):
    response = login(school.parent).post(
        "/messages/new/",
        {
            "org": school.org.pk,
            "subject": "Trop long",
            "recipients": [school.teacher.pk],
            "body": "a" * 10_001,
            "idempotency_key": key(),
        },
    )
    assert response.status_code == 400
    assert "Message trop long" in response.content.decode()
    assert not Conversation.objects.exists()


# Moderation ------------------------------------------------------------------------


def test_moderation_hide_dismiss_and_suspend(school, alice_karim):
    karim = login(school.parent)
    message = alice_karim.messages.get()
    karim.post(
        f"/messages/{alice_karim.pk}/api/messages/{message.pk}/report/",
        {"reason": "<i>Insultant</i>"},
    )
    assert karim.get("/messages/moderation/").status_code == 404
    assert login(school.teacher).get("/messages/moderation/").status_code == 404
    paul = login(school.cpe)
    html = paul.get("/messages/moderation/").content.decode()
    report = Report.objects.get()
    assert f'data-report-id="{report.pk}"' in html
    assert "&lt;i&gt;Insultant&lt;/i&gt;" in html
    assert "<strong>Karim</strong>" in html  # the message, rendered
    assert "Signalements" in paul.get("/messages/").content.decode()

    response = paul.post(f"/messages/moderation/{report.pk}/", {"decision": "suspend"})
    assert response.status_code == 302
    assert WriteSuspension.objects.get().user == school.teacher
    teacher_page = login(school.teacher).get(f"/messages/{alice_karim.pk}/")
    assert "suspendu" in teacher_page.content.decode()

    paul.post(f"/messages/moderation/{report.pk}/", {"decision": "hide"})
    message.refresh_from_db()
    assert message.hidden_at is not None
    page = karim.get(f"/messages/{alice_karim.pk}/").content.decode()
    assert "Message masqué par l’établissement" in page
    assert "<strong>Karim</strong>" not in page
    # Handled: gone from the queue; another moderator's id is a 404.
    assert (
        f'data-report-id="{report.pk}"'
        not in paul.get("/messages/moderation/").content.decode()
    )
    assert (
        paul.post(
            f"/messages/moderation/{report.pk}/", {"decision": "hide"}
        ).status_code
        == 404
    )


def test_moderation_hides_and_suspends_in_one_step(school, alice_karim):
    message = alice_karim.messages.get()
    actions.report_message(message=message, reporter=school.parent, reason="menace")
    report = Report.objects.get()
    paul = login(school.cpe)
    assert "hide_suspend" in paul.get("/messages/moderation/").content.decode()
    paul.post(f"/messages/moderation/{report.pk}/", {"decision": "hide_suspend"})
    message.refresh_from_db()
    assert message.hidden_at is not None
    assert WriteSuspension.objects.get().user == school.teacher


def test_moderation_dismiss(school, alice_karim):
    message = alice_karim.messages.get()
    actions.report_message(message=message, reporter=school.parent, reason="spam")
    report = Report.objects.get()
    login(school.cpe).post(
        f"/messages/moderation/{report.pk}/", {"decision": "dismiss"}
    )
    report.refresh_from_db()
    message.refresh_from_db()
    assert report.status == "dismissed"
    assert message.hidden_at is None


def test_pages_switch_to_english(school, alice_karim):
    client = login(school.parent)
    client.post("/i18n/setlang/", {"language": "en", "next": "/messages/"})
    html = client.get("/messages/").content.decode()
    assert "New conversation" in html
    html = client.get(f"/messages/{alice_karim.pk}/").content.decode()
    assert "Your reply" in html


def test_anonymous_is_sent_to_login(school, alice_karim):
    response = Client().get(f"/messages/{alice_karim.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_typing_in_a_class_message_reaches_its_creator_only(school):
    """The page shows who types; a reply-to-sender conversation must not
    name the other families to each other (core/messaging/typing.py)."""
    from core.messaging.typing import relay_typing

    conversation = start(
        school.teacher,
        [school.parent, school.other_parent],
        reply_policy=Conversation.ReplyPolicy.SENDER,
    )
    frame = {"type": "typing", "conversation": conversation.pk}
    assert relay_typing(school.parent, frame).user_ids == [school.teacher.pk]
    assert set(relay_typing(school.teacher, frame).user_ids) == {
        school.parent.pk,
        school.other_parent.pk,
    }
    Conversation.objects.filter(pk=conversation.pk).update(reply_policy="none")
    assert relay_typing(school.parent, frame).user_ids == []


def test_a_file_is_listed_under_the_name_it_downloads_as(school):
    """A PNG sent as ``photo.exe`` is listed (and downloads) as photo.png."""
    conversation = start(
        school.teacher, [school.parent], uploads=[SimpleUploadedFile("photo.exe", PNG)]
    )
    client = login(school.parent)
    page = client.get(f"/messages/{conversation.pk}/").content.decode()
    assert "photo.png" in page and "photo.exe" not in page
