"""Typing indicators: ephemeral ``typing`` frames relayed by the hub.

Client → server: ``{"type": "typing", "conversation": 12}``. The server
checks that the user takes part and may write there, then relays
``{"type": "typing", "conversation": 12, "user": 5, "name": "Léa Dubois"}``
to the sockets of the other participants, at most once every 2 s per
conversation and socket. Nothing is stored.
"""

from core.messaging.models import Participant
from hub.ephemeral import EphemeralRefused, Relay, register


def relay_typing(user, frame: dict) -> Relay:
    """Return who hears that ``user`` is typing in the frame's conversation."""
    conversation_id = frame.get("conversation")
    if not isinstance(conversation_id, int) or isinstance(conversation_id, bool):
        raise EphemeralRefused("'conversation' must be a conversation id")
    others = list(
        Participant.objects.filter(conversation_id=conversation_id).values_list(
            "user_id", flat=True
        )
    )
    if user.pk not in others:
        raise EphemeralRefused("no such conversation or not allowed")
    others.remove(user.pk)
    return Relay(
        user_ids=others,
        frame={
            "type": "typing",
            "conversation": conversation_id,
            "user": user.pk,
            "name": user.get_full_name() or user.get_username(),
        },
        key=str(conversation_id),
    )


register("typing", relay_typing)
