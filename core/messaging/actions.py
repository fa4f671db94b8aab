"""Messaging writes. Each action checks the rules, writes, audits and emits.

Events go to the ``user:<id>`` streams of the people who can see the message
(the sender included, for their other devices) and carry no text.
"""

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

import hub
from core import crypto
from core.audit import log as audit
from core.messaging import access, files, policy
from core.messaging.access import moderates
from core.messaging.events import MessageChanged, MessagesRead
from core.messaging.models import (
    Attachment,
    Conversation,
    Message,
    Participant,
    Report,
    SendQuota,
    WriteSuspension,
)
from core.roster.models import Org, User
from hub import ratelimit
from hub.streams import user_stream

MAX_BODY_CHARS = 10_000
MAX_SUBJECT_CHARS = 200
EDIT_WINDOW = dt.timedelta(minutes=15)
# Token bucket per user: a burst of 5, then 20 messages a minute.
SEND_BURST = 5
SEND_RATE_PER_SECOND = 20 / 60


class MessagingError(ValueError):
    """A request the rules refuse; ``str(error)`` is a message for the user.

    ``code`` is stable for clients: ``forbidden``, ``too_long``, ``empty``,
    ``suspended``, ``rate_limited``, ``idempotency_conflict``,
    ``edit_window``, ``files``, ``reported``.
    """

    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(message)
        self.code = code


# The HTTP status of each refusal, for the pages' scripts and the API.
ERROR_STATUS = {
    "too_long": 400,
    "empty": 400,
    "files": 400,
    "invalid": 400,
    "forbidden": 403,
    "suspended": 403,
    "edit_window": 403,
    "reported": 403,
    "idempotency_conflict": 409,
    "rate_limited": 429,
}


class RateLimited(MessagingError):
    """Too many sends; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, round(retry_after + 0.49))
        super().__init__(
            f"Trop de messages envoyés : réessayez dans {seconds} s.", "rate_limited"
        )
        self.retry_after = seconds


def start_conversation(
    *,
    sender: User,
    org: Org,
    subject: str,
    recipients: Iterable[User],
    body: str,
    idempotency_key: str,
    reply_policy: str = Conversation.ReplyPolicy.ALL,
    uploads=(),
    ip: str | None = None,
    now: dt.datetime | None = None,
    silent: bool = False,
) -> Conversation:
    """Open a conversation with ``recipients`` and send its first message.

    Every recipient must pass :func:`core.messaging.policy.may_write` in
    ``org``. Resending with the same ``idempotency_key`` and content returns
    the conversation already made. ``silent`` is :func:`send_message`'s, for
    the first message. Raises :class:`MessagingError`.
    """
    subject = " ".join(subject.split())[:MAX_SUBJECT_CHARS]
    if not subject:
        raise MessagingError("Donnez un objet à la conversation.", "empty")
    recipients = list({user.pk: user for user in recipients}.values())
    if not recipients:
        raise MessagingError("Choisissez au moins un destinataire.", "empty")
    if reply_policy not in Conversation.ReplyPolicy.values:
        raise MessagingError("Mode de réponse inconnu.", "invalid")
    refused = [u for u in recipients if not policy.may_write(sender, u, org.pk)]
    if refused:
        raise MessagingError(
            f"Vous ne pouvez pas écrire à {refused[0].get_full_name() or refused[0]}."
        )
    existing = Message.objects.filter(
        sender=sender, idempotency_key=idempotency_key
    ).first()
    if existing is not None:
        _check_replay(existing, body, uploads)
        return existing.conversation
    with transaction.atomic():
        conversation = Conversation.objects.create(
            org=org, subject=subject, created_by=sender, reply_policy=reply_policy
        )
        Participant.objects.bulk_create(
            [
                Participant(conversation=conversation, user=u)
                for u in [sender, *recipients]
            ]
        )
        audit.record(
            actor=sender,
            action="conversation.started",
            target_type="conversation",
            target_id=conversation.pk,
            org_id=org.pk,
            ip=ip,
            detail={"participants": [u.pk for u in recipients], "reply": reply_policy},
        )
        send_message(
            conversation=conversation,
            sender=sender,
            body=body,
            idempotency_key=idempotency_key,
            uploads=uploads,
            ip=ip,
            now=now,
            silent=silent,
        )
    return conversation


def send_message(
    *,
    conversation: Conversation,
    sender: User,
    body: str,
    idempotency_key: str,
    uploads=(),
    ip: str | None = None,
    now: dt.datetime | None = None,
    silent: bool = False,
    private_to: User | int | None = None,
) -> Message:
    """Send ``body`` (markdown subset, 10,000 characters) with up to 5 files.

    ``private_to``: in a class-wide conversation (replies go to the creator
    only), the creator answers one recipient in their private thread: the
    message is seen by that recipient and the creator only.

    ``silent``: delivered in the app at once, but pushed to phones only when
    the recipients' night is over (a teacher writing at 22:00).

    The audience is every participant, or only the conversation's creator
    when its reply policy is "sender" and the sender is someone else; the
    sender must be allowed to write to each of them (the creator, who opened
    the conversation, may always be answered; in a "reply to everyone"
    conversation the creator vouches for the others, see
    :func:`core.messaging.policy.may_write_in`).
    A resend with the same ``idempotency_key`` and content returns the first
    message and emits nothing; the same key with other content raises
    ``idempotency_conflict``.
    Raises :class:`MessagingError`, :class:`RateLimited`.
    """
    if not idempotency_key or len(idempotency_key) > 64:
        raise MessagingError("Clé d'envoi manquante ou trop longue.", "invalid")
    body = body.strip()
    if len(body) > MAX_BODY_CHARS:
        raise MessagingError(
            f"Message trop long : {len(body)} caractères, {MAX_BODY_CHARS} au plus.",
            "too_long",
        )
    uploads = list(uploads)
    existing = Message.objects.filter(
        sender=sender, idempotency_key=idempotency_key
    ).first()
    if existing is not None:
        _check_replay(existing, body, uploads)
        return existing
    now = now or timezone.now()
    # Refuse a flood before any write lock is taken: on SQLite every writer
    # waits for the one before, so refusals must not queue with real sends.
    peek_send_token(sender, now)
    try:
        checked = files.check_files(uploads)
    except files.FileRefused as error:
        raise MessagingError(str(error), "files") from None
    if not body and not checked:
        raise MessagingError("Le message est vide.", "empty")
    participants = list(conversation.participants.select_related("user"))
    if sender.pk not in {p.user_id for p in participants}:
        raise MessagingError("Vous ne participez pas à cette conversation.")
    _refuse_if_suspended(sender, conversation.org_id)
    creator = conversation.created_by_id
    if not policy.may_reply(conversation, sender.pk):
        raise MessagingError(
            "Les réponses ne sont pas ouvertes dans cette conversation."
        )
    partner = None
    if private_to is not None:
        partner = _private_thread_partner(conversation, sender, private_to)
    reached = access.audience(
        conversation, sender.pk, [p.user_id for p in participants], partner
    )
    audience = [p.user for p in participants if p.user_id in reached]
    for user in audience:
        if user.pk != creator and not policy.may_write_in(conversation, sender, user):
            raise MessagingError(
                f"Vous ne pouvez pas écrire à {user.get_full_name() or user}."
            )
    # A private thread's one reader: the recipient the creator answers, or
    # the creator for a recipient's reply where replies go to the sender.
    visible_to = None
    if not access.knows_everyone(conversation, sender.pk):
        visible_to = creator
    elif partner is not None:
        visible_to = partner
    try:
        with transaction.atomic():
            take_send_token(sender, now)
            message = Message.objects.create(
                conversation=conversation,
                sender=sender,
                visible_to_id=visible_to,
                body=crypto.encrypt(body),
                digest=_digest(body, [f.name for f in checked]),
                idempotency_key=idempotency_key,
            )
            for item in checked:
                attachment = Attachment(
                    message=message,
                    name=crypto.encrypt(item.name),
                    mime=item.mime,
                    size=len(item.data),
                )
                attachment.file.save(
                    "blob", files.encrypted_content(item.data), save=False
                )
                attachment.save()
            Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now)
            Participant.objects.filter(conversation=conversation, user=sender).update(
                last_read_message_id=message.pk
            )
            _audit_message(
                sender,
                "message.sent",
                message,
                ip,
                detail={"conversation": conversation.pk, "files": len(checked)},
            )
            _emit(message, "new", [sender.pk, *(u.pk for u in audience)], silent=silent)
    except IntegrityError:
        # Two resends raced on the same key: the first one won.
        existing = Message.objects.get(sender=sender, idempotency_key=idempotency_key)
        _check_replay(existing, body, uploads)
        return existing
    return message


def edit_message(
    *, message: Message, editor: User, body: str, ip: str | None = None
) -> Message:
    """Replace the text of one's own message within 15 minutes of sending it.

    Refused to a suspended writer (``suspended``) and while a report on the
    message is open (``reported``: the moderators judge what was written).
    An edit spends a token of the sender's bucket, as a send does.
    Raises :class:`MessagingError`, :class:`RateLimited`.
    """
    body = body.strip()
    if message.sender_id != editor.pk:
        raise MessagingError("Seul l'auteur peut modifier un message.")
    if message.deleted_at or message.hidden_at:
        raise MessagingError("Ce message n'est plus visible.")
    now = timezone.now()
    if now - message.created_at > EDIT_WINDOW:
        raise MessagingError(
            "Un message se modifie dans les 15 minutes.", "edit_window"
        )
    if len(body) > MAX_BODY_CHARS:
        raise MessagingError("Message trop long.", "too_long")
    if not body and not message.attachments.exists():
        raise MessagingError("Le message est vide.", "empty")
    _refuse_if_suspended(editor, message.conversation.org_id)
    peek_send_token(editor, now)
    with transaction.atomic():
        _lock_unreported(message)
        take_send_token(editor, now)
        message.body = crypto.encrypt(body)
        message.edited_at = timezone.now()
        message.save(update_fields=["body", "edited_at"])
        _audit_message(editor, "message.edited", message, ip)
        _emit(message, "edited", _audience_ids(message))
    return message


def delete_message(*, message: Message, actor: User, ip: str | None = None) -> Message:
    """Delete a message for everyone: its text and files go; the log keeps who/when.

    The sender may delete their message; school-life staff of the org too.
    """
    staff = moderates(actor, message.conversation.org_id)
    if message.sender_id != actor.pk and not staff:
        raise MessagingError("Vous ne pouvez pas supprimer ce message.")
    if message.deleted_at:
        return message
    with transaction.atomic():
        _lock_unreported(message)
        # Their files go when this commits (core.files' delete hook).
        message.attachments.all().delete()
        message.body = b""
        message.deleted_at = timezone.now()
        message.save(update_fields=["body", "deleted_at"])
        _audit_message(actor, "message.deleted", message, ip)
        _emit(message, "deleted", _audience_ids(message))
    return message


def mark_read(
    *, conversation: Conversation, user: User, message_id: int, ip: str | None = None
) -> int:
    """Move ``user``'s read position forward to ``message_id``; return it.

    The position moves to the newest message ``user`` may see at or before
    ``message_id`` (a forged id far ahead must not mark messages not yet
    sent as read, nor name another family's private reply), and never
    backwards. When the school
    keeps read receipts on, the other participants hear of it
    (``messaging.read``); the user's own devices always do, to clear their
    unread counts.
    """
    message_id = (
        conversation.messages.filter(access.visible_messages(user), id__lte=message_id)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
        or 0
    )
    with transaction.atomic():
        updated = Participant.objects.filter(
            conversation=conversation,
            user=user,
            last_read_message_id__lt=message_id,
        ).update(last_read_message_id=message_id)
        if not updated:
            return (
                Participant.objects.filter(conversation=conversation, user=user)
                .values_list("last_read_message_id", flat=True)
                .first()
                or 0
            )
        audit.record(
            actor=user,
            action="message.read",
            target_type="conversation",
            target_id=conversation.pk,
            org_id=conversation.org_id,
            ip=ip,
            detail={"up_to": message_id},
        )
        for receivers, position in _read_receivers(conversation, user, message_id):
            hub.send_event(
                [user_stream(pk) for pk in receivers],
                MessagesRead(
                    op="read",
                    conversation_id=conversation.pk,
                    user_id=user.pk,
                    message_id=position,
                ),
            )
    return message_id


def _read_receivers(
    conversation: Conversation, reader: User, message_id: int
) -> list[tuple[list[int], int]]:
    """Return who hears that ``reader`` read up to ``message_id``, and what.

    As ``[(user ids, read position they are told)]``. The reader's devices
    always hear it. With read receipts on: every participant where replies
    go to all. In a class-wide conversation (replies to the creator only),
    a family's reading reaches the creator alone, and the creator's reading
    reaches each family clamped to the last message that family can see: a
    family learns that its own messages were read, never that other
    families wrote.
    """
    if not policy.policy_for(conversation.org_id).read_receipts:
        return [([reader.pk], message_id)]
    participants = list(conversation.participants.values_list("user_id", flat=True))
    if conversation.reply_policy == Conversation.ReplyPolicy.ALL:
        return [(participants, message_id)]
    creator = conversation.created_by_id
    if reader.pk != creator:
        return [([reader.pk, creator], message_id)]
    read = conversation.messages.filter(id__lte=message_id)
    broadcast = (
        read.filter(visible_to__isnull=True).aggregate(last=Max("id"))["last"] or 0
    )
    private = read.filter(visible_to__isnull=False)
    last_of: dict[int, int] = {}
    for rows in (
        private.values_list("visible_to").annotate(last=Max("id")),
        private.values_list("sender").annotate(last=Max("id")),
    ):
        for user_id, last in rows:
            last_of[user_id] = max(last_of.get(user_id, 0), last)
    told: dict[int, list[int]] = {message_id: [reader.pk]}
    for user_id in participants:
        if user_id != reader.pk:
            position = max(broadcast, last_of.get(user_id, 0))
            told.setdefault(position, []).append(user_id)
    return [(users, position) for position, users in told.items() if position]


def report_message(
    *, message: Message, reporter: User, reason: str, ip: str | None = None
) -> Report:
    """Send a message to the school's moderation queue (once per reporter).

    The report keeps the message's text as it is now (``evidence``,
    encrypted): while it is open the message can be neither edited nor
    deleted, and afterwards the moderators still read what was reported.
    """
    if message.sender_id == reporter.pk:
        raise MessagingError("Vous ne pouvez pas signaler votre propre message.")
    reason = " ".join(reason.split())[:500] or "—"
    with transaction.atomic():
        # Locked: an edit racing with the report waits, then sees it open.
        message = Message.objects.select_for_update().get(pk=message.pk)
        evidence = crypto.decrypt(message.body).decode("utf-8") if message.body else ""
        report, created = Report.objects.get_or_create(
            message=message,
            reporter=reporter,
            defaults={"reason": reason, "evidence": evidence},
        )
        if created:
            _audit_message(
                reporter, "message.reported", message, ip, detail={"report": report.pk}
            )
    return report


def moderate_report(
    *, report: Report, moderator: User, hide: bool, ip: str | None = None
) -> Report:
    """Hide the reported message for everyone (``hide``) or dismiss the report.

    The caller checked that ``moderator`` is staff of the conversation's org.
    """
    with transaction.atomic():
        report.status = Report.Status.HIDDEN if hide else Report.Status.DISMISSED
        report.handled_by = moderator
        report.handled_at = timezone.now()
        report.save()
        message = report.message
        if hide and not message.hidden_at:
            message.hidden_at = timezone.now()
            message.save(update_fields=["hidden_at"])
            Report.objects.filter(message=message, status=Report.Status.OPEN).update(
                status=Report.Status.HIDDEN,
                handled_by=moderator,
                handled_at=timezone.now(),
            )
            _emit(message, "hidden", _audience_ids(message))
        audit.record(
            actor=moderator,
            action="message.hidden" if hide else "report.dismissed",
            target_type="message",
            target_id=message.pk,
            org_id=message.conversation.org_id,
            ip=ip,
            detail={"report": report.pk},
        )
    return report


def suspend_writer(
    *,
    user: User,
    org: Org,
    moderator: User,
    until: dt.datetime | None,
    reason: str = "",
    ip: str | None = None,
) -> WriteSuspension:
    """Suspend ``user``'s right to send messages in ``org`` (until ``until``)."""
    with transaction.atomic():
        suspension = WriteSuspension.objects.create(
            user=user, org=org, until=until, reason=reason[:300], created_by=moderator
        )
        audit.record(
            actor=moderator,
            action="writer.suspended",
            target_type="user",
            target_id=user.pk,
            org_id=org.pk,
            ip=ip,
            detail={"until": until.isoformat() if until else None},
        )
    return suspension


def peek_send_token(user: User, now: dt.datetime) -> None:
    """Raise :class:`RateLimited` if ``user``'s bucket is empty, reading only.

    A cheap early refusal; :func:`take_send_token` still decides under lock.
    """
    quota = SendQuota.objects.filter(user=user).values("tokens", "updated_at").first()
    if quota is None:
        return
    _, wait = ratelimit.take(
        quota["tokens"],
        (now - quota["updated_at"]).total_seconds(),
        SEND_BURST,
        SEND_RATE_PER_SECOND,
    )
    if wait:
        raise RateLimited(wait)


def take_send_token(user: User, now: dt.datetime) -> None:
    """Take one send from ``user``'s bucket (burst 5, then 20 a minute).

    Must run in a transaction (the row is locked). Raises
    :class:`RateLimited` with the seconds until the next token.
    """
    quota, _ = SendQuota.objects.get_or_create(
        user=user, defaults={"tokens": SEND_BURST, "updated_at": now}
    )
    quota = SendQuota.objects.select_for_update().get(pk=quota.pk)
    tokens, wait = ratelimit.take(
        quota.tokens,
        (now - quota.updated_at).total_seconds(),
        SEND_BURST,
        SEND_RATE_PER_SECOND,
    )
    if wait:
        raise RateLimited(wait)
    quota.tokens = tokens
    quota.updated_at = now
    quota.save(update_fields=["tokens", "updated_at"])


def _refuse_if_suspended(user: User, org_id: int) -> None:
    """Raise ``suspended`` if ``user`` may not write in ``org_id`` now."""
    suspension = policy.active_suspension(user, org_id)
    if suspension is not None:
        until = (
            f" jusqu'au {timezone.localtime(suspension.until):%d/%m/%Y à %H:%M}"
            if suspension.until
            else ""
        )
        raise MessagingError(f"Votre droit d'écrire est suspendu{until}.", "suspended")


def _private_thread_partner(
    conversation: Conversation, sender: User, private_to: User | int
) -> int:
    """Return the id of the recipient whose private thread ``sender`` writes in.

    Only the creator of a class-wide conversation (replies to the creator
    only, or none) answers privately, and only a participant.
    """
    if conversation.reply_policy == Conversation.ReplyPolicy.ALL:
        raise MessagingError(
            "Ici, les réponses vont à tous : pas de réponse privée.", "invalid"
        )
    if sender.pk != conversation.created_by_id:
        raise MessagingError("Seul l'auteur de la conversation répond en privé.")
    partner = private_to.pk if isinstance(private_to, User) else private_to
    if partner == sender.pk or not (
        conversation.participants.filter(user_id=partner).exists()
    ):
        raise MessagingError("Ce destinataire ne participe pas à la conversation.")
    return partner


def _lock_unreported(message: Message) -> None:
    """Lock ``message``'s row; raise ``reported`` while a report on it is open.

    Must run in a transaction: :func:`report_message` takes the same lock,
    so a report and an edit or deletion never interleave.
    """
    Message.objects.select_for_update().filter(pk=message.pk).first()
    if message.reports.filter(status=Report.Status.OPEN).exists():
        raise MessagingError(
            "Ce message est signalé : il ne peut être ni modifié ni supprimé "
            "tant que l'établissement ne l'a pas examiné.",
            "reported",
        )


def _audit_message(actor, action: str, message: Message, ip, detail=None) -> None:
    audit.record(
        actor=actor,
        action=action,
        target_type="message",
        target_id=message.pk,
        org_id=message.conversation.org_id,
        ip=ip,
        detail=detail,
    )


def _digest(body: str, names: list[str]) -> str:
    return crypto.digest(body, *names)


def _check_replay(existing: Message, body: str, uploads) -> None:
    names = [files.clean_name(u.name) for u in uploads]
    if existing.digest != _digest(body.strip(), names):
        raise MessagingError(
            "Cette clé d'envoi a déjà servi pour un autre message.",
            "idempotency_conflict",
        )


def _audience_ids(message: Message) -> list[int]:
    """Who hears of a change to ``message``: its sender and its audience."""
    conversation = message.conversation
    ids = list(conversation.participants.values_list("user_id", flat=True))
    readers = access.audience(
        conversation, message.sender_id, ids, message.visible_to_id
    )
    return [message.sender_id, *readers]


def _emit(
    message: Message,
    op: Literal["new", "edited", "deleted", "hidden"],
    user_ids: list[int],
    silent: bool = False,
) -> None:
    conversation = message.conversation
    hub.send_event(
        [user_stream(pk) for pk in user_ids],
        MessageChanged(
            op=op,
            conversation_id=conversation.pk,
            message_id=message.pk,
            sender_id=message.sender_id,
            sender_name=message.sender.get_full_name() or message.sender.get_username(),
            silent=silent,
            org_id=conversation.org_id,
        ),
    )


def leave_conversations_of_departed(user_ids: Iterable[int]) -> int:
    """Take ``user_ids`` out of the conversations of schools they left.

    Access follows the roster: a parent whose child left a school, a teacher
    who left it, no longer reads its conversations (nor hears of new
    messages, which go to participants). A person belongs to a school while
    :func:`core.roster.access.orgs_of` names it. Returns how many
    participations ended; each is in the audit log.
    """
    from core.roster.access import orgs_of

    ended = 0
    for user in User.objects.filter(pk__in=set(user_ids)):
        gone = Participant.objects.filter(user=user).exclude(
            conversation__org__in=orgs_of(user)
        )
        rows = list(gone.values_list("pk", "conversation_id", "conversation__org_id"))
        if not rows:
            continue
        Participant.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
        for _, conversation_id, org_id in rows:
            audit.record(
                actor=None,
                action="conversation.left",
                target_type="conversation",
                target_id=conversation_id,
                org_id=org_id,
                detail={"user": user.pk, "reason": "membership_ended"},
            )
        ended += len(rows)
    return ended
