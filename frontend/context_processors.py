"""Template context every page needs to start the hub client."""

from functools import cache

from django.urls import reverse

from core.messaging.access import unread_totals
from core.roster.streams import readable_streams
from hub.delivery import inbox
from hub.events import notifying_kinds
from hub.streams import positions


def hub(request) -> dict:
    """Return ``hub_positions``, ``hub_config``, ``unread_count``,
    ``messages_unread`` (conversations with unread messages) and
    ``reads_delivery_log`` (the staff menu's link).

    ``hub_positions`` is ``{stream: {"epoch": str, "offset": int}}`` for every
    stream the user may read, taken when the page is rendered: the client
    resumes from there, so nothing that happens after the render is missed.
    Each value is a cached callable (templates call it), so a page that does
    not use them (the admin) runs no query. Anonymous users get nothing.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def streams() -> list[str]:
        return readable_streams(user)

    @cache
    def hub_positions() -> dict:
        current = positions(streams())
        return {
            name: {"epoch": epoch, "offset": offset}
            for name, (epoch, offset) in current.items()
        }

    @cache
    def hub_config() -> dict:
        return {
            "login_url": reverse("login"),
            "notifying_kinds": notifying_kinds(),
            "notifications_api": reverse("api-notifications"),
            "mark_read_api": reverse("api-notifications-read"),
            "user": user.pk,
        }

    @cache
    def unread_count() -> int:
        return inbox.unread_count(user, streams())

    @cache
    def messages_unread() -> int:
        return unread_totals(user)[0]

    @cache
    def reads_delivery_log() -> bool:
        from hub.delivery.access import is_delivery_staff

        return is_delivery_staff(user)

    return {
        "hub_positions": hub_positions,
        "hub_config": hub_config,
        "unread_count": unread_count,
        "messages_unread": messages_unread,
        "reads_delivery_log": reads_delivery_log,
    }
