"""What the privacy module keeps: the data exports people ask for.

A ``DataExport`` is one request of a person for everything the hub holds
about them and their children (RGPD art. 15 and 20). A background task
(:mod:`core.privacy.tasks`) builds the zip, stores it encrypted
(``core.crypto``) and e-mails a link; the link works for that person only,
logged in, until ``expires_at``; the retention job then deletes the file
and marks the export expired.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core import crypto


class DataExport(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("requested")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")
        EXPIRED = "expired", _("expired")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.REQUESTED
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    # The zip, encrypted (a Fernet token), under a random name.
    file = models.FileField(upload_to="exports/", blank=True)
    size = models.PositiveBigIntegerField(default=0, verbose_name=_("size"))

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = _("data export")
        verbose_name_plural = _("data exports")
        # The erasure's permission (core.privacy.actions.may_erase) lives here,
        # on the privacy app's model.
        permissions = [
            ("erase_person", _("Can erase and anonymise a person")),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.user_id} ({self.status})"


crypto.register_file_field(DataExport, "file")
