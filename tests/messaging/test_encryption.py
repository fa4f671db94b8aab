"""Encryption at rest: no plaintext in the database, the files or a dump, and
key rotation with ``manage.py rotate_message_keys``."""

import io
import json

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from core import crypto
from core.messaging import actions
from core.messaging.models import Attachment, Message
from tests.messaging.helpers import PDF, send, start, upload

pytestmark = pytest.mark.django_db

SECRET = "Léa a confié à l'infirmière qu'elle est harcelée"
FILE_NAME = "certificat-médical-léa.pdf"
FILE_SECRET = b"Diagnostic: varicelle, eviction 10 jours"
OLD_KEY = "MT1kFVjWzn9hbrZbQQyhH6xFzU5rxT7TeU2XtTxzO1c="  # core.settings_test's


def sensitive(data: bytes) -> list[str]:
    """Return which secrets appear in ``data``, in UTF-8 or Latin-1."""
    found = []
    for secret in (SECRET, FILE_NAME, FILE_SECRET.decode(), "varicelle", "harcel"):
        for encoding in ("utf-8", "latin-1"):
            if secret.encode(encoding, "ignore") in data:
                found.append(secret)
    return found


@pytest.fixture
def conversation(school):
    conversation = start(school, school.teacher, [school.parent], body=SECRET)
    send(
        conversation,
        school.parent,
        SECRET,
        uploads=[upload(FILE_NAME, PDF + FILE_SECRET)],
    )
    return conversation


def raw_column(table: str, column: str) -> list[bytes]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")  # noqa: S608 (constants)
        return [bytes(row[0]) for row in cursor.fetchall()]


def test_the_raw_body_column_holds_no_plaintext(conversation):
    bodies = raw_column("messaging_message", "body")

    assert len(bodies) == 2
    for body in bodies:
        assert sensitive(body) == []
        assert crypto.decrypt(body).decode() == SECRET


def test_the_raw_attachment_name_and_stored_file_hold_no_plaintext(
    conversation, media_root
):
    (name,) = raw_column("messaging_attachment", "name")
    (attachment,) = Attachment.objects.all()
    stored = (media_root / attachment.file.name).read_bytes()

    assert sensitive(name) == []
    assert sensitive(stored) == []
    assert b"%PDF" not in stored
    assert "certificat" not in attachment.file.name
    assert crypto.decrypt(stored) == PDF + FILE_SECRET
    files = [path for path in media_root.rglob("*") if path.is_file()]
    assert all(sensitive(path.read_bytes()) == [] for path in files)


def test_a_dump_reveals_no_message_text(conversation):
    actions.mark_read(
        conversation=conversation,
        user=conversation.created_by,
        message_id=conversation.messages.last().pk,
    )
    dump = io.StringIO()

    # The message tables, the audit log and the stream log (events carry ids
    # and names, never text).
    call_command("dumpdata", "messaging", "audit", "hub", stdout=dump)

    assert '"model": "messaging.message"' in dump.getvalue()
    assert sensitive(dump.getvalue().encode()) == []


def test_rotation_re_encrypts_everything_with_the_new_key(
    conversation, school, settings, media_root, django_capture_on_commit_callbacks
):
    deleted = send(conversation, school.teacher, "à effacer")
    actions.delete_message(message=deleted, actor=school.teacher)
    (attachment,) = Attachment.objects.all()
    old_file = media_root / attachment.file.name
    new_key = Fernet.generate_key().decode()
    settings.MESSAGE_KEYS = [new_key, OLD_KEY]
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("rotate_message_keys", "--batch", "1", stdout=out)

    assert set(out.getvalue().splitlines()) >= {
        "messaging.Message.body: 2 re-encrypted, 0 already on the first key",
        "messaging.Attachment.name: 1 re-encrypted, 0 already on the first key",
        "messaging.Attachment.file files: 1 re-encrypted, 0 already on the first key",
    }
    settings.MESSAGE_KEYS = [new_key]  # the old key is gone
    for message in Message.objects.exclude(pk=deleted.pk):
        assert crypto.decrypt(message.body).decode() == SECRET
    assert bytes(Message.objects.get(pk=deleted.pk).body) == b""
    attachment.refresh_from_db()
    assert crypto.decrypt(attachment.name).decode() == FILE_NAME
    with attachment.file.open("rb") as handle:
        token = handle.read()
    assert crypto.decrypt(token) == PDF + FILE_SECRET
    assert not old_file.exists()
    with pytest.raises(InvalidToken):
        Fernet(OLD_KEY).decrypt(token)

    again = io.StringIO()
    call_command("rotate_message_keys", stdout=again)
    assert set(again.getvalue().splitlines()) >= {
        "messaging.Message.body: 0 re-encrypted, 2 already on the first key",
        "messaging.Attachment.name: 0 re-encrypted, 1 already on the first key",
        "messaging.Attachment.file files: 0 re-encrypted, 1 already on the first key",
    }


def test_messages_sent_during_a_rotation_use_the_new_key(conversation, settings):
    new_key = Fernet.generate_key().decode()
    settings.MESSAGE_KEYS = [new_key, OLD_KEY]

    message = send(conversation, conversation.created_by, "nouveau")

    assert Fernet(new_key).decrypt(bytes(message.body)) == b"nouveau"
    # Old rows still read before the command has run.
    assert {crypto.decrypt(m.body) for m in Message.objects.all()} == {
        SECRET.encode(),
        b"nouveau",
    }


def test_without_the_old_key_old_messages_no_longer_decrypt(conversation, settings):
    settings.MESSAGE_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(InvalidToken):
        crypto.decrypt(Message.objects.first().body)


@pytest.mark.parametrize("bad", ["not-a-key", "", "A" * 43, 42])
def test_an_invalid_key_is_a_clear_configuration_error(settings, bad):
    settings.MESSAGE_KEYS = [OLD_KEY, bad]

    with pytest.raises(ImproperlyConfigured) as error:
        crypto.encrypt("x")

    assert "MESSAGE_KEYS[1] is not a valid Fernet key" in str(error.value)
    if isinstance(bad, str) and bad:
        assert bad not in str(error.value)


def test_the_rotation_command_stops_on_an_invalid_key(conversation, settings):
    settings.MESSAGE_KEYS = ["not-a-key", OLD_KEY]

    with pytest.raises(ImproperlyConfigured, match=r"MESSAGE_KEYS\[0\]"):
        call_command("rotate_message_keys", stdout=io.StringIO())

    settings.MESSAGE_KEYS = [OLD_KEY]
    assert crypto.decrypt(Message.objects.first().body).decode() == SECRET


def test_no_key_outside_debug_is_a_clear_configuration_error(settings):
    settings.MESSAGE_KEYS = []
    settings.DEBUG = False

    with pytest.raises(ImproperlyConfigured, match="MESSAGE_KEYS is not set"):
        crypto.encrypt("x")


# Subjects, reasons -------------------------------------------------------------


def test_subjects_and_moderation_texts_are_encrypted_at_rest(school):
    conversation = start(school, school.teacher, [school.parent], subject=SECRET)
    reply = send(conversation, school.parent, "Réponse")
    actions.report_message(message=reply, reporter=school.teacher, reason=SECRET)
    actions.suspend_writer(
        user=school.parent,
        org=school.org,
        moderator=school.cpe,
        until=None,
        reason=SECRET,
    )
    dump = io.StringIO()

    call_command("dumpdata", "messaging", stdout=dump)

    for table, column in [
        ("messaging_conversation", "subject"),
        ("messaging_report", "reason"),
        ("messaging_report", "evidence"),
        ("messaging_writesuspension", "reason"),
    ]:
        (raw,) = raw_column(table, column)
        assert raw and sensitive(raw) == [], (table, column)
    assert sensitive(dump.getvalue().encode()) == []
    conversation.refresh_from_db()
    assert conversation.subject == SECRET


def test_the_rotation_covers_subjects_and_reasons(school, settings):
    conversation = start(school, school.teacher, [school.parent], subject="Cantine")
    reply = send(conversation, school.parent, "Réponse")
    actions.report_message(message=reply, reporter=school.teacher, reason="ton")
    new_key = Fernet.generate_key().decode()
    settings.MESSAGE_KEYS = [new_key, OLD_KEY]

    call_command("rotate_message_keys", stdout=io.StringIO())

    settings.MESSAGE_KEYS = [new_key]
    (subject,) = raw_column("messaging_conversation", "subject")
    assert crypto.decrypt(subject) == b"Cantine"
    (reason,) = raw_column("messaging_report", "reason")
    assert crypto.decrypt(reason) == b"ton"


def test_search_finds_encrypted_subjects_case_and_accents_aside(school):
    from core.messaging import access

    museum = start(school, school.teacher, [school.parent], subject="Sortie au Musée")
    start(school, school.teacher, [school.parent], subject="Cantine")
    start(school, school.teacher, [school.other_parent], subject="Musée, autre famille")

    found = set(
        access.search_conversations(school.parent, "musee").values_list("pk", flat=True)
    )

    assert found == {museum.pk}
    one = access.search_conversations(school.parent, "MUSÉE", only=museum.pk)
    assert set(one.values_list("pk", flat=True)) == {museum.pk}


def test_a_dump_of_encrypted_fields_loads_back(school, tmp_path):
    conversation = start(school, school.teacher, [school.parent], subject="Cantine")
    dump = tmp_path / "conversations.json"
    call_command(
        "dumpdata", "messaging.conversation", output=str(dump), stdout=io.StringIO()
    )
    assert "Cantine" not in dump.read_text()
    from core.messaging.models import Conversation

    Conversation.objects.filter(pk=conversation.pk).update(subject="autre")

    call_command("loaddata", str(dump), stdout=io.StringIO())

    conversation.refresh_from_db()
    assert conversation.subject == "Cantine"


def test_the_stream_log_holds_no_subject_and_the_push_still_says_it(school):
    from core.messaging.events import MessageChanged
    from hub.models import Event

    start(school, school.teacher, [school.parent], subject=SECRET)

    (event, *_) = Event.objects.filter(kind="messaging.message")
    assert sensitive(json.dumps(event.payload, ensure_ascii=False).encode()) == []
    notice = MessageChanged(op=event.op, **event.payload).notice(event.created_at)
    assert notice.body == SECRET
