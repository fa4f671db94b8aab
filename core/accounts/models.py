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
