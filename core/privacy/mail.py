"""The privacy module's e-mail: "your data export is ready", with its link.

Sent as the accounts' e-mails are (:mod:`core.accounts.mail`): French text
and HTML through the hub's own SMTP connection.
"""

import datetime as dt

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation

from core.accounts.mail import connection
from core.roster.models import User

__all__ = ["connection", "export_ready_message"]


def export_ready_message(
    *, user: User, link: str, expires_at: dt.datetime
) -> EmailMultiAlternatives:
    """Compose the e-mail telling ``user`` their export can be downloaded."""
    subject = "Vos données Hub ENT sont prêtes"
    with translation.override("fr"):
        context = {
            "subject": subject,
            "to_name": user.get_full_name(),
            "login": user.get_username(),
            "link": link,
            "expires": formats.date_format(
                timezone.localtime(expires_at), "j F Y à H:i"
            ),
        }
        text = render_to_string("privacy/email/export_ready.txt", context)
        html = render_to_string("privacy/email/export_ready.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={"Auto-Submitted": "auto-generated", "Content-Language": "fr"},
    )
    message.attach_alternative(html, "text/html")
    return message
