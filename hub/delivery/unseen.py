"""Which notifications their user has neither seen nor read yet.

Both channels ask it at the last moment before sending (a push, a digest):
what the user saw in an open tab meanwhile is not sent again.
"""

from django.db.models import Q

from hub.delivery.models import Notification
from hub.models import ReadCursor


def unseen(notifications: list[Notification]) -> set[int]:
    """Return the pks of ``notifications`` their user has neither seen nor read.

    Seen: reported by an open tab (``seen_at``); read: below the user's
    notification-centre cursor on that stream.
    """
    pending = [n for n in notifications if n.seen_at is None]
    if not pending:
        return set()
    condition = Q()
    for n in pending:
        condition |= Q(user_id=n.user_id, stream_id=n.event.stream_id)
    cursors = {
        (row.user_id, row.stream_id): row.offset
        for row in ReadCursor.objects.filter(condition)
    }
    return {
        n.pk
        for n in pending
        if n.event.offset > cursors.get((n.user_id, n.event.stream_id), 0)
    }
