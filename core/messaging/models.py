"""Conversations between school and families (issue 3).

Message bodies, attachment names and attachment contents are stored
encrypted (``core.crypto``), and so are conversation subjects, report
reasons, the reported text kept as evidence and suspension reasons: a
database dump alone reveals no text a user wrote.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core import crypto, files
from core.roster.models import Org

User = settings.AUTH_USER_MODEL


class MessagingPolicy(models.Model):
    """Who may write to whom in one school; edited by its administrator.

    Staff and teachers may always write to anyone of their school; the
    switches below open or close the rest.
    """

    org = models.OneToOneField(
        Org,
        on_delete=models.CASCADE,
        related_name="messaging_policy",
        verbose_name=_("org"),
    )
    guardians_may_write_teachers = models.BooleanField(
        _("guardians may write to their children's teachers"), default=True
    )
    guardians_may_write_staff = models.BooleanField(
        _("guardians may write to school-life staff"), default=True
    )
    pupils_may_write_teachers = models.BooleanField(
        _("pupils may write to their teachers"), default=False
    )
    read_receipts = models.BooleanField(_("read receipts"), default=True)

    class Meta:
        verbose_name = _("messaging policy")
        verbose_name_plural = _("messaging policies")

    def __str__(self) -> str:
        return str(self.org)


class Conversation(models.Model):
    class ReplyPolicy(models.TextChoices):
        ALL = "all", _("recipients may reply to everyone")
        SENDER = "sender", _("recipients may reply to the sender only")
        NONE = "none", _("recipients may not reply")

    org = models.ForeignKey(
        Org, on_delete=models.CASCADE, related_name="+", verbose_name=_("org")
    )
    # Encrypted: searched in Python over the user's own conversations
    # (``access.search_conversations``), never by the database.
    subject = crypto.EncryptedTextField(pgettext_lazy("message", "subject"))
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    reply_policy = models.CharField(
        _("replies"),
        max_length=10,
        choices=ReplyPolicy.choices,
        default=ReplyPolicy.ALL,
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_message_at = models.DateTimeField(
        null=True, db_index=True, verbose_name=_("last message at")
    )

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")

    def __str__(self) -> str:
        return self.subject


class Participant(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    last_read_message_id = models.BigIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "user"], name="unique_participant"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.conversation_id}"


class Message(models.Model):
    """One message. ``body`` is a Fernet token of the UTF-8 text.

    ``visible_to`` restricts a reply to the conversation's creator (reply
    policy "sender"); ``None`` means every participant. ``digest`` is an HMAC
    of the content, to tell a resend (same idempotency key, same content)
    from a replayed key with different content.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    visible_to = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    body = models.BinaryField()
    digest = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "idempotency_key"], name="unique_idempotency_key"
            )
        ]

    def __str__(self) -> str:
        return f"message {self.pk} in {self.conversation_id}"


class Attachment(models.Model):
    """A file of a message, stored encrypted through Django's storage API.

    ``name`` is the sender's (encrypted); ``mime`` the type found in the
    content, which decides the name it downloads under
    (:func:`core.files.download_name`). The stored file has a
    random name and leaves storage with the row (``core.files``).
    """

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="attachments"
    )
    name = models.BinaryField()
    mime = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    file = models.FileField(upload_to=files.RandomName("messages"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return f"attachment {self.pk} of {self.message_id}"


class Report(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        HIDDEN = "hidden", _("message hidden")
        DISMISSED = "dismissed", _("dismissed")

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="reports"
    )
    reporter = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="+", verbose_name=_("reporter")
    )
    reason = crypto.EncryptedTextField(_("reason"))
    # The message's text when it was reported: what the moderators judge,
    # whatever its author does afterwards.
    evidence = crypto.EncryptedTextField(_("reported text"))
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.OPEN,
        verbose_name=_("status"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    handled_by = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )
    handled_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("handled at")
    )

    class Meta:
        verbose_name = pgettext_lazy("moderation", "report")
        verbose_name_plural = _("reports")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "reporter"], name="one_report_per_reporter"
            )
        ]

    def __str__(self) -> str:
        return f"report {self.pk} on {self.message_id}"


class WriteSuspension(models.Model):
    """A user may not send messages in ``org`` until ``until`` (or ever)."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    org = models.ForeignKey(
        Org, on_delete=models.CASCADE, related_name="+", verbose_name=_("org")
    )
    until = models.DateTimeField(null=True, blank=True, verbose_name=_("until"))
    reason = crypto.EncryptedTextField(_("reason"))
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("write suspension")
        verbose_name_plural = _("write suspensions")

    def __str__(self) -> str:
        return f"{self.user_id} suspended in {self.org_id}"


class SendQuota(models.Model):
    """A user's token bucket for sending (see ``actions.take_send_token``)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="+")
    tokens = models.FloatField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("send quota")
        verbose_name_plural = _("send quotas")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.tokens:.1f} tokens"


crypto.register_token_field(Message, "body")
crypto.register_token_field(Attachment, "name")
crypto.register_file_field(Attachment, "file")
