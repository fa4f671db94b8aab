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
    others.remove(user.pk)
    reply_policy, creator, org_id = Conversation.objects.filter(
        pk=conversation_id
    ).values_list("reply_policy", "created_by_id", "org_id")[0]
    if is_suspended(user, org_id):
        # A suspended writer is told so (they know it), and nobody hears them.
        raise EphemeralRefused("your right to write is suspended", "suspended")
    if user.pk != creator and reply_policy != Conversation.ReplyPolicy.ALL:
        # A reply reaches the creator only (or no one): so does its typing,
        # which also keeps the other families of a class message unnamed.
        others = [creator] if reply_policy == Conversation.ReplyPolicy.SENDER else []
    elif user.pk == creator and reply_policy != Conversation.ReplyPolicy.ALL:
        # The creator writing in one family's private thread ("to"): only
        # that family sees it.
        to = frame.get("to")
        if to is not None:
            others = [to] if to in others else []
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
