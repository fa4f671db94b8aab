"""Reads of conversations and messages, with the permission check inside.

"Not found" and "not a participant" raise the same ``Http404``.
"""

import unicodedata
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Concat
from django.http import Http404

from core.messaging.models import Attachment, Conversation, Message, Participant, Report
from core.roster.access import is_staff_for, staff_orgs
from core.roster.models import User

# Subjects compared per search (decrypted in Python): the most recent ones.
SEARCH_SUBJECTS = 2000


def visible_messages(user: User, path: str = "") -> Q:
    """Return the filter of messages ``user`` may see in their conversations.

    A message is seen by everyone in the conversation, or, in a private
    thread, by its sender and its one reader (``visible_to``). ``path`` is
    the lookup from the queried model to the message (``"messages__"`` from
    a conversation), so every query says this one rule.
    """
    return (
        Q(**{f"{path}visible_to__isnull": True})
        | Q(**{f"{path}visible_to": user})
        | Q(**{f"{path}sender": user})
    )


def knows_everyone(conversation: Conversation, user_id: int) -> bool:
    """Whether ``user_id`` may know (and write to) every participant.

    Where replies go to all, everyone does; where they go to the creator
    only, or nowhere (a class-wide message), only the creator does: each
    family sees the creator and itself, never which other families got it.
    :func:`knows_everyone_filter` is the same rule for queries.
    """
    return (
        conversation.reply_policy == Conversation.ReplyPolicy.ALL
        or conversation.created_by_id == user_id
    )


def knows_everyone_filter(user: User) -> Q:
    """The filter of conversations in which ``user`` knows every participant."""
    return Q(reply_policy=Conversation.ReplyPolicy.ALL) | Q(created_by=user)


def audience(
    conversation: Conversation,
    writer_id: int,
    participant_ids: Iterable[int],
    private_to: int | None = None,
) -> list[int]:
    """Return the participants, ``writer_id`` aside, who see what they write.

    The one definition of a conversation's audience, for sends, their
    events, read receipts and typing: everyone where the writer knows
    everyone (:func:`knows_everyone`), except that the creator of a
    class-wide conversation writing in one recipient's private thread
    (``private_to``, a message's ``visible_to``) reaches that recipient
    alone; the creator alone for a recipient where replies go to the sender;
    no one where replies are closed. Only participants are named: a creator
    who left the school hears nothing more.
    """
    others = [uid for uid in participant_ids if uid != writer_id]
    creator = conversation.created_by_id
    if not knows_everyone(conversation, writer_id):
        replies_to_creator = (
            conversation.reply_policy == Conversation.ReplyPolicy.SENDER
        )
        return [creator] if replies_to_creator and creator in others else []
    if private_to is None or conversation.reply_policy == Conversation.ReplyPolicy.ALL:
        return others
    return [private_to] if private_to in others else []


def conversations_for_user(user: User) -> QuerySet[Conversation]:
    """Return ``user``'s conversations, latest activity first, with
    ``unread`` (messages from others after the user's read position) and
    ``last_visible_at`` (the last message ``user`` may see: another family's
    private reply in a class-wide message does not move it)."""
    mine = Participant.objects.filter(user=user)
    visible = visible_messages(user, "messages__")
    return (
        Conversation.objects.filter(participants__user=user)
        .annotate(
            last_visible_at=Coalesce(
                Max("messages__created_at", filter=visible), "created_at"
            )
        )
        .annotate(
            unread=Count(
                "messages",
                filter=Q(
                    messages__id__gt=mine.filter(conversation=OuterRef("pk")).values(
                        "last_read_message_id"
                    )[:1],
                    messages__deleted_at__isnull=True,
                )
                & ~Q(messages__sender=user)
                & visible,
            )
        )
        .order_by("-last_visible_at", "-pk")
    )


def fold(text: str) -> str:
    """Return ``text`` without case or accents, to compare what people type."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def subjects_matching(user: User, query: str, only: int | None = None) -> list[int]:
    """Return the ids of ``user``'s conversations whose subject holds ``query``.

    Subjects are encrypted at rest, so the database cannot compare them:
    the user's own conversations are decrypted and compared here, case and
    accents aside, the :data:`SEARCH_SUBJECTS` most recent at most (or the
    conversation ``only``).
    """
    wanted = fold(query)
    mine = Conversation.objects.filter(participants__user=user)
    if only is not None:
        mine = mine.filter(pk=only)
    rows = mine.order_by(F("last_message_at").desc(nulls_last=True), "-pk").values_list(
        "pk", "subject"
    )[:SEARCH_SUBJECTS]
    return [pk for pk, subject in rows if wanted in fold(subject)]


def search_conversations(
    user: User, query: str, only: int | None = None
) -> QuerySet[Conversation, Any]:
    """Return ``user``'s conversations whose subject or a participant's name
    holds ``query`` (case-insensitive), as a filter of ids.

    Only names the user can see count: every participant where replies go
    to all (or for the creator), else the creator alone, so a search cannot
    tell which other families received a class-wide message. Subjects are
    matched by :func:`subjects_matching` (they are encrypted). ``only``
    restricts the search to one conversation (an inbox row's check).
    """
    names = User.objects.annotate(
        full=Concat("first_name", Value(" "), "last_name"),
        full_reverse=Concat("last_name", Value(" "), "first_name"),
    ).filter(
        Q(full__icontains=query)
        | Q(full_reverse__icontains=query)
        | Q(username__iexact=query)
    )
    return (
        Conversation.objects.filter(participants__user=user)
        .filter(
            Q(pk__in=subjects_matching(user, query, only))
            | Q(created_by__in=names)
            | (Q(participants__user__in=names) & knows_everyone_filter(user))
        )
        .values("pk")
    )


def unread_totals(user: User) -> tuple[int, int]:
    """Return ``(conversations, messages)`` unread by ``user``."""
    counts = list(conversations_for_user(user).values_list("unread", flat=True))  # type: ignore[misc]  # annotated there
    return sum(1 for n in counts if n), sum(counts)


def get_conversation_for_user(user: User, conversation_id: int) -> Conversation:
    """Return the conversation if ``user`` takes part in it, else raise Http404."""
    conversation = (
        Conversation.objects.filter(pk=conversation_id, participants__user=user)
        .select_related("org", "created_by")
        .first()
    )
    if conversation is None:
        raise Http404("no such conversation")
    return conversation


def messages_of(conversation: Conversation, user: User, *, after: int = 0):
    """Return the messages of ``conversation`` that ``user`` may see, by id."""
    return (
        conversation.messages.filter(visible_messages(user), id__gt=after)
        .select_related("sender")
        .prefetch_related("attachments")
        .order_by("id")
    )


def get_message_for_user(user: User, message_id: int) -> Message:
    """Return a message ``user`` may see (participant, visible), else Http404."""
    message = (
        Message.objects.filter(
            visible_messages(user),
            pk=message_id,
            conversation__participants__user=user,
        )
        .select_related("conversation__org", "sender")
        .first()
    )
    if message is None:
        raise Http404("no such message")
    return message


def get_attachment_for_user(user: User, attachment_id: int) -> Attachment:
    """Return an attachment of a visible, not deleted or hidden message."""
    attachment = (
        Attachment.objects.filter(
            pk=attachment_id,
            message__conversation__participants__user=user,
            message__deleted_at__isnull=True,
            message__hidden_at__isnull=True,
        )
        .filter(visible_messages(user, "message__"))
        .first()
    )
    if attachment is None:
        raise Http404("no such file")
    return attachment


# Moderating (reading reports, hiding or deleting others' messages).
MODERATE_PERMISSION = "messaging.change_report"


def moderates(user: User, org_id: int) -> bool:
    """Return whether ``user`` moderates the conversations of the org ``org_id``:
    school-life staff of that org holding :data:`MODERATE_PERMISSION`
    (:func:`core.roster.access.staff_orgs`)."""
    return user.role == User.Role.ADMINISTRATOR and is_staff_for(
        user, MODERATE_PERMISSION, org_id
    )


def moderation_queue(user: User) -> QuerySet[Report]:
    """Return the open reports of the orgs ``user`` moderates."""
    if user.role != User.Role.ADMINISTRATOR:
        return Report.objects.none()
    return (
        Report.objects.filter(
            status=Report.Status.OPEN,
            message__conversation__org__in=staff_orgs(user, MODERATE_PERMISSION),
        )
        .select_related("message__sender", "message__conversation", "reporter")
        .order_by("created_at")
    )


def get_report_for_moderator(user: User, report_id: int) -> Report:
    """Return an open report ``user`` may moderate, else raise Http404."""
    report = moderation_queue(user).filter(pk=report_id).first()
    if report is None:
        raise Http404("no such report")
    return report


def read_positions(conversation: Conversation) -> dict[int, int]:
    """Return ``{user_id: last_read_message_id}`` of every participant."""
    return dict(
        conversation.participants.values_list("user_id", "last_read_message_id")
    )


__all__ = [
    "audience",
    "conversations_for_user",
    "get_attachment_for_user",
    "get_conversation_for_user",
    "get_message_for_user",
    "get_report_for_moderator",
    "knows_everyone",
    "knows_everyone_filter",
    "messages_of",
    "moderates",
    "moderation_queue",
    "read_positions",
    "search_conversations",
    "subjects_matching",
    "unread_totals",
    "visible_messages",
]
