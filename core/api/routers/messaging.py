"""``/api/v1/messaging``: conversations, their messages, replying, marking read.

Who takes part, which messages one sees (another family's private reply in
a class-wide message stays hidden) and who may write to whom are
``core.messaging.access`` and ``core.messaging.actions``; a conversation and
a message read as the messaging pages draw them (``core.messaging.thread``:
``conversation_row``, ``message_item``). Starting a conversation and files
stay on the site for now.
"""

import datetime as dt

from ninja import Query, Router, Schema, Status
from pydantic import Field

from core.api.auth import READ, WRITE
from core.api.schemas import MAX_ID, ApiError, Error, answers
from core.audit.ip import client_ip
from core.messaging import access, actions
from core.messaging.actions import ERROR_STATUS
from core.messaging.forms import MAX_POSTED_CHARS
from core.messaging.policy import may_send_silently
from core.messaging.thread import (
    PAGE_SIZE,
    conversation_row,
    inbox_queryset,
    load_thread,
    message_item,
)

router = Router(tags=["messaging"])


class ConversationOut(Schema):
    id: int
    subject: str
    names: list[str] = Field(description="The other people one may know of.")
    more: int = Field(description="How many other people are not named.")
    last_message_at: dt.datetime
    unread: int


class ConversationsOut(Schema):
    conversations: list[ConversationOut]


class AttachmentOut(Schema):
    id: int
    name: str
    size: int
    mime: str


class MessageOut(Schema):
    id: int
    conversation_id: int
    sender_id: int
    sender_name: str
    created_at: dt.datetime
    edited_at: dt.datetime | None
    state: str = Field(description="ok, deleted, hidden or unreadable")
    mine: bool
    private: bool
    text: str = Field(description="The text as written (markdown subset).")
    html: str = Field(description="The text drawn as the site does (sanitised).")
    attachments: list[AttachmentOut]


class MessagesOut(Schema):
    conversation_id: int
    messages: list[MessageOut]
    more: bool


class Page(Schema):
    limit: int = Field(50, ge=1, le=100)


class After(Schema):
    after: int = Field(0, ge=0, le=MAX_ID)


class MessageIn(Schema):
    body: str = Field(max_length=MAX_POSTED_CHARS)
    idempotency_key: str = Field(
        min_length=1,
        max_length=64,
        description="Chosen by the client (a UUID): a resend with the same key "
        "and text returns the first message.",
    )
    silent: bool = False
    private_to: int | None = Field(None, ge=1, le=MAX_ID)


class ReadIn(Schema):
    message_id: int = Field(ge=0, le=MAX_ID)


class ReadOut(Schema):
    last_read: int


def _message(message, thread) -> MessageOut:
    item = message_item(message, thread)
    return MessageOut(
        id=message.pk,
        conversation_id=message.conversation_id,
        sender_id=message.sender_id,
        sender_name=item["sender_name"],
        created_at=message.created_at,
        edited_at=message.edited_at,
        state=item["state"],
        mine=item["mine"],
        private=item["private"],
        text=item["text"],
        html=str(item["html"]),
        attachments=item["attachments"],
    )


@router.get("/conversations", response=answers(ConversationsOut), auth=READ)
def conversations(request, page: Query[Page]):
    """The user's conversations, latest activity first, with unread counts."""
    user = request.auth
    rows = [conversation_row(c, user) for c in inbox_queryset(user)[: page.limit]]
    return ConversationsOut(
        conversations=[
            ConversationOut(
                id=row["id"],
                subject=row["subject"],
                names=row["names"],
                more=row["more"],
                last_message_at=row["last"],
                unread=row["unread"],
            )
            for row in rows
        ]
    )


@router.get(
    "/conversations/{conversation_id}/messages",
    response=answers(MessagesOut),
    auth=READ,
)
def messages(request, conversation_id: int, after: Query[After]):
    """The messages the user may see, by id, after ``after`` (100 at most;
    ``more`` says whether there are others). 404 for a conversation the user
    takes no part in."""
    conversation = access.get_conversation_for_user(request.auth, conversation_id)
    thread = load_thread(request.auth, conversation)
    found = list(
        access.messages_of(conversation, request.auth, after=after.after)[
            : PAGE_SIZE + 1
        ]
    )
    return MessagesOut(
        conversation_id=conversation.pk,
        messages=[_message(m, thread) for m in found[:PAGE_SIZE]],
        more=len(found) > PAGE_SIZE,
    )


@router.post(
    "/conversations/{conversation_id}/messages",
    response={**answers(MessageOut, 201), 400: Error, 409: Error, 429: Error},
    auth=WRITE,
)
def send(request, conversation_id: int, payload: MessageIn):
    """Reply in a conversation, as the site's reply box does (the same rules:
    who may write to whom, length, rate limit, suspension). Errors carry the
    messaging codes: 400 ``empty``/``too_long``/``invalid``, 403
    ``forbidden``/``suspended``, 409 ``idempotency_conflict``, 429
    ``rate_limited`` (with ``Retry-After``)."""
    user = request.auth
    conversation = access.get_conversation_for_user(user, conversation_id)
    try:
        message = actions.send_message(
            conversation=conversation,
            sender=user,
            body=payload.body.replace("\r\n", "\n"),
            idempotency_key=payload.idempotency_key,
            ip=client_ip(request),
            silent=payload.silent and may_send_silently(user),
            private_to=payload.private_to,
        )
    except actions.MessagingError as error:
        raise ApiError(
            ERROR_STATUS.get(error.code, 400),
            error.code,
            str(error),
            retry_after=getattr(error, "retry_after", None),
        ) from None
    return Status(201, _message(message, load_thread(user, conversation)))


@router.post(
    "/conversations/{conversation_id}/read", response=answers(ReadOut), auth=WRITE
)
def mark_read(request, conversation_id: int, payload: ReadIn):
    """Mark the conversation read up to ``message_id``: the position moves to
    the newest message the user may see at or before it, never backwards."""
    user = request.auth
    conversation = access.get_conversation_for_user(user, conversation_id)
    last_read = actions.mark_read(
        conversation=conversation,
        user=user,
        message_id=payload.message_id,
        ip=client_ip(request),
    )
    return ReadOut(last_read=last_read)
