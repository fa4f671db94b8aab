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
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
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

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return f"settings of {self.user_id}"


class Mute(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=60)
    until = models.DateTimeField()

    class Meta:
        verbose_name = _("mute")
        verbose_name_plural = _("mutes")
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
        verbose_name=_("user"),
    )
    endpoint = models.URLField(max_length=2000, unique=True, verbose_name=_("endpoint"))
    p256dh = models.CharField(
        max_length=100, verbose_name=_("p256dh")
    )  # base64url, 65-byte P-256 point
    auth = models.CharField(
        max_length=40, verbose_name=_("auth")
    )  # base64url, 16 bytes
    vapid_public_key = models.CharField(
        max_length=100, blank=True, verbose_name=_("vapid public key")
    )
    user_agent = models.CharField(
        max_length=200, blank=True, verbose_name=_("user agent")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_success_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("last success at")
    )

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

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
        verbose_name = _("VAPID key")
        verbose_name_plural = _("VAPID keys")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return (
            f"VAPID {self.public_key[:16]}… ({'active' if self.active else 'retired'})"
        )


class Notification(models.Model):
    """One event as one user is told about it (shown in push, mail, digest)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
    )
    event = models.ForeignKey(
        "hub.Event", on_delete=models.CASCADE, related_name="+", verbose_name=_("event")
    )
    category = models.CharField(max_length=30, verbose_name=_("category"))
    urgent = models.BooleanField(default=False)
    # What the user is told, and about which child: encrypted at rest
    # (core.crypto, rotated with the message keys); never filtered on.
    title = EncryptedTextField(verbose_name=_("title"))
    body = EncryptedTextField(verbose_name=_("body"))
    url = models.CharField(max_length=300, blank=True, verbose_name=_("url"))
    tag = models.CharField(max_length=100, blank=True, verbose_name=_("tag"))
    child_name = EncryptedTextField(verbose_name=_("child name"))
    # The school the event is about: staff read only their orgs' notifications
    # (and, through them, deliveries). Null only for a row no school owns.
    org = models.ForeignKey(
        "roster.Org",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    org_name = models.CharField(max_length=200, blank=True, verbose_name=_("org name"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    seen_at = models.DateTimeField(null=True, blank=True, verbose_name=_("seen at"))

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
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
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
    )
    channel = models.CharField(
        max_length=10, choices=Channel.choices, verbose_name=_("channel")
    )
    subscription = models.ForeignKey(
        PushSubscription,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("subscription"),
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, verbose_name=_("status")
    )
    reason = models.CharField(max_length=300, blank=True, verbose_name=_("reason"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("next attempt at")
    )
    email = models.ForeignKey(
        "EmailSend",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("email"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
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
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
    )
    period = models.CharField(max_length=40, verbose_name=_("period"))
    state = models.CharField(
        max_length=10,
        choices=State.choices,
        default=State.PENDING,
        verbose_name=_("state"),
    )
    worker = models.CharField(max_length=64, blank=True, verbose_name=_("worker"))
    lease_until = models.DateTimeField(
        null=True, blank=True, verbose_name=_("lease until")
    )
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("next attempt at")
    )
    message_id = models.CharField(
        max_length=200, blank=True, verbose_name=_("message id")
    )
    error = models.CharField(max_length=500, blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("e-mail sent")
        verbose_name_plural = _("e-mails sent")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period"], name="unique_email_per_period"
            )
        ]
        indexes = [models.Index(fields=["state", "lease_until"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.period} {self.state}"
