"""The notification centre's contents, for the bell's page and the API."""

from core.roster.models import User
from hub.delivery import inbox

NOTIFICATION_LIMIT = 50


def notifications_payload(user: User, limit: int) -> dict:
    """Return ``{"unread": int, "events": [event frame + "unread": bool]}``.

    Each frame also carries, when its kind describes itself
    (``HubEvent.notice``, in the active language), ``title``, ``body`` and
    ``url``: the same words as its push and e-mail, which notifications.js
    shows rather than a wording of its own.
    """
    read = inbox.read_offsets(user) if limit else {}
    events = []
    for envelope in inbox.recent(user, limit=limit) if limit else []:
        frame = envelope.frame()
        frame["unread"] = envelope.offset > read.get(envelope.stream, 0)
        notice = inbox.notice_of(envelope)
        if notice is not None:
            frame.update(title=notice.title, body=notice.body, url=notice.url)
        events.append(frame)
    return {"unread": inbox.unread_count(user), "events": events}
