"""Push deliveries: queued rows in, one pooled send, each outcome recorded.

The worker side of web push: it turns :class:`Delivery` rows into
:class:`hub.delivery.transports.webpush.PushJob`, sends them through one
:class:`hub.delivery.transports.webpush.WebPushTransport`, and writes each
outcome: sent; subscription gone (404/410: the subscription is deleted);
retry later (:data:`hub.delivery.retry.PUSH`: 429 honours Retry-After, 5xx
and timeouts back off exponentially); failed for good. Items the user has
seen in an open tab meanwhile are dropped ("already seen").
"""

import asyncio
import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from django_tasks import task

from core import metrics
from hub.delivery import retry, vapid
from hub.delivery.categories import CATEGORIES
from hub.delivery.models import Delivery, Notification, PushSubscription
from hub.delivery.push_payload import topic_for
from hub.delivery.transports.webpush import PushJob, PushOutcome, WebPushTransport
from hub.delivery.unseen import unseen

Status = Delivery.Status


def message_for(
    note: Notification, *, count: int = 1, titles: list[str] | None = None
) -> dict:
    """Return the JSON the service worker shows (``type: show``).

    ``count`` > 1 makes a morning summary of several held notifications.
    """
    if count > 1:
        with override(settings.LANGUAGE_CODE):
            title = _("%(count)s notifications while you were away") % {"count": count}
        return {
            "type": "show",
            "title": title,
            "body": "\n".join(titles or []),
            "tag": "summary",
            "url": "/notifications/",
            "child": "",
            "school": note.org_name,
            "ts": timezone.now().isoformat(),
        }
    return {
        "type": "show",
        "title": note.title,
        "body": note.body,
        "tag": note.tag,
        "url": note.url,
        "child": note.child_name,
        "school": note.org_name,
        "ts": note.created_at.isoformat(),
    }


def _job(delivery: Delivery, message: dict, urgent: bool) -> PushJob:
    spec = CATEGORIES.get(delivery.notification.category)
    urgency = "high" if urgent else (spec.urgency if spec else "normal")
    assert delivery.subscription is not None  # a push delivery has its device
    return PushJob(
        key=delivery.pk,
        subscription=delivery.subscription.info(),
        message=message,
        ttl=spec.ttl if spec else 3600,
        urgency=urgency,
        topic=topic_for(message.get("tag") or ""),
        vapid_key=delivery.subscription.vapid_public_key,
    )


async def _send(signers, jobs: list[PushJob]) -> list[PushOutcome]:
    async with WebPushTransport(signers, timeout=settings.PUSH_TIMEOUT) as sender:
        return await sender.send_many(jobs)


def send_jobs(jobs: list[PushJob]) -> list[PushOutcome]:
    """Send ``jobs`` with one pooled session (blocking; runs its own loop)."""
    if not jobs:
        return []
    vapid.current_key()  # made on first use
    # Every active key: each subscription is signed with the key it was made
    # with (a push service answers 403 to another one).
    outcomes = asyncio.run(_send(vapid.active_signers(), jobs))
    for outcome in outcomes:
        metrics.PUSHES.labels(outcome.result).inc()
    return outcomes


@task()
def send_pushes(delivery_ids: list[int]) -> dict:
    """The task of :func:`deliver`: defined beside it because a push to
    retry enqueues it again (:func:`record`)."""
    return deliver(delivery_ids)


def deliver(delivery_ids: list[int], now: datetime.datetime | None = None) -> dict:
    """Send the queued or retrying push deliveries ``delivery_ids``.

    Returns ``{result: count}`` (``sent``, ``gone``, ``retry``, ``failed``,
    ``seen``). Rows in another state (sent, suppressed, ...) are skipped, so
    a task run twice sends nothing twice it had recorded.
    """
    now = now or timezone.now()
    rows = list(
        Delivery.objects.filter(
            pk__in=delivery_ids,
            channel="push",
            status__in=[Status.QUEUED, Status.RETRYING],
            subscription__isnull=False,
        ).select_related("notification__event", "subscription")
    )
    fresh = unseen([row.notification for row in rows])
    counts = {"seen": 0}
    jobs = []
    for row in rows:
        if row.notification_id not in fresh:
            _finish(row, Status.SUPPRESSED, _("already seen in an open tab"))
            counts["seen"] += 1
            continue
        jobs.append(_job(row, message_for(row.notification), row.notification.urgent))
    by_pk = {row.pk: row for row in rows}
    for outcome in send_jobs(jobs):
        record(by_pk[outcome.key], outcome, now)
        counts[outcome.result] = counts.get(outcome.result, 0) + 1
    return counts


def _finish(row: Delivery, status: str, reason: str = "", **fields) -> None:
    row.status = status
    row.reason = reason[:300]
    for name, value in fields.items():
        setattr(row, name, value)
    row.save(update_fields=["status", "reason", "updated_at", *fields])


def record(row: Delivery, outcome: PushOutcome, now: datetime.datetime) -> None:
    """Write one push outcome on its delivery (and its subscription)."""
    assert row.subscription_id is not None  # a push delivery has its device
    attempts = row.attempts + 1
    status_text = f"HTTP {outcome.status}" if outcome.status else ""
    reason = " ".join(part for part in (status_text, outcome.reason) if part)
    if outcome.result == "sent":
        _finish(
            row,
            Status.SENT,
            reason if outcome.shrunk else "",
            attempts=attempts,
            sent_at=now,
        )
        PushSubscription.objects.filter(pk=row.subscription_id).update(
            last_success_at=now
        )
    elif outcome.result == "gone":
        _finish(
            row,
            Status.FAILED,
            _("subscription expired (%(why)s): removed") % {"why": reason},
            attempts=attempts,
        )
        PushSubscription.objects.filter(pk=row.subscription_id).delete()
    else:
        assert outcome.error is not None  # anything but "sent" has one
        delay = retry.PUSH.after(attempts, outcome.error)
        if delay is not None:
            when = now + delay
            _finish(
                row, Status.RETRYING, reason, attempts=attempts, next_attempt_at=when
            )
            send_pushes.using(run_after=when).enqueue([row.pk])
        elif outcome.result == "retry":
            _finish(
                row,
                Status.FAILED,
                _("gave up after %(n)s attempts: %(why)s")
                % {"n": attempts, "why": reason},
                attempts=attempts,
                next_attempt_at=None,
            )
        else:
            _finish(row, Status.FAILED, reason, attempts=attempts, next_attempt_at=None)


def release_held(now: datetime.datetime | None = None) -> int:
    """Send the pushes held for quiet hours whose night is over.

    One device with several held notifications gets one summary push; items
    seen meanwhile are dropped. Returns how many deliveries were settled.
    """
    import uuid

    now = now or timezone.now()
    due = Delivery.objects.filter(
        channel="push",
        status=Status.HELD,
        next_attempt_at__lte=now,
        subscription__isnull=False,
    )
    # Claim in one statement: of two schedulers, each row goes to one.
    token = f"releasing {uuid.uuid4().hex}"
    due.update(status=Status.QUEUED, reason=token)
    rows = list(
        Delivery.objects.filter(status=Status.QUEUED, reason=token)
        .select_related("notification__event", "subscription")
        .order_by("pk")
    )
    if not rows:
        return 0
    fresh = unseen([row.notification for row in rows])
    by_device: dict[int | None, list[Delivery]] = {}
    for row in rows:
        if row.notification_id not in fresh:
            _finish(
                row, Status.SUPPRESSED, _("already seen before the end of quiet hours")
            )
            continue
        by_device.setdefault(row.subscription_id, []).append(row)
    jobs, groups = [], {}
    for group in by_device.values():
        first = group[-1]
        if len(group) == 1:
            message = message_for(first.notification)
        else:
            message = message_for(
                first.notification,
                count=len(group),
                titles=[row.notification.title for row in group[-5:]],
            )
        urgent = any(row.notification.urgent for row in group)
        jobs.append(_job(first, message, urgent))
        groups[first.pk] = group
    for outcome in send_jobs(jobs):
        group = groups[outcome.key]
        if len(group) == 1:
            record(group[0], outcome, now)
            continue
        # One wait for the whole group: the retry is still one summary.
        error = outcome.error
        delay = retry.PUSH.wait(
            max(row.attempts for row in group) + 1,
            None if error is None else error.retry_after,
        )
        for row in group:
            attempts = row.attempts + 1
            if outcome.result == "sent":
                _finish(
                    row,
                    Status.SENT,
                    _("in the summary after quiet hours"),
                    attempts=attempts,
                    sent_at=now,
                )
            elif outcome.result == "retry" and not retry.PUSH.gives_up(attempts):
                # Held again, all together: the retry is still one summary.
                _finish(
                    row,
                    Status.HELD,
                    _("summary after quiet hours, will retry: %(why)s")
                    % {"why": outcome.reason},
                    attempts=attempts,
                    next_attempt_at=now + delay,
                )
            else:
                record(row, outcome, now)
    return len(rows)


def withdraw(
    user_id: int, tags: list[str], now: datetime.datetime | None = None
) -> int:
    """Close ``tags`` on every device of a user: the items were read elsewhere.

    Marks the notifications seen, drops their pending pushes, and sends one
    ``close`` push per device that was shown one of them. Returns the number
    of devices told.
    """
    now = now or timezone.now()
    notes = Notification.objects.filter(user_id=user_id, tag__in=tags)
    notes.filter(seen_at__isnull=True).update(seen_at=now)
    Delivery.objects.filter(
        notification__in=notes,
        channel="push",
        status__in=[Status.QUEUED, Status.HELD, Status.RETRYING],
    ).update(
        status=Status.SUPPRESSED, reason=_("read on another device"), updated_at=now
    )
    shown = (
        Delivery.objects.filter(
            notification__in=notes,
            channel="push",
            status=Status.SENT,
            subscription__isnull=False,
            sent_at__gte=now - datetime.timedelta(days=2),
        )
        .values_list("subscription_id", flat=True)
        .distinct()
    )
    subs = list(PushSubscription.objects.filter(pk__in=list(shown)))
    jobs = [
        PushJob(
            key=sub.pk,
            subscription=sub.info(),
            message={"type": "close", "tags": tags},
            ttl=3600,
            urgency="low",
            vapid_key=sub.vapid_public_key,
            # The same Topic replaces a "show" push still waiting at the push
            # service (RFC 8030 §5.4): an offline phone never shows it.
            topic=topic_for(tags[0]) if len(tags) == 1 else "",
        )
        for sub in subs
    ]
    for outcome in send_jobs(jobs):
        if outcome.result == "gone":
            PushSubscription.objects.filter(pk=outcome.key).delete()
    return len(jobs)
