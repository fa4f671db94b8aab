"""Event kinds of messaging (on the participants' ``user:<id>`` streams).

No event carries message text: the stream log is not encrypted, so pages
fetch the text from the messaging API when an event arrives.
"""

from typing import Literal

from hub.events import HubEvent


class MessageChanged(HubEvent):
    """A message was sent, edited, deleted or hidden by moderation."""

    kind = "messaging.message"
    notify = False  # counted per conversation in the inbox, not the bell
    op: Literal["new", "edited", "deleted", "hidden"]
    conversation_id: int
    message_id: int
    sender_id: int
    sender_name: str
    subject: str


class MessagesRead(HubEvent):
    """A participant read up to ``message_id`` (read receipts)."""

    kind = "messaging.read"
    notify = False
    op: Literal["read"]
    conversation_id: int
    user_id: int
    message_id: int
