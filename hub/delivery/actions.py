"""Delivery writes a user makes: preferences, quiet hours, devices, mutes, seen.

Views parse and check, then call one of these. None of them emits a hub
event: they change how events reach the user, not what happened.
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.audit import log as audit
from core.roster.models import User
from hub.delivery.categories import CATEGORIES, CHOICES
from hub.delivery.models import (
    DeliverySettings,
    Digest,
    Mute,
    Notification,
    Preference,
    PushSubscription,
)

# The fields of DeliverySettings a user may change.
SETTINGS_FIELDS = (
    "time_zone",
    "quiet_enabled",
    "quiet_start",
    "quiet_end",
    "quiet_weekends",
    "digest_hour",
    "weekly_day",
)


class UnknownChoice(ValueError):
    """Raised for a category or a choice the settings page does not offer."""


def set_preference(user: User, category: str, choice_key: str) -> Preference:
    """Store ``user``'s choice (a key of ``categories.CHOICES``) for ``category``.

    Raises :class:`UnknownChoice` for an unknown category or choice.
    """
    if category not in CATEGORIES or choice_key not in CHOICES:
        raise UnknownChoice(f"{category}/{choice_key}")
    choice, _label = CHOICES[choice_key]
    row, _created = Preference.objects.update_or_create(
        user=user,
        category=category,
        defaults={
            "inapp": choice.inapp,
            "push": choice.push,
            "email": choice.email,
            "digest": choice.digest,
        },
    )
    return row


def save_settings(user: User, **fields) -> DeliverySettings:
    """Store ``user``'s clock (fields of :class:`DeliverySettings`).

    ``time_zone`` must be an IANA name (or "" for the school's); raises
    :class:`UnknownChoice` otherwise, or for an hour/day out of range.
    """
    from zoneinfo import available_timezones

    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise UnknownChoice(", ".join(sorted(unknown)))
    zone = fields.get("time_zone")
    if zone and zone not in available_timezones():
        raise UnknownChoice(zone)
    if not 0 <= fields.get("digest_hour", 0) <= 23:
        raise UnknownChoice("digest_hour")
    if not 0 <= fields.get("weekly_day", 0) <= 6:
        raise UnknownChoice("weekly_day")
    row, _created = DeliverySettings.objects.update_or_create(
        user=user, defaults=fields
    )
    return row


def subscribe(user: User, info: object, user_agent: str = "") -> PushSubscription:
    """Register a browser's push subscription (``PushSubscription.toJSON()``).

    Raises :class:`hub.delivery.push_subscriptions.InvalidSubscription` for a
    malformed one (bad key, non-https or unknown push service). An endpoint
    already known moves to ``user`` (a shared family tablet after a change of
    account).
    """
    from hub.delivery import push_subscriptions, vapid

    clean = push_subscriptions.validate_subscription(
        info,
        allowed_hosts=settings.PUSH_ALLOWED_HOSTS,
        allow_http=settings.PUSH_ALLOW_HTTP,
    )
    row, _created = PushSubscription.objects.update_or_create(
        endpoint=clean["endpoint"],
        defaults={
            "user": user,
            "p256dh": clean["keys"]["p256dh"],
            "auth": clean["keys"]["auth"],
            "vapid_public_key": vapid.public_key(),
            "user_agent": user_agent[:200],
        },
    )
    _audit(user, "push.subscribed", "push_subscription", row.pk)
    return row


def unsubscribe(user: User, endpoint: str) -> bool:
    """Forget ``user``'s subscription at ``endpoint``; return whether one existed."""
    rows = PushSubscription.objects.filter(user=user, endpoint=endpoint)
    ids = list(rows.values_list("pk", flat=True))
    deleted, _ = rows.delete()
    for pk in ids:
        _audit(user, "push.unsubscribed", "push_subscription", pk)
    return bool(deleted)


def mute(user: User, key: str, until: datetime.datetime) -> Mute:
    """Mute pushes and e-mails about ``key`` (``conversation:12``) until ``until``."""
    row, _created = Mute.objects.update_or_create(
        user=user, key=key, defaults={"until": until}
    )
    _audit(user, "delivery.muted", "mute", row.pk, {"key": key})
    return row


def unmute(user: User, key: str) -> None:
    """Lift a mute."""
    if Mute.objects.filter(user=user, key=key).delete()[0]:
        _audit(user, "delivery.unmuted", "user", user.pk, {"key": key})


def mark_seen(user: User, stream: str, offsets: list[int]) -> int:
    """Record that an open, visible tab of ``user`` showed these events.

    Pending pushes about them are then dropped ("already seen"). Returns how
    many notifications changed. Unknown streams or offsets change nothing.
    """
    if not offsets:
        return 0
    changed = Notification.objects.filter(
        user=user,
        event__stream__name=stream,
        event__offset__in=offsets[:500],
        seen_at__isnull=True,
    ).update(seen_at=timezone.now())
    if changed:
        _audit(user, "notifications.seen", "user", user.pk, {"count": changed})
    return changed


def unsubscribe_email(user_id: int, scope: str) -> int:
    """One-click unsubscribe (RFC 8058): no more e-mail for ``scope``.

    ``scope`` is a category or ``"all"``; push and in-app choices are kept.
    Returns how many categories changed.
    """
    from hub.delivery.preferences import choices_for

    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return 0
    keys = list(CATEGORIES) if scope == "all" else [scope]
    changed = 0
    with transaction.atomic():
        current = choices_for(user)
        for key in keys:
            choice = current.get(key)
            if choice is None or not (choice.email or choice.digest):
                continue
            Preference.objects.update_or_create(
                user=user,
                category=key,
                defaults={
                    "inapp": choice.inapp,
                    "push": choice.push,
                    "email": False,
                    "digest": Digest.NONE,
                },
            )
            changed += 1
        if changed:
            _audit(user, "email.unsubscribed", "user", user.pk, {"scope": scope})
    return changed


def save_choices(
    user: User, *, preferences: dict[str, str], clock: dict
) -> DeliverySettings:
    """Store what the settings page sent, all or nothing.

    ``preferences`` is ``{category: choice key}`` (each through
    :func:`set_preference`), ``clock`` the fields of :func:`save_settings`.
    Raises :class:`UnknownChoice` (and nothing is stored) for a bad one.
    """
    with transaction.atomic():
        for category, choice_key in preferences.items():
            set_preference(user, category, choice_key)
        row = save_settings(user, **clock)
        _audit(user, "delivery.settings_changed", "user", user.pk)
        return row


def _audit(
    user: User, action: str, target_type: str, target_id: int, detail=None
) -> None:
    """One audit entry about ``user``'s own delivery settings."""
    audit.record(
        actor=user,
        action=action,
        target_type=target_type,
        target_id=target_id,
        subject_id=user.pk,
        detail=detail,
    )
