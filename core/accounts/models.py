"""One-time activation codes of accounts made by a roster import.

An imported user has an unusable password until they activate their account
with a code printed on a letter or sent by e-mail. Only a keyed hash of the
code is stored (HMAC-SHA256 under ``SECRET_KEY``, :func:`core.accounts.codes.digest`):
a copy of the database does not reveal the codes, and codes (50 bits) are too
long to guess online under the rate limit.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ActivationCodeQuerySet(models.QuerySet):
    def live(self, now=None) -> "ActivationCodeQuerySet":
        """Keep the codes that may still be used at ``now`` (default: now)."""
        return self.filter(
            used_at=None, revoked_at=None, expires_at__gt=now or timezone.now()
        )


class ActivationCode(models.Model):
    """A code that lets ``user`` choose a password, once, before ``expires_at``.

    A code is live while ``used_at`` and ``revoked_at`` are empty and
    ``expires_at`` is in the future; issuing a new code for a user revokes
    their older live ones (:func:`core.accounts.actions.issue_code`).
    """

    class Channel(models.TextChoices):
        LETTER = "letter", _("letter")
        EMAIL = "email", _("e-mail")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="activation_codes",
        verbose_name=_("user"),
    )
    code_hash = models.CharField(max_length=64)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )

    objects = ActivationCodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("activation code")
        verbose_name_plural = _("activation codes")
        indexes = [models.Index(fields=["user", "used_at", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_channel_display()}, {self.created_at:%Y-%m-%d})"


class UserSession(models.Model):
    """A logged-in session of ``user`` (a device), for "Mes appareils".

    Made at login (:mod:`core.accounts.sessions`), its ``last_activity``
    kept by :class:`core.accounts.middleware.SessionsMiddleware` (at most
    every ``TOUCH_SECONDS``), deleted at logout or when the user ends it. The
    session itself stays Django's (``SESSION_ENGINE``); ``session_key`` is the
    key Django's session table holds in clear too, and never leaves the
    server (pages name a session by this row's id).
    """

    session_key = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
    )
    created_at = models.DateTimeField(_("logged in at"), default=timezone.now)
    last_activity = models.DateTimeField(_("last activity"), default=timezone.now)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        indexes = [models.Index(fields=["user", "-last_activity"])]

    def __str__(self) -> str:
        return f"{self.user} ({self.created_at:%Y-%m-%d %H:%M})"


class KnownDevice(models.Model):
    """A browser ``user`` has logged in from: the keyed hash of its device
    cookie (:mod:`core.accounts.sessions`). A login from a browser not listed
    here is a new device, and (if the user has a listed one) e-mailed."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
    )
    device_hash = models.CharField(max_length=64)
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)

    class Meta:
        verbose_name = _("known device")
        verbose_name_plural = _("known devices")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "device_hash"], name="accounts_device_once_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.first_seen:%Y-%m-%d})"
