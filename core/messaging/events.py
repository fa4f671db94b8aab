"""Event kinds of messaging (on the participants' ``user:<id>`` streams).

No event carries message text nor the subject: the stream log is not
encrypted, so pages fetch them from the messaging API when an event arrives,
and a notice reads the subject when it is planned.
"""

import datetime
from typing import Literal

from django.utils.translation import gettext as _

from hub.events import HubEvent, Notice


class MessageChanged(HubEvent):
    """A message was sent, edited, deleted or hidden by moderation."""

    kind = "messaging.message"
    notify = False  # counted per conversation in the inbox, not the bell
    category = "message"
    op: Literal["new", "edited", "deleted", "hidden"]
    conversation_id: int
    message_id: int
    sender_id: int
    sender_name: str
    # Subjects are encrypted at rest and the stream log is not: events no
    # longer carry it (the field reads events written before).
    subject: str = ""
    silent: bool = False
    org_id: int | None = None  # the conversation's school (None: older events)

    def payload(self) -> dict:
        return self.model_dump(mode="json", exclude={"op", "subject"})

    def notice(self, created_at: datetime.datetime) -> Notice | None:
        """A new message (never its text: pushes say who and about what)."""
        if self.op != "new":
            return None
        from core.messaging.models import Conversation

        subject = (
            Conversation.objects.filter(pk=self.conversation_id)
            .values_list("subject", flat=True)
            .first()
        )
        return Notice(
            title=_("New message from %(name)s") % {"name": self.sender_name},
            body=subject or self.subject,
            url=f"/messages/{self.conversation_id}/",
            tag=f"conversation-{self.conversation_id}",
            mute_key=f"conversation:{self.conversation_id}",
            silent=self.silent,
            actor_id=self.sender_id,
            org_id=self.org_id,
        )


class MessagesRead(HubEvent):
    """A participant read up to ``message_id`` (read receipts)."""

    kind = "messaging.read"
    notify = False
    op: Literal["read"]
    conversation_id: int
    user_id: int
    message_id: int

    def withdraws(self) -> tuple[int, str]:
        """The reader's devices close this conversation's notification."""
        return self.user_id, f"conversation-{self.conversation_id}"
