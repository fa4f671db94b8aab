"""What is delivered to whom, through which channel, and why (ARCHITECTURE.md P5).

- ``Preference``: one row per user and category (missing rows mean the role's
  defaults, :mod:`hub.delivery.categories`).
- ``DeliverySettings``: a user's time zone, quiet hours and digest times.
- ``Mute``: "mute this conversation for 1 h" (``key`` such as ``conversation:12``).
- ``PushSubscription``: one browser's RFC 8030 subscription (endpoint + RFC 8291 keys).
- ``VapidKey``: the application server's RFC 8292 key pair, generated on first
  use, its private key encrypted at rest.
- ``Notification``: one event as one user is told about it (title, body, page),
  its texts encrypted at rest (:class:`core.crypto.EncryptedTextField`).
- ``Delivery``: one notification through one channel (and, for push, one
  device): the delivery log staff read ("why didn't this parent get it?").
- ``EmailSend``: the at-most-once ledger of e-mails, one row per user and
  period (``now:<notification id>``, ``daily:2026-11-30``, ``weekly:2026-W48``).
"""

import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.crypto import EncryptedTextField


class Channel(models.TextChoices):
    PUSH = "push", _("push notification")
    EMAIL = "email", _("immediate e-mail")
    DAILY = "daily", _("daily digest")
    WEEKLY = "weekly", _("weekly digest")


class Digest(models.TextChoices):
    NONE = "", _("no digest")
    DAILY = "daily", _("daily digest")
    WEEKLY = "weekly", _("weekly digest")


class Preference(models.Model):
    """How one user wants one category delivered (all off = "off")."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    category = models.CharField(max_length=30)
    inapp = models.BooleanField(default=True)
    push = models.BooleanField(default=False)
    email = models.BooleanField(default=False)
    digest = models.CharField(
        max_length=10, choices=Digest.choices, default="", blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "category"], name="unique_delivery_preference"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}/{self.category}"


class DeliverySettings(models.Model):
    """A user's clock: time zone (empty = their school's), quiet hours, digests.

    ``weekly_day`` is ISO weekday - 1 (0 Monday ... 4 Friday);
    ``digest_hour`` is a local hour 0-23.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    time_zone = models.CharField(max_length=64, blank=True)
    quiet_enabled = models.BooleanField(default=True)
    quiet_start = models.TimeField(default=datetime.time(20, 0))
    quiet_end = models.TimeField(default=datetime.time(7, 0))
    quiet_weekends = models.BooleanField(default=False)
    digest_hour = models.PositiveSmallIntegerField(default=18)
    weekly_day = models.PositiveSmallIntegerField(default=4)

    def __str__(self) -> str:
        return f"settings of {self.user_id}"


class Mute(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=60)
    until = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="unique_mute")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} mutes {self.key} until {self.until:%Y-%m-%d %H:%M}"


class PushSubscription(models.Model):
    """A browser's push subscription (RFC 8030 §4, keys of RFC 8291 §3)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="push_subscriptions",
    )
    endpoint = models.URLField(max_length=2000, unique=True)
    p256dh = models.CharField(max_length=100)  # base64url, 65-byte P-256 point
    auth = models.CharField(max_length=40)  # base64url, 16 bytes
    vapid_public_key = models.CharField(max_length=100, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id} → {self.endpoint[:60]}"

    def info(self) -> dict:
        """Return the ``PushSubscription.toJSON()`` shape pywebpush takes."""
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }


class VapidKey(models.Model):
    """An RFC 8292 application server key; the newest active one signs.

    The private key (PKCS#8 PEM) is encrypted at rest with the message keys
    (:mod:`core.crypto`; ``rotate_message_keys`` re-encrypts it).
    ``rotate_vapid_key`` replaces the key pair itself.
    """

    private_pem = EncryptedTextField()
    public_key = models.CharField(max_length=100)  # base64url uncompressed point
    created_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return (
            f"VAPID {self.public_key[:16]}… ({'active' if self.active else 'retired'})"
        )


class Notification(models.Model):
    """One event as one user is told about it (shown in push, mail, digest)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    event = models.ForeignKey("hub.Event", on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=30)
    urgent = models.BooleanField(default=False)
    # What the user is told, and about which child: encrypted at rest
    # (core.crypto, rotated with the message keys); never filtered on.
    title = EncryptedTextField()
    body = EncryptedTextField()
    url = models.CharField(max_length=300, blank=True)
    tag = models.CharField(max_length=100, blank=True)
    child_name = EncryptedTextField()
    # The school the event is about: staff read only their orgs' notifications
    # (and, through them, deliveries). Null only for a row no school owns.
    org = models.ForeignKey(
        "roster.Org",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    org_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "event"], name="unique_notification"
            )
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["user", "org", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.title}"


class Delivery(models.Model):
    """One notification through one channel (and one device, for push)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        HELD = "held", _("held")
        RETRYING = "retrying", _("retrying")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        SUPPRESSED = "suppressed", _("suppressed")

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subscription = models.ForeignKey(
        PushSubscription, on_delete=models.SET_NULL, null=True, blank=True
    )
    status = models.CharField(max_length=12, choices=Status.choices)
    reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    email = models.ForeignKey(
        "EmailSend", on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["user", "channel", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} {self.channel} {self.status}"


class EmailSend(models.Model):
    """At most one mail per user and period (ARCHITECTURE.md P5).

    States: ``pending`` (may be sent), ``claimed`` (a worker holds it until
    ``lease_until``; never handed to SMTP yet), ``sending`` (handed to SMTP;
    if its worker dies now nobody knows whether it left, so it is never sent
    again and ends ``uncertain``), ``sent``, ``failed`` (SMTP refused it for
    good), ``empty`` (a digest with nothing unread: no mail).
    """

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        CLAIMED = "claimed", _("claimed")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        UNCERTAIN = "uncertain", _("uncertain")
        EMPTY = "empty", _("nothing to send")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    period = models.CharField(max_length=40)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING
    )
    worker = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period"], name="unique_email_per_period"
            )
        ]
        indexes = [models.Index(fields=["state", "lease_until"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.period} {self.state}"
