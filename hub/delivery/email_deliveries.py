"""E-mail deliveries through the at-most-once ledger (ARCHITECTURE.md P5).

Every mail is an :class:`EmailSend` row, unique per user and period
(``now:<notification>``, ``daily:<date>``, ``weekly:<year>-W<week>``), so two
schedulers cannot create the same digest twice. A worker claims rows with a
conditional UPDATE (``pending`` → ``claimed``, with a lease); just before a
mail is handed to SMTP its row becomes ``sending``; the SMTP answer makes it
``sent``, ``failed`` (refused), ``pending`` again (temporary refusal, or the
connection broke before the content was handed over) or ``uncertain`` (the
content was handed over but no answer came: the server may have accepted it,
so it is never sent again). :func:`recover` settles rows of workers that died:
``claimed`` → ``pending``, ``sending`` → ``uncertain``.
"""

import asyncio
import datetime
import socket
import uuid
from email.utils import parseaddr

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from core import metrics
from core.roster.models import User
from hub.delivery import (
    digest_periods,
    retry,
    zones,
)
from hub.delivery.email_contents import notification_for
from hub.delivery.email_message import make_message_id
from hub.delivery.models import Channel, Delivery, EmailSend
from hub.delivery.preferences import school_zone, settings_of
from hub.delivery.transports.email import EmailTransport
from hub.delivery.transports.smtp_wire import OutgoingMail
from hub.delivery.unseen import unseen

State = EmailSend.State
Status = Delivery.Status
LEASE = datetime.timedelta(minutes=10)


def worker_id() -> str:
    """A name for this worker process in the ledger (host, pid, random)."""
    import os

    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(send_ids: list[int], worker: str, now: datetime.datetime) -> list[int]:
    """Claim the pending sends among ``send_ids`` for ``worker``; return their pks."""
    ready = EmailSend.objects.filter(pk__in=send_ids, state=State.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    ready.update(state=State.CLAIMED, worker=worker, lease_until=now + LEASE)
    return list(
        EmailSend.objects.filter(
            pk__in=send_ids, state=State.CLAIMED, worker=worker
        ).values_list("pk", flat=True)
    )


def _prepare(send_ids: list[int], now) -> tuple[list[OutgoingMail], dict]:
    sends = {
        s.pk: s
        for s in EmailSend.objects.filter(pk__in=send_ids).select_related("user")
    }
    rows = list(
        Delivery.objects.filter(email__in=send_ids, status=Status.QUEUED)
        .select_related("notification__event")
        .order_by("notification__created_at")
    )
    fresh = unseen([row.notification for row in rows])
    by_send: dict[int | None, list[Delivery]] = {}
    for row in rows:
        if row.notification_id in fresh:
            by_send.setdefault(row.email_id, []).append(row)
        else:
            row.status, row.reason = (
                Status.SUPPRESSED,
                _("already read before the e-mail left"),
            )
            row.save(update_fields=["status", "reason", "updated_at"])
    users = [s.user for s in sends.values()]
    clocks = settings_of(users)
    outgoing, kept = [], {}
    for pk, send in sends.items():
        zone = zones.zone_of(clocks[send.user_id], school_zone(send.user))
        if not send.message_id:
            send.message_id = make_message_id(send.user_id, send.period)
            EmailSend.objects.filter(pk=pk).update(message_id=send.message_id)
        email = notification_for(send, by_send.get(pk, []), zone)
        try:
            message = None if email is None else email.message()
        except ValueError as error:  # e.g. an address SMTP cannot carry
            metrics.EMAILS.labels("invalid").inc()
            EmailSend.objects.filter(pk=pk).update(
                state=State.FAILED, lease_until=None, error=str(error)[:500]
            )
            _settle_deliveries(by_send.get(pk, []), Status.FAILED, str(error), now)
            continue
        if email is None or message is None or not send.user.email:
            EmailSend.objects.filter(pk=pk).update(state=State.EMPTY, lease_until=None)
            continue
        outgoing.append(
            OutgoingMail(
                key=pk,
                sender=parseaddr(email.from_email)[1],
                recipients=email.recipients(),
                message=message,
            )
        )
        kept[pk] = by_send.get(pk, [])
    return outgoing, kept


def _settle_deliveries(rows: list[Delivery], status: str, reason: str, now) -> None:
    Delivery.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=status,
        reason=reason[:300],
        updated_at=now,
        attempts=F("attempts") + 1,
        sent_at=now if status == Status.SENT else None,
    )


@task()
def send_emails(send_ids: list[int]) -> dict:
    """The task of :func:`send`: defined beside it because a temporary
    refusal, :func:`recover` and :func:`schedule_digests` enqueue it."""
    return send(send_ids)


def send(send_ids: list[int], now: datetime.datetime | None = None) -> dict:
    """Claim, compose and send the e-mails ``send_ids``; record every outcome.

    Returns ``{outcome: count}``. Safe to run twice or concurrently: only
    rows this call claimed are sent.
    """
    now = now or timezone.now()
    worker = worker_id()
    claimed = claim(send_ids, worker, now)
    if not claimed:
        return {}
    outgoing, deliveries = _prepare(claimed, now)
    counts: dict[str, int] = {}
    retry_at: list[datetime.datetime] = []

    def mark_sending(keys):
        EmailSend.objects.filter(
            pk__in=list(keys), worker=worker, state=State.CLAIMED
        ).update(state=State.SENDING)

    def result(key, outcome, reason):
        counts[outcome] = counts.get(outcome, 0) + 1
        metrics.EMAILS.labels(outcome).inc()
        at = timezone.now()
        row = EmailSend.objects.get(pk=key)
        fields = {
            "lease_until": None,
            "attempts": row.attempts + 1,
            "error": reason[:500],
        }
        rows = deliveries.get(key, [])
        if outcome == "sent":
            fields.update(state=State.SENT, sent_at=at, error="")
            _settle_deliveries(rows, Status.SENT, "", at)
        elif outcome == "uncertain":
            fields["state"] = State.UNCERTAIN
            _settle_deliveries(
                rows,
                Status.FAILED,
                _(
                    "no answer after the mail was handed over (%(why)s): maybe delivered, not resent"
                )
                % {"why": reason},
                at,
            )
        elif outcome == "deferred" and not retry.EMAIL.gives_up(row.attempts + 1):
            when = at + retry.EMAIL.wait(row.attempts + 1)
            fields.update(state=State.PENDING, next_attempt_at=when, worker="")
            retry_at.append(when)
            _settle_deliveries(
                rows, Status.QUEUED, _("will retry: %(why)s") % {"why": reason}, at
            )
        else:
            fields["state"] = State.FAILED
            _settle_deliveries(rows, Status.FAILED, reason, at)
        EmailSend.objects.filter(pk=key).update(**fields)

    async def run():
        # One mail per group: a dead worker leaves only its in-flight mail
        # uncertain (see EmailTransport); the rest are safely resent.
        async with EmailTransport.from_settings(group_size=1) as sender:
            await sender.send_many(
                outgoing,
                before_send=sync_to_async(mark_sending),
                on_result=sync_to_async(result),
            )

    if outgoing:
        asyncio.run(run())
    if retry_at:
        send_emails.using(run_after=min(retry_at)).enqueue(
            [
                m.key  # type: ignore[misc]  # OutgoingMail's keys here: EmailSend pks
                for m in outgoing
                if EmailSend.objects.filter(pk=m.key, state=State.PENDING).exists()  # type: ignore[misc]  # idem
            ]
        )
    return counts


def recover(now: datetime.datetime | None = None) -> dict:
    """Settle the sends of dead workers (lease expired); re-enqueue the safe ones.

    ``claimed`` (never handed to SMTP) goes back to ``pending`` and is sent
    again; ``sending`` becomes ``uncertain`` and is not. Returns counts.
    """
    now = now or timezone.now()
    stale = EmailSend.objects.filter(lease_until__lt=now)
    retry = list(stale.filter(state=State.CLAIMED).values_list("pk", flat=True))
    EmailSend.objects.filter(pk__in=retry).update(
        state=State.PENDING, worker="", lease_until=None
    )
    lost = list(stale.filter(state=State.SENDING).values_list("pk", flat=True))
    EmailSend.objects.filter(pk__in=lost).update(
        state=State.UNCERTAIN,
        lease_until=None,
        error="worker stopped while the mail was being handed over",
    )
    Delivery.objects.filter(email__in=lost, status=Status.QUEUED).update(
        status=Status.FAILED,
        updated_at=now,
        reason=_(
            "worker stopped while handing the mail over: maybe delivered, not resent"
        ),
    )
    if retry:
        send_emails.enqueue(retry)
    return {"retried": len(retry), "uncertain": len(lost)}


def schedule_digests(now: datetime.datetime | None = None) -> list[int]:
    """Create the digests that are due and enqueue them; return their pks.

    For each user with queued digest deliveries whose local digest time has
    come (daily at ``digest_hour``; weekly on ``weekly_day``), one
    :class:`EmailSend` per period (unique: two schedulers make one), holding
    every queued delivery of that channel written before the due time.
    """

    now = now or timezone.now()
    waiting = (
        Delivery.objects.filter(
            channel__in=[Channel.DAILY, Channel.WEEKLY],
            status=Status.QUEUED,
            email__isnull=True,
        )
        .values_list("user_id", "channel")
        .distinct()
    )
    pairs = set(waiting)
    if not pairs:
        return []
    users = {u.pk: u for u in User.objects.filter(pk__in={u for u, _c in pairs})}
    clocks = settings_of(list(users.values()))
    created = []
    for user_id, channel in sorted(pairs):
        user = users[user_id]
        zone = zones.zone_of(clocks[user_id], school_zone(user))
        period = (
            digest_periods.daily_period
            if channel == Channel.DAILY
            else digest_periods.weekly_period
        )(clocks[user_id], now, zone)
        if (
            period is None
            or EmailSend.objects.filter(user=user, period=period.key).exists()
        ):
            continue
        try:
            with transaction.atomic():
                send = EmailSend.objects.create(user=user, period=period.key)
                Delivery.objects.filter(
                    user=user,
                    channel=channel,
                    status=Status.QUEUED,
                    email__isnull=True,
                    created_at__lte=period.due,
                ).update(email=send)
        except IntegrityError:
            continue  # another scheduler made this period's digest
        created.append(send.pk)
    if created:
        send_emails.enqueue(created)
    return created
