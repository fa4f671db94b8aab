"""School-life publications ("vie scolaire"): notices to families and staff.

- ``Notice``: what school-life staff publish for an audience of one school
  (``audience``: ``core.roster.audience.Audience.to_json``; its members are
  read from the roster at read time). The body is plain text rendered
  through the messaging renderer (a small markdown subset, sanitised).
  ``publish_at`` plans it ahead: until ``published_at`` is set (by the
  action, or once by the periodic job) nobody but staff sees it and no event
  is sent. ``urgent`` notices pass quiet hours. ``requires_ack`` asks each
  member for "J'ai pris connaissance"; a ``reply_kind`` other than ``none``
  asks for an answer with it (yes/no: an authorisation; choice: one of
  ``reply_options``). ``edited_at`` marks a change after publication,
  ``withdrawn_at`` a withdrawal (soft: the row stays for the audit).
- ``Attachment``: a file of the notice (type from its content).
- ``Acknowledgement``: one per member per notice (unique), with the reply.
- ``Reminder``: one reminder action (its ``token``, unique per notice): a
  click sent twice reminds once.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core import files
from core.roster.models import Org

MAX_BODY = 10000
MAX_OPTIONS = 6


class Notice(models.Model):
    class ReplyKind(models.TextChoices):
        NONE = "none", _("no answer")
        YES_NO = "yes_no", _("yes or no (an authorisation)")
        CHOICE = "choice", _("one choice among options")

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="notices")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="notices_written",
        verbose_name=_("author"),
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), max_length=MAX_BODY, blank=True)
    audience = models.JSONField(_("audience"))
    urgent = models.BooleanField(_("urgent"), default=False)
    requires_ack = models.BooleanField(_("acknowledgement asked"), default=False)
    reply_kind = models.CharField(
        _("answer"), max_length=10, choices=ReplyKind.choices, default=ReplyKind.NONE
    )
    reply_options = models.JSONField(_("options"), default=list, blank=True)
    publish_at = models.DateTimeField(_("published from"))
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-publish_at", "-pk"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")

    def __str__(self) -> str:
        return self.title

    @property
    def live(self) -> bool:
        return self.published_at is not None and self.withdrawn_at is None


class Attachment(models.Model):
    notice = models.ForeignKey(
        Notice, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=files.RandomName("schoollife"))
    name = models.CharField(max_length=200)
    mime = models.CharField(max_length=100)
    size = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class Acknowledgement(models.Model):
    notice = models.ForeignKey(
        Notice, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    acknowledged_at = models.DateTimeField()
    reply = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = _("acknowledgement")
        verbose_name_plural = _("acknowledgements")
        constraints = [
            models.UniqueConstraint(
                fields=["notice", "user"], name="one_acknowledgement_per_member"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.notice_id}"


class Reminder(models.Model):
    notice = models.ForeignKey(
        Notice, on_delete=models.CASCADE, related_name="reminders"
    )
    token = models.CharField(max_length=64)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField()
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("notice reminder")
        verbose_name_plural = _("notice reminders")
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["notice", "token"], name="one_reminder_per_action"
            )
        ]

    def __str__(self) -> str:
        return f"{self.notice_id} {self.token}"
