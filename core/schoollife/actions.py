"""School-life notice writes. Each action writes its rows, logs them and
emits its events (rules documented here, tested in tests/schoollife).

- **Audience**: one school (the publisher's own), roles, levels, classes of
  that school (``core.roster.audience``); a class of another school, an
  unknown role or level is refused with a message.
- **Scheduled publication**: ``publish_at`` in the future keeps the notice
  unpublished (no event, only staff see it); :func:`publish_due` (the
  scheduler, every minute) publishes it once, even with two schedulers (a
  conditional update), and never once withdrawn.
- **Events** go to the ``user:`` streams of the audience's members *at
  that moment*, in one ``send_event`` call (one event, many stream rows).
- **Acknowledgement**: one per member per notice (the unique constraint,
  no lock on the notice): concurrent clicks make one row and tell staff
  once; the event names the member's classes, staff pages fetch the counts.
  With a reply kind, the answer is required and checked (yes/no, or one of
  the options). An acknowledgement is final.
- **Reminder**: one per reminder action (its token, unique per notice): a
  double click or a resent form reminds once; it reaches the members who
  have not acknowledged, never those who have.
- **Changes** after publication set ``edited_at`` and tell the members
  (``changed``); a **withdrawal** is soft and tells them (``withdrawn``).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import hub
from core.audit import log as audit
from core.homework import uploads
from core.homework.uploads import CheckedFile
from core.roster import audience as audiences
from core.roster.access import school_life_staff
from core.roster.models import Org, User
from core.schoollife import access
from core.schoollife.events import (
    AckChanged,
    NoticeChanged,
    NoticeData,
    NoticeReminder,
)
from core.schoollife.models import (
    MAX_BODY,
    MAX_OPTIONS,
    Acknowledgement,
    Notice,
    Reminder,
)
from hub.streams import user_stream

MAX_OPTION_LENGTH = 100
YES_NO = ("yes", "no")


class NoticeError(ValueError):
    """A request the rules refuse; ``str(error)`` is a message for the user."""


def check_audience(org: Org, data: dict) -> audiences.Audience:
    """Return the :class:`Audience` of ``data`` (roles, levels, classes) in
    ``org`` (``audience.check``), or raise :class:`NoticeError`."""
    try:
        return audiences.check(
            org.pk, data.get("roles"), data.get("levels"), data.get("classes")
        )
    except audiences.AudienceError as error:
        raise NoticeError(str(error)) from None


def _check_reply(reply_kind: str, options) -> list[str]:
    if reply_kind not in Notice.ReplyKind.values:
        raise NoticeError(_("Unknown kind of answer."))
    if reply_kind != Notice.ReplyKind.CHOICE:
        return []
    cleaned = []
    for option in options or []:
        option = " ".join(str(option).split())
        if option and option not in cleaned:
            cleaned.append(option[:MAX_OPTION_LENGTH])
    if not 2 <= len(cleaned) <= MAX_OPTIONS:
        raise NoticeError(_("Give between 2 and 6 options to choose from."))
    return cleaned


def _check_text(title: str, body: str) -> tuple[str, str]:
    title = " ".join((title or "").split())
    body = (body or "").strip()
    if not title:
        raise NoticeError(_("Give the notice a title."))
    if len(title) > 200:
        raise NoticeError(_("The title is too long (200 characters at most)."))
    if len(body) > MAX_BODY:
        raise NoticeError(_("The text is too long (10,000 characters at most)."))
    return title, body


def notice_data(notice: Notice) -> NoticeData:
    return NoticeData(
        id=notice.pk,
        org_id=notice.org_id,
        title=notice.title,
        urgent=notice.urgent,
        requires_ack=notice.requires_ack,
        edited_at=notice.edited_at.isoformat() if notice.edited_at else None,
    )


def member_streams(notice: Notice) -> list[str]:
    """The ``user:`` streams of the notice's audience members now."""
    return [user_stream(pk) for pk in audiences.members(access.audience_of(notice))]


def _emit(
    notice: Notice,
    op: Literal["published", "changed", "withdrawn"],
    actor: User | None,
) -> None:
    hub.send_event(
        member_streams(notice),
        NoticeChanged(
            op=op, item=notice_data(notice), actor_id=actor.pk if actor else None
        ),
    )


def _audit(actor, action: str, notice: Notice, **detail) -> None:
    audit.record(
        actor=actor,
        action=action,
        target_type="notice",
        target_id=notice.pk,
        org_id=notice.org_id,
        detail=detail or None,
    )


def _save_attachments(notice: Notice, checked: list[CheckedFile]) -> None:
    try:
        uploads.save_attachments(notice.attachments, checked)
    except uploads.TooManyFiles:
        raise NoticeError(_("At most 5 files per notice.")) from None


def publish_notice(
    *,
    author: User,
    org: Org,
    title: str,
    body: str = "",
    audience: dict,
    attachments: Sequence[CheckedFile] = (),
    publish_at: dt.datetime | None = None,
    urgent: bool = False,
    requires_ack: bool = False,
    reply_kind: str = Notice.ReplyKind.NONE,
    reply_options=(),
    now: dt.datetime | None = None,
) -> Notice:
    """Publish a notice now (event ``published`` to its members) or at
    ``publish_at``. Raises :class:`NoticeError` when ``author`` does not
    publish for ``org`` or the input breaks a rule."""
    now = now or timezone.now()
    if not access.publishing_orgs(author).filter(pk=org.pk).exists():
        raise NoticeError(_("You do not publish for this school."))
    title, body = _check_text(title, body)
    checked = check_audience(org, audience)
    options = _check_reply(reply_kind, reply_options)
    if reply_kind != Notice.ReplyKind.NONE:
        requires_ack = True
    publish_at = publish_at or now
    with transaction.atomic():
        notice = Notice.objects.create(
            org=org,
            author=author,
            title=title,
            body=body,
            audience=checked.to_json(),
            urgent=urgent,
            requires_ack=requires_ack,
            reply_kind=reply_kind,
            reply_options=options,
            publish_at=publish_at,
            published_at=now if publish_at <= now else None,
        )
        _save_attachments(notice, list(attachments))
        _audit(
            author,
            "notice.published" if notice.published_at else "notice.scheduled",
            notice,
            audience=notice.audience,
        )
        if notice.published_at:
            _emit(notice, "published", author)
    return notice


def change_notice(
    *,
    notice: Notice,
    actor: User,
    title: str,
    body: str,
    urgent: bool,
    now: dt.datetime | None = None,
) -> Notice:
    """Change the title, text or urgency; after publication ``edited_at``
    and event ``changed``. The caller checked ``access.get_notice_for_staff``."""
    now = now or timezone.now()
    title, body = _check_text(title, body)
    with transaction.atomic():
        locked = Notice.objects.select_for_update().get(pk=notice.pk)
        if locked.withdrawn_at:
            raise NoticeError(_("This notice was withdrawn."))
        locked.title, locked.body, locked.urgent = title, body, urgent
        if locked.published_at:
            locked.edited_at = now
        locked.save(update_fields=["title", "body", "urgent", "edited_at"])
        _audit(actor, "notice.changed", locked)
        if locked.published_at:
            _emit(locked, "changed", actor)
    return locked


def withdraw_notice(
    *, notice: Notice, actor: User, now: dt.datetime | None = None
) -> Notice:
    """Withdraw a notice (soft); event ``withdrawn`` if it had been published."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Notice.objects.select_for_update().get(pk=notice.pk)
        if locked.withdrawn_at:
            return locked
        locked.withdrawn_at = now
        locked.save(update_fields=["withdrawn_at"])
        _audit(actor, "notice.withdrawn", locked)
        if locked.published_at:
            _emit(locked, "withdrawn", actor)
    return locked


def publish_due(now: dt.datetime | None = None) -> int:
    """Publish every planned notice whose ``publish_at`` has come; return
    how many. Each is published (and announced) once: ``published_at`` is
    set by a conditional update, so two schedulers cannot both announce it."""
    now = now or timezone.now()
    due = list(
        Notice.objects.filter(
            published_at__isnull=True, withdrawn_at__isnull=True, publish_at__lte=now
        ).values_list("pk", flat=True)
    )
    published = 0
    for pk in due:
        with transaction.atomic():
            won = Notice.objects.filter(
                pk=pk, published_at__isnull=True, withdrawn_at__isnull=True
            ).update(published_at=now)
            if not won:
                continue
            notice = Notice.objects.get(pk=pk)
            _audit(None, "notice.published", notice, scheduled=True)
            _emit(notice, "published", None)
            published += 1
    return published


def scheduled_jobs(now: dt.datetime | None = None) -> dict:
    """The school-life jobs of the scheduler: planned publications."""
    return {"published": publish_due(now)}


# Acknowledgements ------------------------------------------------------------


def counts(notices: list[Notice]) -> list[tuple[int, int]]:
    """``(acknowledged, total)`` of each notice among its members now: the
    audiences' members read together, the acknowledgements in one query."""
    notices = list(notices)
    reached = audiences.members_of_each([access.audience_of(n) for n in notices])
    acked: dict[int, set[int]] = defaultdict(set)
    for notice_id, user_id in Acknowledgement.objects.filter(
        notice__in=notices
    ).values_list("notice_id", "user_id"):
        acked[notice_id].add(user_id)
    return [
        (len(acked[notice.pk] & set(members)), len(members))
        for notice, members in zip(notices, reached, strict=True)
    ]


def _check_answer(notice: Notice, reply: str) -> str:
    reply = (reply or "").strip()
    if notice.reply_kind == Notice.ReplyKind.YES_NO and reply not in YES_NO:
        raise NoticeError(_("Answer yes or no."))
    if (
        notice.reply_kind == Notice.ReplyKind.CHOICE
        and reply not in notice.reply_options
    ):
        raise NoticeError(_("Choose one of the options."))
    return reply if notice.reply_kind != Notice.ReplyKind.NONE else ""


def staff_streams(notice: Notice) -> list[str]:
    """The ``user:`` streams that follow a notice's acknowledgements: the
    org's school-life staff holding the permission, and the author."""
    staff = set(
        school_life_staff(notice.org_id, access.STAFF_PERMISSION).values_list(
            "pk", flat=True
        )
    )
    return [user_stream(pk) for pk in sorted(staff | {notice.author_id})]


def acknowledge(
    *, notice: Notice, user: User, reply: str = "", now: dt.datetime | None = None
) -> tuple[Acknowledgement, bool]:
    """``user`` acknowledges ``notice`` (with ``reply`` when one is asked);
    return the row and whether it was made now. Event ``acknowledged`` (the
    counts) to the staff when it was. The caller checked ``access.reads``."""
    now = now or timezone.now()
    if not notice.requires_ack:
        raise NoticeError(_("No acknowledgement is asked for this notice."))
    reply = _check_answer(notice, reply)
    with transaction.atomic():
        # No lock on the notice: the unique constraint makes one row per
        # member (a concurrent click waits for the first and fails here).
        current = Notice.objects.get(pk=notice.pk)
        if not current.live:
            raise NoticeError(_("This notice was withdrawn."))
        try:
            with transaction.atomic():
                ack = Acknowledgement.objects.create(
                    notice=current, user=user, acknowledged_at=now, reply=reply
                )
        except IntegrityError:
            return Acknowledgement.objects.get(notice=current, user=user), False
        audit.record(
            actor=user,
            action="notice.acknowledged",
            target_type="notice",
            target_id=current.pk,
            org_id=current.org_id,
            detail={"reply": reply} if reply else None,
        )
        # The classes through which the member is reached, not the counts:
        # the staff's open page fetches its fresh counts (reading the whole
        # audience once per click would not scale to a school's families).
        class_ids = audiences.standing_of(user).classes_in(access.audience_of(current))
        hub.send_event(
            staff_streams(current),
            AckChanged(
                op="acknowledged",
                notice_id=current.pk,
                org_id=current.org_id,
                class_ids=class_ids,
            ),
        )
    return ack, True


def remind(
    *, notice: Notice, actor: User, token: str, now: dt.datetime | None = None
) -> int:
    """Remind the members who have not acknowledged ``notice``; return how
    many were reminded (0 when this action ``token`` was already done).
    One event, to each of their ``user:`` streams. The caller checked
    ``access.get_notice_for_staff``."""
    now = now or timezone.now()
    token = (token or "").strip()[:64]
    if not token:
        raise NoticeError(_("Malformed request."))
    if not notice.requires_ack:
        raise NoticeError(_("No acknowledgement is asked for this notice."))
    with transaction.atomic():
        locked = Notice.objects.select_for_update().get(pk=notice.pk)
        if not locked.live:
            raise NoticeError(_("This notice is not published."))
        if Reminder.objects.filter(notice=locked, token=token).exists():
            return 0
        acked = set(
            Acknowledgement.objects.filter(notice=locked).values_list(
                "user_id", flat=True
            )
        )
        waiting = sorted(set(audiences.members(access.audience_of(locked))) - acked)
        Reminder.objects.create(
            notice=locked,
            token=token,
            sent_by=actor,
            sent_at=now,
            recipients=len(waiting),
        )
        _audit(actor, "notice.reminded", locked, recipients=len(waiting))
        if waiting:
            hub.send_event(
                [user_stream(pk) for pk in waiting],
                NoticeReminder(
                    op="remind", item=notice_data(locked), actor_id=actor.pk
                ),
            )
    return len(waiting)
