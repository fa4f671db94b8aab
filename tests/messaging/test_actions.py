"""Messaging actions: conversations, sends, edits, deletes, moderation, limits.

Every bad input of the issue gets a clear refusal (a ``MessagingError`` with
a stable ``code``), stores nothing and emits nothing.
"""

import datetime as dt
from html.parser import HTMLParser

import pytest
import time_machine
from django.http import Http404
from django.utils import timezone

from core import crypto
from core.audit.models import AuditEntry
from core.messaging import access, actions
from core.messaging.actions import MessagingError, RateLimited
from core.messaging.models import (
    Attachment,
    Conversation,
    Message,
    MessagingPolicy,
    Report,
)
from core.messaging.render import render_message
from tests.conftest import capture_events
from tests.messaging.helpers import EXE, IP, PDF, PNG, key, send, start, upload

pytestmark = pytest.mark.django_db


def streams_of(events) -> set[str]:
    return {event.stream for event in events}


def user_streams(*users) -> set[str]:
    return {f"user:{user.pk}" for user in users}


def text(message: Message) -> str:
    message.refresh_from_db()
    return crypto.decrypt(message.body).decode()


def assert_nothing_stored() -> None:
    assert Conversation.objects.count() == 0
    assert Message.objects.count() == 0
    assert Attachment.objects.count() == 0


# Starting and sending ---------------------------------------------------------


def test_teacher_starts_a_conversation_with_a_pupils_guardian(school):
    with capture_events() as events:
        conversation = start(
            school, school.teacher, [school.parent], body="Léa a oublié son livre."
        )

    assert conversation.org == school.org
    assert conversation.created_by == school.teacher
    assert set(conversation.participants.values_list("user__username", flat=True)) == {
        "alice",
        "karim",
    }
    (message,) = conversation.messages.all()
    assert text(message) == "Léa a oublié son livre."
    assert [(e.kind, e.op) for e in events] == [("messaging.message", "new")] * 2
    assert streams_of(events) == user_streams(school.teacher, school.parent)
    assert events[0].data == {
        "conversation_id": conversation.pk,
        "message_id": message.pk,
        "sender_id": school.teacher.pk,
        "sender_name": "Alice Martin",
        "silent": False,
        "org_id": school.org.pk,
    }


def test_guardians_of_a_class_reply_to_everyone_when_the_teacher_allows_it(school):
    conversation = start(
        school,
        school.teacher,
        [school.parent, school.other_parent],
        reply_policy=Conversation.ReplyPolicy.ALL,
    )

    with capture_events() as events:
        reply = send(conversation, school.parent, "Je peux accompagner.")

    # Karim may not write to Sophie on his own; Alice, who may, opened the
    # conversation to replies to everyone.
    assert reply.visible_to is None
    assert streams_of(events) == user_streams(
        school.teacher, school.parent, school.other_parent
    )
    assert reply in access.messages_of(conversation, school.other_parent)


def test_reply_to_sender_only_is_seen_by_the_creator_and_its_author(school):
    conversation = start(
        school,
        school.teacher,
        [school.parent, school.other_parent],
        reply_policy=Conversation.ReplyPolicy.SENDER,
    )

    with capture_events() as events:
        reply = send(conversation, school.parent, "Léa sera absente.")

    assert reply.visible_to == school.teacher
    assert streams_of(events) == user_streams(school.teacher, school.parent)
    assert reply in access.messages_of(conversation, school.teacher)
    assert reply in access.messages_of(conversation, school.parent)
    assert reply not in access.messages_of(conversation, school.other_parent)
    with pytest.raises(Http404):
        access.get_message_for_user(school.other_parent, reply.pk)
    unread = {
        c.pk: c.unread for c in access.conversations_for_user(school.other_parent)
    }
    assert unread == {conversation.pk: 1}  # the teacher's message only


def test_reply_policy_none_refuses_replies_but_not_the_creator(school):
    conversation = start(
        school,
        school.teacher,
        [school.parent],
        reply_policy=Conversation.ReplyPolicy.NONE,
    )

    with pytest.raises(MessagingError) as refused, capture_events() as events:
        send(conversation, school.parent, "Merci")

    assert refused.value.code == "forbidden"
    assert events == []
    assert conversation.messages.count() == 1
    send(conversation, school.teacher, "Rappel : sortie demain.")
    assert conversation.messages.count() == 2


def test_an_unknown_reply_policy_is_refused(school):
    with pytest.raises(MessagingError) as refused:
        start(school, school.teacher, [school.parent], reply_policy="everyone")

    assert refused.value.code == "invalid"
    assert_nothing_stored()


def test_adding_a_forbidden_participant_refuses_the_whole_conversation(school):
    with pytest.raises(MessagingError) as refused, capture_events() as events:
        start(school, school.parent, [school.teacher, school.other_parent])

    assert refused.value.code == "forbidden"
    assert "Sophie Petit" in str(refused.value)
    assert events == []
    assert_nothing_stored()


def test_a_pupil_may_not_start_a_conversation_by_default(school):
    with pytest.raises(MessagingError):
        start(school, school.pupil, [school.teacher])
    MessagingPolicy.objects.create(org=school.org, pupils_may_write_teachers=True)

    assert start(school, school.pupil, [school.teacher]).created_by == school.pupil


def test_an_outsider_may_not_write_across_schools(school):
    with pytest.raises(MessagingError):
        start(school, school.outsider, [school.parent])  # in school.org

    conversation = actions.start_conversation(
        sender=school.outsider,
        org=school.other_org,
        subject="Inès",
        recipients=[school.parent],
        body="Bonjour",
        idempotency_key=key(),
    )
    assert conversation.org == school.other_org


def test_sending_to_a_conversation_one_is_not_in_is_refused(school):
    conversation = start(school, school.teacher, [school.parent])

    for intruder in (school.other_parent, school.cpe, school.outsider):
        with pytest.raises(MessagingError) as refused, capture_events() as events:
            send(conversation, intruder, "Bonjour")
        assert refused.value.code == "forbidden"
        assert events == []
    assert conversation.messages.count() == 1


@pytest.mark.parametrize("forged", ["other", 0, -1, 10**6, 2**63 - 1, 2**63, 10**30])
def test_forged_conversation_ids_look_like_missing_ones(school, forged):
    conversation = start(school, school.teacher, [school.parent])
    (message,) = conversation.messages.all()
    conversation_id = conversation.pk if forged == "other" else forged
    message_id = message.pk if forged == "other" else forged

    with pytest.raises(Http404):
        access.get_conversation_for_user(school.other_parent, conversation_id)
    with pytest.raises(Http404):
        access.get_message_for_user(school.other_parent, message_id)
    assert list(access.conversations_for_user(school.other_parent)) == []


def test_the_policy_is_checked_on_every_send_not_only_at_the_start(school):
    conversation = start(school, school.parent, [school.teacher])
    send(conversation, school.parent, "Léa est malade.")
    school.pupil.enrollments.all().delete()  # Léa left Alice's class

    with pytest.raises(MessagingError) as refused:
        send(conversation, school.parent, "Et demain ?")

    assert refused.value.code == "forbidden"
    assert conversation.messages.count() == 2


def test_an_empty_message_is_refused(school):
    with pytest.raises(MessagingError) as refused:
        start(school, school.teacher, [school.parent], body="   \n ")

    assert refused.value.code == "empty"
    assert_nothing_stored()


# Limits -----------------------------------------------------------------------


def test_a_message_of_10001_characters_is_refused_and_nothing_stored(school):
    conversation = start(school, school.teacher, [school.parent])

    with pytest.raises(MessagingError) as refused, capture_events() as events:
        send(conversation, school.teacher, "é" * 10_001)

    assert refused.value.code == "too_long"
    assert "10001" in str(refused.value) and "10000" in str(refused.value)
    assert events == []
    assert conversation.messages.count() == 1
    assert text(send(conversation, school.teacher, "é" * 10_000)) == "é" * 10_000


def test_starting_with_a_too_long_message_stores_no_conversation(school):
    with pytest.raises(MessagingError) as refused:
        start(school, school.teacher, [school.parent], body="x" * 10_001)

    assert refused.value.code == "too_long"
    assert_nothing_stored()


@pytest.mark.parametrize("count", [6, 10])
def test_more_than_5_files_are_refused(school, count):
    conversation = start(school, school.teacher, [school.parent])

    with pytest.raises(MessagingError) as refused:
        send(
            conversation,
            school.teacher,
            uploads=[upload(f"doc{n}.pdf") for n in range(count)],
        )

    assert refused.value.code == "files"
    assert conversation.messages.count() == 1
    assert Attachment.objects.count() == 0


def test_5_files_of_accepted_types_are_stored(school, media_root):
    conversation = start(school, school.teacher, [school.parent])

    message = send(
        conversation,
        school.teacher,
        "Les documents",
        uploads=[upload("menu.pdf"), upload("photo.png", PNG)]
        + [upload(f"fiche{n}.pdf") for n in range(3)],
    )

    attachments = list(message.attachments.order_by("pk"))
    assert [a.mime for a in attachments] == ["application/pdf", "image/png"] + [
        "application/pdf"
    ] * 3
    assert crypto.decrypt(attachments[1].name) == b"photo.png"
    with attachments[1].file.open("rb") as stored:
        assert crypto.decrypt(stored.read()) == PNG


def test_an_exe_renamed_pdf_is_refused(school):
    conversation = start(school, school.teacher, [school.parent])

    with pytest.raises(MessagingError) as refused:
        send(conversation, school.teacher, uploads=[upload("bulletin.pdf", EXE)])

    assert refused.value.code == "files"
    assert "bulletin.pdf" in str(refused.value)
    assert Attachment.objects.count() == 0


def test_a_file_over_10_mb_is_refused(school):
    conversation = start(school, school.teacher, [school.parent])
    big = PDF + b"0" * (10 * 1024 * 1024)

    with pytest.raises(MessagingError) as refused:
        send(conversation, school.teacher, uploads=[upload("scan.pdf", big)])

    assert refused.value.code == "files"
    assert Attachment.objects.count() == 0


def test_file_names_are_kept_as_text_and_never_name_the_stored_file(school):
    conversation = start(school, school.teacher, [school.parent])
    hostile = '<img src=x onerror="alert(1)">\x00\x1b.pdf'

    message = send(
        conversation,
        school.teacher,
        uploads=[upload(hostile), upload("../../etc/passwd.pdf")],
    )

    first, second = message.attachments.order_by("pk")
    assert crypto.decrypt(first.name).decode() == '<img src=x onerror="alert(1)">.pdf'
    assert crypto.decrypt(second.name).decode() == "passwd.pdf"
    for attachment in (first, second):
        assert attachment.file.name.startswith("messages/")
        assert "<" not in attachment.file.name and ".." not in attachment.file.name


class Tags(HTMLParser):
    """Collect ``(tag, attributes)`` of an HTML fragment."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[clic](javascript:alert(1))",
        "[clic](JaVaScRiPt:alert(1))",
        "[clic](data:text/html;base64,PHNjcmlwdD4=)",
        "<a href='javascript:alert(1)'>x</a>",
        '**gras** <iframe src="https://evil.example"></iframe>',
        "[x](https://ok.example \"t\" onclick='alert(1)')",
        '<https://ok.example/"onmouseover="alert(1)>',
        "<svg onload=alert(1)>",
    ],
)
def test_html_and_script_in_text_are_rendered_inert(source):
    html = render_message(source)

    for tag, attrs in Tags(html).found:
        assert tag in {"p", "br", "strong", "em", "ul", "ol", "li", "a"}, html
        assert not [name for name in attrs if name.startswith("on")], html
        if tag == "a":
            assert attrs["href"].split(":")[0] in {"http", "https", "mailto"}, html
            assert attrs["rel"] == "noopener noreferrer"


def test_the_markdown_subset_is_rendered_and_links_open_safely():
    html = render_message(
        "**gras**, *italique*\n\n- un\n- deux\n\n[ENT](https://ent.example.fr)"
    )

    assert "<strong>gras</strong>" in html
    assert "<em>italique</em>" in html
    assert "<ul>" in html and "<li>un</li>" in html
    assert 'href="https://ent.example.fr"' in html
    assert 'rel="noopener noreferrer"' in html
    assert 'target="_blank"' in html


# Idempotency and rate limit ---------------------------------------------------


def test_a_resend_with_the_same_key_and_content_returns_the_same_message(school):
    conversation = start(school, school.teacher, [school.parent])
    first = send(conversation, school.teacher, "Réunion jeudi", idempotency_key="k1")

    with capture_events() as events:
        again = send(
            conversation, school.teacher, "  Réunion jeudi\n", idempotency_key="k1"
        )

    assert again.pk == first.pk
    assert events == []
    assert conversation.messages.count() == 2
    assert AuditEntry.objects.filter(action="message.sent").count() == 2


def test_a_replayed_key_with_other_content_is_refused(school):
    conversation = start(school, school.teacher, [school.parent])
    send(conversation, school.teacher, "Réunion jeudi", idempotency_key="k1")

    with pytest.raises(MessagingError) as refused, capture_events() as events:
        send(conversation, school.teacher, "Réunion vendredi", idempotency_key="k1")
    with pytest.raises(MessagingError) as with_file:
        send(
            conversation,
            school.teacher,
            "Réunion jeudi",
            idempotency_key="k1",
            uploads=[upload("ordre-du-jour.pdf")],
        )

    assert refused.value.code == with_file.value.code == "idempotency_conflict"
    assert events == []
    assert conversation.messages.count() == 2


def test_a_resent_start_returns_the_conversation_already_made(school):
    first = start(school, school.teacher, [school.parent], idempotency_key="s1")

    with capture_events() as events:
        again = start(school, school.teacher, [school.parent], idempotency_key="s1")

    assert again.pk == first.pk
    assert events == []
    assert Conversation.objects.count() == 1


def test_the_same_key_from_another_sender_is_another_message(school):
    conversation = start(school, school.teacher, [school.parent])

    mine = send(conversation, school.teacher, "Bonjour", idempotency_key="k")
    theirs = send(conversation, school.parent, "Bonjour", idempotency_key="k")

    assert mine.pk != theirs.pk


def test_200_sends_pass_5_then_answer_rate_limited_and_others_still_send(school):
    with time_machine.travel(timezone.now() - dt.timedelta(minutes=10), tick=False):
        conversation = start(school, school.teacher, [school.parent])
    sent, refused = [], []

    with time_machine.travel(timezone.now(), tick=False) as clock:
        for n in range(200):
            try:
                sent.append(send(conversation, school.teacher, f"n°{n}"))
            except RateLimited as error:
                refused.append(error)

        assert len(sent) == 5
        assert [text(m) for m in sent] == [f"n°{n}" for n in range(5)]
        assert len(refused) == 195
        assert {error.code for error in refused} == {"rate_limited"}
        assert {error.retry_after for error in refused} == {3}  # 20 a minute
        assert "3 s" in str(refused[0])
        assert conversation.messages.count() == 1 + 5
        # Another user is not held back by Alice's empty bucket.
        send(conversation, school.parent, "Bien reçu")

        clock.shift(3)
        send(conversation, school.teacher, "un de plus")
        with pytest.raises(RateLimited):
            send(conversation, school.teacher, "encore")

    assert conversation.messages.count() == 1 + 5 + 2
    assert (
        Message.objects.values("sender", "idempotency_key").distinct().count()
        == Message.objects.count()
    )


def test_a_resend_does_not_spend_the_rate_limit(school):
    with time_machine.travel(timezone.now() - dt.timedelta(minutes=10), tick=False):
        conversation = start(school, school.teacher, [school.parent])

    with time_machine.travel(timezone.now(), tick=False):
        first = send(conversation, school.teacher, "Bonjour", idempotency_key="k")
        for _ in range(20):
            assert (
                send(conversation, school.teacher, "Bonjour", idempotency_key="k")
                == first
            )
        for _ in range(4):
            send(conversation, school.teacher, "suite")


# Edit, delete -----------------------------------------------------------------


def test_the_author_edits_within_15_minutes_only(school):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        conversation = start(school, school.teacher, [school.parent], body="Rdv 17h")
        (message,) = conversation.messages.all()

        clock.shift(dt.timedelta(minutes=14, seconds=59))
        with capture_events() as events:
            actions.edit_message(
                message=message, editor=school.teacher, body="Rdv 18h", ip=IP
            )
        assert text(message) == "Rdv 18h"
        assert message.edited_at == timezone.now()
        assert [(e.kind, e.op) for e in events] == [("messaging.message", "edited")] * 2
        assert streams_of(events) == user_streams(school.teacher, school.parent)

        clock.shift(dt.timedelta(seconds=2))  # 15 min 01 s after sending
        with pytest.raises(MessagingError) as refused:
            actions.edit_message(message=message, editor=school.teacher, body="Rdv 19h")
    assert refused.value.code == "edit_window"
    assert text(message) == "Rdv 18h"


def test_only_the_author_edits(school):
    conversation = start(school, school.teacher, [school.parent])
    (message,) = conversation.messages.all()

    with pytest.raises(MessagingError):
        actions.edit_message(message=message, editor=school.parent, body="Piraté")

    assert text(message) == "Bonjour"


def test_an_edit_over_10000_characters_is_refused(school):
    conversation = start(school, school.teacher, [school.parent])
    (message,) = conversation.messages.all()

    with pytest.raises(MessagingError) as refused:
        actions.edit_message(message=message, editor=school.teacher, body="x" * 10_001)

    assert refused.value.code == "too_long"
    assert text(message) == "Bonjour"


def test_delete_removes_the_text_and_files_for_everyone_and_the_log_keeps_who(
    school, django_capture_on_commit_callbacks
):
    conversation = start(school, school.teacher, [school.parent])
    message = send(
        conversation, school.teacher, "Secret", uploads=[upload("bulletin.pdf")]
    )
    (attachment,) = message.attachments.all()
    storage, stored = attachment.file.storage, attachment.file.name

    with (
        capture_events() as events,
        django_capture_on_commit_callbacks(execute=True),
    ):
        actions.delete_message(message=message, actor=school.teacher, ip=IP)

    message.refresh_from_db()
    assert bytes(message.body) == b""
    assert message.deleted_at is not None
    assert not message.attachments.exists()
    assert not storage.exists(stored)
    assert [(e.op, e.data["message_id"]) for e in events] == [
        ("deleted", message.pk)
    ] * 2
    entry = AuditEntry.objects.get(action="message.deleted")
    assert (entry.actor_id, entry.target_id, entry.ip) == (
        school.teacher.pk,
        message.pk,
        IP,
    )
    assert abs(entry.at - message.deleted_at) < dt.timedelta(seconds=1)


def test_another_participant_may_not_delete_but_school_life_staff_may(school):
    conversation = start(school, school.teacher, [school.parent])
    (message,) = conversation.messages.all()

    with pytest.raises(MessagingError):
        actions.delete_message(message=message, actor=school.parent)
    with pytest.raises(MessagingError):
        actions.delete_message(message=message, actor=school.outsider)
    actions.delete_message(message=message, actor=school.cpe)

    message.refresh_from_db()
    assert message.deleted_at is not None


# Report, hide, suspend --------------------------------------------------------


def test_a_reported_message_goes_to_the_schools_moderation_queue(school):
    conversation = start(school, school.teacher, [school.parent])
    reply = send(conversation, school.parent, "Message déplacé")

    report = actions.report_message(
        message=reply, reporter=school.teacher, reason="  insultant \n", ip=IP
    )
    again = actions.report_message(
        message=reply, reporter=school.teacher, reason="encore"
    )

    assert again == report
    assert report.reason == "insultant"
    assert list(access.moderation_queue(school.cpe)) == [report]
    assert list(access.moderation_queue(school.teacher)) == []  # not staff
    assert list(access.moderation_queue(school.outsider)) == []
    assert AuditEntry.objects.filter(action="message.reported").count() == 1


def test_moderation_needs_the_role_and_the_permission_in_the_org(school):
    # issue 13, finding 2: is_staff is not a role; the org links scope it.
    from django.contrib.auth.models import Group

    from core.roster.access import SCHOOL_LIFE_GROUP

    conversation = start(school, school.teacher, [school.parent])
    reply = send(conversation, school.parent, "Message déplacé")
    actions.report_message(message=reply, reporter=school.teacher, reason="x")
    school.teacher.is_staff = True
    school.teacher.save()
    school.teacher.groups.add(Group.objects.get(name=SCHOOL_LIFE_GROUP))
    school.cpe.groups.clear()

    assert list(access.moderation_queue(school.teacher)) == []
    assert list(access.moderation_queue(school.cpe)) == []
    with pytest.raises(MessagingError):
        actions.delete_message(message=reply, actor=school.cpe)


def test_one_may_not_report_ones_own_message(school):
    conversation = start(school, school.teacher, [school.parent])
    (message,) = conversation.messages.all()

    with pytest.raises(MessagingError):
        actions.report_message(message=message, reporter=school.teacher, reason="x")

    assert Report.objects.count() == 0


def test_staff_hide_a_reported_message_for_everyone(school):
    conversation = start(school, school.teacher, [school.parent, school.other_parent])
    reply = send(conversation, school.parent, "Hors sujet", uploads=[upload("a.pdf")])
    (attachment,) = reply.attachments.all()
    first = actions.report_message(message=reply, reporter=school.teacher, reason="")
    second = actions.report_message(
        message=reply, reporter=school.other_parent, reason=""
    )

    with capture_events() as events:
        actions.moderate_report(report=first, moderator=school.cpe, hide=True, ip=IP)

    reply.refresh_from_db()
    assert reply.hidden_at is not None
    assert {(e.op, e.data["message_id"]) for e in events} == {("hidden", reply.pk)}
    assert streams_of(events) == user_streams(
        school.teacher, school.parent, school.other_parent
    )
    second.refresh_from_db()
    assert second.status == Report.Status.HIDDEN
    assert list(access.moderation_queue(school.cpe)) == []
    with pytest.raises(Http404):
        access.get_attachment_for_user(school.other_parent, attachment.pk)
    with pytest.raises(MessagingError):
        actions.edit_message(message=reply, editor=school.parent, body="Autre")


def test_dismissing_a_report_keeps_the_message(school):
    conversation = start(school, school.teacher, [school.parent])
    reply = send(conversation, school.parent, "Merci")
    report = actions.report_message(message=reply, reporter=school.teacher, reason="")

    with capture_events() as events:
        actions.moderate_report(report=report, moderator=school.cpe, hide=False)

    reply.refresh_from_db()
    assert reply.hidden_at is None
    assert events == []
    assert AuditEntry.objects.filter(action="report.dismissed").count() == 1


def test_a_suspended_writer_may_not_send(school):
    conversation = start(school, school.teacher, [school.parent])
    actions.suspend_writer(
        user=school.parent,
        org=school.org,
        moderator=school.cpe,
        until=timezone.now() + dt.timedelta(days=7),
        reason="propos injurieux",
        ip=IP,
    )

    with pytest.raises(MessagingError) as refused, capture_events() as events:
        send(conversation, school.parent, "Encore moi")
    with pytest.raises(MessagingError):
        start(school, school.parent, [school.teacher])

    assert refused.value.code == "suspended"
    until = timezone.localtime(timezone.now() + dt.timedelta(days=7))
    assert f"jusqu'au {until:%d/%m/%Y}" in str(refused.value)
    assert events == []
    assert conversation.messages.count() == 1
    assert Conversation.objects.count() == 1
    entry = AuditEntry.objects.get(action="writer.suspended")
    assert (entry.actor_id, entry.target_id) == (school.cpe.pk, school.parent.pk)
    # Others write on, and the suspension ends.
    send(conversation, school.teacher, "Le CPE vous contactera.")
    with time_machine.travel(timezone.now() + dt.timedelta(days=8)):
        send(conversation, school.parent, "De retour")


def test_a_suspension_holds_in_its_school_only(school):
    actions.suspend_writer(
        user=school.parent, org=school.org, moderator=school.cpe, until=None
    )

    conversation = actions.start_conversation(
        sender=school.parent,
        org=school.other_org,
        subject="Inès",
        recipients=[school.outsider],
        body="Bonjour",
        idempotency_key=key(),
    )

    assert conversation.messages.count() == 1


# Read positions ---------------------------------------------------------------


def test_mark_read_moves_forward_only_and_tells_the_participants(school):
    conversation = start(school, school.teacher, [school.parent])
    second = send(conversation, school.teacher, "Deuxième")
    (first,) = conversation.messages.exclude(pk=second.pk)

    with capture_events() as events:
        assert (
            actions.mark_read(
                conversation=conversation, user=school.parent, message_id=second.pk
            )
            == second.pk
        )
        assert (
            actions.mark_read(
                conversation=conversation, user=school.parent, message_id=first.pk
            )
            == second.pk
        )

    assert [(e.kind, e.stream) for e in events] == sorted(
        ("messaging.read", s) for s in user_streams(school.teacher, school.parent)
    )
    assert events[0].data == {
        "conversation_id": conversation.pk,
        "user_id": school.parent.pk,
        "message_id": second.pk,
    }
    assert access.read_positions(conversation)[school.parent.pk] == second.pk
    assert [c.unread for c in access.conversations_for_user(school.parent)] == [0]


def test_mark_read_never_goes_past_the_last_message(school):
    conversation = start(school, school.teacher, [school.parent])
    (message,) = conversation.messages.all()

    position = actions.mark_read(
        conversation=conversation, user=school.parent, message_id=10**12
    )
    later = send(conversation, school.teacher, "Nouveau")

    assert position == message.pk
    assert access.read_positions(conversation)[school.parent.pk] == message.pk
    assert [c.unread for c in access.conversations_for_user(school.parent)] == [1]
    assert later.pk > position


def test_without_read_receipts_only_the_readers_devices_hear_of_it(school):
    MessagingPolicy.objects.create(org=school.org, read_receipts=False)
    conversation = start(school, school.teacher, [school.parent])
    (message,) = conversation.messages.all()

    with capture_events() as events:
        actions.mark_read(
            conversation=conversation, user=school.parent, message_id=message.pk
        )

    assert streams_of(events) == user_streams(school.parent)


# Audit ------------------------------------------------------------------------


def test_every_action_leaves_an_audit_entry_with_actor_and_ip(school):
    conversation = start(school, school.teacher, [school.parent], ip=IP)
    (message,) = conversation.messages.all()
    reply = send(conversation, school.parent, "Réponse", ip=IP)
    actions.edit_message(message=message, editor=school.teacher, body="Bonsoir", ip=IP)
    actions.mark_read(
        conversation=conversation, user=school.teacher, message_id=reply.pk, ip=IP
    )
    report = actions.report_message(
        message=reply, reporter=school.teacher, reason="", ip=IP
    )
    actions.moderate_report(report=report, moderator=school.cpe, hide=True, ip=IP)
    actions.delete_message(message=message, actor=school.teacher, ip=IP)

    entries = {
        (e.action, e.actor_id, e.actor_name, e.target_type, e.target_id)
        for e in AuditEntry.objects.all()
    }
    alice, karim, paul = school.teacher, school.parent, school.cpe
    assert entries == {
        ("conversation.started", alice.pk, "alice", "conversation", conversation.pk),
        ("message.sent", alice.pk, "alice", "message", message.pk),
        ("message.sent", karim.pk, "karim", "message", reply.pk),
        ("message.edited", alice.pk, "alice", "message", message.pk),
        ("message.read", alice.pk, "alice", "conversation", conversation.pk),
        ("message.reported", alice.pk, "alice", "message", reply.pk),
        ("message.hidden", paul.pk, "paul", "message", reply.pk),
        ("message.deleted", alice.pk, "alice", "message", message.pk),
    }
    assert set(AuditEntry.objects.values_list("ip", flat=True)) == {IP}
    assert set(AuditEntry.objects.values_list("org_id", flat=True)) == {school.org.pk}


def test_the_audit_log_holds_no_message_text(school):
    conversation = start(school, school.teacher, [school.parent], body="Très secret")
    (message,) = conversation.messages.all()
    actions.edit_message(message=message, editor=school.teacher, body="Plus secret")

    details = str(list(AuditEntry.objects.values_list("detail", flat=True)))

    assert "secret" not in details.lower()


def test_a_flooding_sender_is_refused_before_any_write(
    school, django_assert_max_num_queries
):
    conversation = start(school, school.teacher, [school.parent])
    for index in range(actions.SEND_BURST - 1):  # start() took one
        send(conversation, school.teacher, f"message {index}")
    with django_assert_max_num_queries(3), pytest.raises(RateLimited):
        send(conversation, school.teacher, "un de trop")
