"""Typing indicators: ephemeral ``typing`` frames relayed by the hub.

Client → server: ``{"type": "typing", "conversation": 12}``, with
``"to": <user id>`` when the creator of a class-wide conversation writes in
one recipient's private thread (then only that recipient hears it). The server
checks that the user takes part and may write there (a suspended writer
gets an ``error`` frame with code ``suspended``), then relays
``{"type": "typing", "conversation": 12, "user": 5, "name": "Léa Dubois"}``
to the sockets of the other participants (of the creator only where replies
go to the sender only; of no one where they are closed), at most once every
2 s per conversation and socket. Nothing is stored.
"""

from core.messaging import access
from core.messaging.models import Conversation, Participant
from core.messaging.policy import is_suspended
from hub.realtime.ephemeral import EphemeralRefused, Relay, register


def relay_typing(user, frame: dict) -> Relay:
    """Return who hears that ``user`` is typing in the frame's conversation."""
    conversation_id = frame.get("conversation")
    if (
        not isinstance(conversation_id, int)
        or isinstance(conversation_id, bool)
        # Beyond a 64-bit id the database driver raises instead of finding none.
        or not 0 < conversation_id < 2**63
    ):
        raise EphemeralRefused("'conversation' must be a conversation id")
    others = list(
        Participant.objects.filter(conversation_id=conversation_id).values_list(
            "user_id", flat=True
        )
    )
    if user.pk not in others:
        raise EphemeralRefused("no such conversation or not allowed")
    conversation = Conversation.objects.only(
        "reply_policy", "created_by_id", "org_id"
    ).get(pk=conversation_id)
    if is_suspended(user, conversation.org_id):
        # A suspended writer is told so (they know it), and nobody hears them.
        raise EphemeralRefused("your right to write is suspended", "suspended")
    # Typing reaches whom the text will: the creator only (or no one) for a
    # reply in a class-wide message, which keeps the other families unnamed;
    # one family for the creator writing in its private thread ("to").
    to = frame.get("to")
    listeners = access.audience(
        conversation, user.pk, others, to if isinstance(to, int) else None
    )
    return Relay(
        user_ids=listeners,
        frame={
            "type": "typing",
            "conversation": conversation_id,
            "user": user.pk,
            "name": user.get_full_name() or user.get_username(),
        },
        key=str(conversation_id),
    )


register("typing", relay_typing)
