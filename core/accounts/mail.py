"""The accounts' e-mails: an activation link and code, a password-reset link.

Sent with Django's e-mail API (``EmailMultiAlternatives``: French text and
HTML) through the SMTP server the rest of the hub uses (``EMAIL_HOST``,
``EMAIL_PORT``...). The connection is always Django's SMTP backend, built from
the hub's own settings: in the hub ``EMAIL_USE_TLS`` means implicit TLS (port
465) and ``EMAIL_START_TLS`` STARTTLS (587), where Django's names differ.
"""

import datetime as dt

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation

from core.roster.models import User

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def connection():
    """Return an SMTP connection (a context manager) to the hub's mail server."""
    return get_connection(
        SMTP_BACKEND,
        host=settings.EMAIL_HOST,
        port=settings.EMAIL_PORT,
        username=settings.EMAIL_HOST_USER or None,
        password=settings.EMAIL_HOST_PASSWORD or None,
        use_ssl=settings.EMAIL_USE_TLS,
        use_tls=getattr(settings, "EMAIL_START_TLS", False),
        timeout=settings.EMAIL_TIMEOUT,
        fail_silently=False,
    )


def _message(
    *, user: User, subject: str, template: str, context: dict
) -> EmailMultiAlternatives:
    context = {"subject": subject, "to_name": user.get_full_name(), **context}
    with translation.override("fr"):
        text = render_to_string(f"accounts/email/{template}.txt", context)
        html = render_to_string(f"accounts/email/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={"Auto-Submitted": "auto-generated", "Content-Language": "fr"},
    )
    message.attach_alternative(html, "text/html")
    return message


def _day(moment: dt.datetime) -> str:
    with translation.override("fr"):
        return formats.date_format(timezone.localtime(moment), "j F Y à H:i")


def activation_message(
    *, user: User, code: str, link: str, expires_at: dt.datetime, school: str
) -> EmailMultiAlternatives:
    """Compose the activation e-mail of ``user`` (link, login and code)."""
    return _message(
        user=user,
        subject="Activez votre compte Hub ENT",
        template="activation",
        context={
            "login": user.get_username(),
            "code": code,
            "link": link,
            "page": link.split("#", 1)[0],
            "expires": _day(expires_at),
            "school": school,
        },
    )


def password_reset_message(
    *, user: User, link: str, valid_hours: int
) -> EmailMultiAlternatives:
    """Compose the password-reset e-mail of ``user``."""
    return _message(
        user=user,
        subject="Réinitialisation de votre mot de passe Hub ENT",
        template="password_reset",
        context={"login": user.get_username(), "link": link, "hours": valid_hours},
    )


def new_device_message(
    *, user: User, at: dt.datetime, browser: str, system: str
) -> EmailMultiAlternatives:
    """Compose the "new login to your account" e-mail of ``user``."""
    from django.urls import reverse

    return _message(
        user=user,
        subject="Nouvelle connexion à votre compte Hub ENT",
        template="new_device",
        context={
            "login": user.get_username(),
            "when": _day(at),
            "browser": browser,
            "system": system,
            "link": settings.SITE_URL + reverse("accounts:sessions"),
            "password_link": settings.SITE_URL + reverse("accounts:password_change"),
        },
    )
