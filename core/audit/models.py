"""The append-only audit log (ARCHITECTURE.md P6).

Who did what to what, when and from which address. Kept apart from what it
records: entries hold ids and a small JSON detail, never foreign keys that a
deletion could cascade through, and never message text.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor_id = models.BigIntegerField(_("who (user id)"), null=True)
    actor_name = models.CharField(_("who"), max_length=150)
    org_id = models.BigIntegerField(_("school (org id)"), null=True, db_index=True)
    action = models.CharField(_("action"), max_length=50, db_index=True)
    target_type = models.CharField(_("target type"), max_length=50)
    target_id = models.BigIntegerField(_("target id"))
    # The person (most often a pupil) whose data the entry concerns.
    subject_id = models.BigIntegerField(
        _("concerns (user id)"), null=True, blank=True, db_index=True
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        # Reading the log is a permission of its own (the audit page, the
        # admin's list); nobody adds, changes or deletes entries.
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target_type}#{self.target_id}"
