"""What a ledger mail says: its subject, intro and items, from its deliveries.

An :class:`~hub.delivery.models.EmailSend` (one user, one period) and the
deliveries it holds become a :class:`~hub.delivery.email_message
.NotificationEmail`, in French, with absolute links and a signed
unsubscribe link scoped to the category (an immediate mail) or to every
e-mail (a digest).
"""

from email.message import EmailMessage

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, override

from hub.delivery import email_message, unsubscribe_tokens
from hub.delivery.categories import CATEGORIES
from hub.delivery.models import Delivery, EmailSend, Notification


def _absolute(path: str) -> str:
    return settings.SITE_URL + path if path.startswith("/") else path


def _subject(send: EmailSend, items: list[Notification]) -> str:
    kind = send.period.split(":", 1)[0]
    if kind == "now":
        return items[0].title
    count = len(items)
    if kind == "daily":
        text = ngettext(
            "Your day at school: %(count)s new item",
            "Your day at school: %(count)s new items",
            count,
        )
    else:
        text = ngettext(
            "Your week at school: %(count)s new item",
            "Your week at school: %(count)s new items",
            count,
        )
    return text % {"count": count}


def _intro(send: EmailSend) -> str:
    kind = send.period.split(":", 1)[0]
    if kind == "now":
        return _("Here is a new notification.")
    if kind == "daily":
        return _("Here is what you have not read yet today.")
    return _("Here is what you have not read yet this week.")


def compose_send(send: EmailSend, rows: list[Delivery], zone) -> EmailMessage | None:
    """The message of ``send`` (see :func:`notification_for`), None when empty."""
    email = notification_for(send, rows, zone)
    return None if email is None else email.message()


def notification_for(
    send: EmailSend, rows: list[Delivery], zone
) -> email_message.NotificationEmail | None:
    """Compose the mail of ``send`` from its deliveries (None when empty)."""
    user = send.user
    items = [row.notification for row in rows]
    if not items:
        return None
    with override(settings.LANGUAGE_CODE):
        scope = items[0].category if send.period.startswith("now:") else "all"
        token = unsubscribe_tokens.unsubscribe_token(user.pk, scope)
        digest_items = [
            email_message.DigestItem(
                title=n.title,
                body=n.body,
                url=_absolute(n.url),
                when=n.created_at.astimezone(zone),
                category_label=str(CATEGORIES[n.category].label)
                if n.category in CATEGORIES
                else "",
                child_name=n.child_name,
            )
            for n in items
        ]
        return email_message.notification_email(
            to_name=user.get_full_name() or user.get_username(),
            to_address=user.email,
            subject=_subject(send, items),
            intro=_intro(send),
            items=digest_items,
            unsubscribe_url=_absolute(reverse("delivery:unsubscribe", args=[token])),
            settings_url=_absolute(reverse("delivery:settings")),
            message_id=send.message_id,
        )
