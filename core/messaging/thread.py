"""A conversation as one reader sees it: what the pages and the API draw.

The messaging pages (``core.messaging.views``) and the API
(``core.api.routers.messaging``) read conversations and messages the same
way; this module holds that reading, so neither imports the other's code.
Who sees what is ``core.messaging.access``; this only shapes it.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from core import crypto, files
from core.messaging import access, actions, policy
from core.messaging.models import Conversation, Message, Participant, Report
from core.messaging.render import render_message
from core.roster.models import User

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # messages per API answer; the client asks again with ?after=
NAMES_SHOWN = 3


def display_name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def decrypt_text(token) -> str | None:
    """Return the text of an encrypted body or name; None if no key fits."""
    try:
        return crypto.decrypt(token).decode("utf-8")
    except crypto.InvalidToken:
        log.error("a message could not be decrypted: is a key missing?")
        return None


@dataclass
class Thread:
    """What rendering a conversation for ``user`` needs, read once."""

    conversation: Conversation
    user: User
    participants: list[Participant]
    receipts: bool
    staff: bool
    reported: set[int] = field(default_factory=set)
    under_report: set[int] = field(default_factory=set)
    now: dt.datetime = field(default_factory=timezone.now)

    @property
    def is_creator(self) -> bool:
        return self.conversation.created_by_id == self.user.pk

    @property
    def positions(self) -> dict[int, int]:
        return {p.user_id: p.last_read_message_id for p in self.participants}

    def audience_of(self, private_to: int | None = None) -> list[int]:
        """Who sees what ``user`` writes here (:func:`access.audience`)."""
        ids = [p.user_id for p in self.participants]
        return access.audience(self.conversation, self.user.pk, ids, private_to)

    @property
    def class_wide(self) -> bool:
        """Replies go to the creator only (or nowhere): each recipient has a
        private thread with the creator."""
        return self.conversation.reply_policy != Conversation.ReplyPolicy.ALL

    def name_of(self, user_id: int) -> str:
        for participant in self.participants:
            if participant.user_id == user_id:
                return display_name(participant.user)
        return ""

    def thread_partner(self, message: Message) -> int | None:
        """The recipient whose private thread ``message`` belongs to, if any."""
        if message.visible_to_id is None:
            return None
        if message.sender_id == self.conversation.created_by_id:
            return message.visible_to_id
        return message.sender_id

    def receipt_names(self) -> dict[str, str]:
        """Names of the people ``user``'s messages go to (who read them)."""
        if not self.receipts:
            return {}
        return {str(uid): self.name_of(uid) for uid in self.audience_of()}

    def receipt_positions(self) -> dict[str, int]:
        """Read positions of the people ``user``'s messages go to (no one else's)."""
        if not self.receipts:
            return {}
        positions = self.positions
        return {str(uid): positions.get(uid, 0) for uid in self.audience_of()}


def load_thread(user: User, conversation: Conversation) -> Thread:
    participants = list(
        conversation.participants.select_related("user").order_by("joined_at", "pk")
    )
    staff = access.moderates(user, conversation.org_id)
    reported = set(
        Report.objects.filter(
            reporter=user, message__conversation=conversation
        ).values_list("message_id", flat=True)
    )
    under_report = set(
        Report.objects.filter(
            message__conversation=conversation, status=Report.Status.OPEN
        ).values_list("message_id", flat=True)
    )
    return Thread(
        conversation=conversation,
        user=user,
        participants=participants,
        receipts=policy.policy_for(conversation.org_id).read_receipts,
        staff=staff,
        reported=reported,
        under_report=under_report,
    )


def visible_people(thread: Thread) -> tuple[list[User], int]:
    """Return the participants ``user`` may know of, and how many others there are.

    Where replies go to the sender only (or nowhere), a recipient sees the
    creator and themself: not the other families of a class-wide message.
    """
    users = [p.user for p in thread.participants]
    if access.knows_everyone(thread.conversation, thread.user.pk):
        return users, 0
    shown = [
        u for u in users if u.pk in (thread.conversation.created_by_id, thread.user.pk)
    ]
    return shown, len(users) - len(shown)


def message_item(message: Message, thread: Thread) -> dict:
    """Return what ``_message.html`` draws for ``message``."""
    user = thread.user
    mine = message.sender_id == user.pk
    if message.deleted_at:
        state = "deleted"
    elif message.hidden_at:
        state = "hidden"
    else:
        state = "ok"
    text = decrypt_text(message.body) if state == "ok" else ""
    if text is None:
        state, text = "unreadable", ""
    item: dict[str, Any] = {
        "message": message,
        "id": message.pk,
        "sender_name": display_name(message.sender),
        "mine": mine,
        "state": state,
        "edited": bool(message.edited_at) and state == "ok",
        "private": message.visible_to_id is not None,
        "thread": thread.thread_partner(message),
        "thread_name": "",
        "text": text,  # decrypted once, for the API (core/api/routers/messaging.py)
        "html": render_message(text) if state == "ok" else "",
        "attachments": [],
        "can_edit": False,
        "can_delete": state != "deleted"
        and (mine or thread.staff)
        and message.pk not in thread.under_report,
        "can_report": not mine and state == "ok",
        "reported": message.pk in thread.reported,
        "receipt": None,
    }
    if state == "ok":
        item["attachments"] = [
            {
                "id": a.pk,
                # The name it downloads under: the detected type's extension.
                "name": files.download_name(decrypt_text(a.name) or "", a.mime),
                "size": a.size,
                "mime": a.mime,
            }
            for a in message.attachments.all()
        ]
        if (
            mine
            and thread.now - message.created_at <= actions.EDIT_WINDOW
            and message.pk not in thread.under_report
        ):
            item["can_edit"] = True
            item["text"] = text
            item["edit_until"] = message.created_at + actions.EDIT_WINDOW
    if item["thread"] and thread.is_creator:
        item["thread_name"] = thread.name_of(item["thread"])
    # What the drawn <li> depends on, bar receipts (the page's script keeps
    # those): the same version is not drawn again, so an open edit box stays.
    item["version"] = ":".join(
        [
            state,
            message.edited_at.isoformat() if message.edited_at else "",
            "r" if item["reported"] else "",
            "e" if item["can_edit"] else "",
        ]
    )
    if mine and thread.receipts and state != "deleted":
        audience = thread.audience_of(message.visible_to_id)
        positions = thread.positions
        readers = [uid for uid in audience if positions.get(uid, 0) >= message.pk]
        item["receipt"] = {
            "audience": audience,
            "read": len(readers),
            "total": len(audience),
            # Only the people this message went to: in a class-wide
            # conversation, a family's message went to the creator alone.
            "readers": [thread.name_of(uid) for uid in readers],
        }
    return item


def conversation_row(conversation: Conversation, user: User) -> dict:
    """Return what ``_conversation_row.html`` draws (``conversation`` annotated
    with ``unread``, participants prefetched)."""
    participants = list(conversation.participants.all())
    thread = Thread(
        conversation=conversation,
        user=user,
        participants=participants,
        receipts=False,
        staff=False,
    )
    people, hidden = visible_people(thread)
    others = [display_name(u) for u in people if u.pk != user.pk]
    hidden += max(0, len(others) - NAMES_SHOWN)
    return {
        "conversation": conversation,
        "id": conversation.pk,
        "subject": conversation.subject,
        "names": others[:NAMES_SHOWN],
        "more": hidden,
        "last": getattr(conversation, "last_visible_at", None)
        or conversation.created_at,
        "unread": getattr(conversation, "unread", 0),
    }


def inbox_queryset(user: User, query: str = ""):
    conversations = access.conversations_for_user(user)
    if query:
        conversations = conversations.filter(
            pk__in=access.search_conversations(user, query)
        )
    return conversations.select_related("created_by").prefetch_related(
        "participants__user"
    )
