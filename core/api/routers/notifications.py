"""``/api/v1/notifications``: the in-app notification centre (``hub.delivery.inbox``),
as the site's bell shows it (``frontend.notifications.notifications_payload``)."""

from typing import Any

from ninja import Query, Router, Schema
from pydantic import Field

from core.api.auth import READ, WRITE
from core.api.schemas import answers
from frontend.notifications import NOTIFICATION_LIMIT, notifications_payload
from hub.delivery import inbox

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    stream: str
    epoch: str
    offset: int
    kind: str
    op: str
    data: dict[str, Any]
    ts: str = Field(description="When it happened (ISO 8601).")
    unread: bool
    title: str | None = Field(None, description="How it reads, in French.")
    body: str | None = None
    url: str | None = Field(None, description="The site's page it is about.")


class NotificationsOut(Schema):
    unread: int
    notifications: list[NotificationOut]


class UnreadOut(Schema):
    unread: int


class Limit(Schema):
    limit: int = Field(NOTIFICATION_LIMIT, ge=0, le=NOTIFICATION_LIMIT)


@router.get("", response=answers(NotificationsOut), auth=READ)
def notifications(request, limit: Query[Limit]):
    """The newest notifications (``limit``, 50 at most) of every stream the
    user reads, newest first, with the unread count."""
    payload = notifications_payload(request.auth, limit.limit)
    return NotificationsOut(unread=payload["unread"], notifications=payload["events"])


@router.post("/read", response=answers(UnreadOut), auth=WRITE)
def mark_all_read(request):
    """Mark every notification read (on every device of the user)."""
    inbox.mark_all_read(request.auth)
    return UnreadOut(unread=inbox.unread_count(request.auth))
