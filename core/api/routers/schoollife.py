"""``/api/v1/schoollife``: school-life notices ("Informations") addressed to
the user, and acknowledging one ("J'ai pris connaissance") with its answer.

Who reads a notice is ``core.schoollife.access`` (a member of its audience
now: a guardian whose link ends loses it at once); acknowledging is
``core.schoollife.actions.acknowledge`` (its audit row and the staff's
event as on the site). Publishing and the acknowledgement lists stay on
the site.
"""

import datetime as dt
from typing import TYPE_CHECKING, Literal

from ninja import Router, Schema
from pydantic import Field

from core.api.auth import READ, WRITE
from core.api.schemas import Error, answers, refused
from core.messaging.render import render_message
from core.schoollife import access, actions
from core.schoollife.models import Acknowledgement, Notice

# As a literal (a model's enum would share its schema name with another
# module's); mypy sees a plain string: it cannot read a Literal built this way.
if TYPE_CHECKING:
    ReplyKind = str
else:
    ReplyKind = Literal[tuple(Notice.ReplyKind.values)]

router = Router(tags=["schoollife"])


class NoticeAttachmentOut(Schema):
    id: int
    name: str
    size: int
    mime: str


class AcknowledgementOut(Schema):
    notice_id: int
    acknowledged_at: dt.datetime
    reply: str


class NoticeOut(Schema):
    id: int
    org_id: int
    org: str
    title: str
    text: str = Field(description="The text as written (markdown subset).")
    html: str = Field(description="The text drawn as the site does (sanitised).")
    urgent: bool
    published_at: dt.datetime
    edited_at: dt.datetime | None
    requires_ack: bool
    reply_kind: ReplyKind
    reply_options: list[str]
    acknowledgement: AcknowledgementOut | None
    attachments: list[NoticeAttachmentOut]


class NoticesOut(Schema):
    notices: list[NoticeOut]


class AckIn(Schema):
    reply: str = Field(
        "",
        max_length=100,
        description="yes_no: `yes` or `no`; choice: one of `reply_options`.",
    )


def _ack(ack: Acknowledgement | None) -> AcknowledgementOut | None:
    if ack is None:
        return None
    return AcknowledgementOut(
        notice_id=ack.notice_id, acknowledged_at=ack.acknowledged_at, reply=ack.reply
    )


def _notice(notice: Notice, ack: Acknowledgement | None) -> NoticeOut:
    assert notice.published_at is not None  # only published notices are read
    return NoticeOut(
        id=notice.pk,
        org_id=notice.org_id,
        org=notice.org.name,
        title=notice.title,
        text=notice.body,
        html=str(render_message(notice.body)),
        urgent=notice.urgent,
        published_at=notice.published_at,
        edited_at=notice.edited_at,
        requires_ack=notice.requires_ack,
        reply_kind=notice.reply_kind,
        reply_options=list(notice.reply_options or []),
        acknowledgement=_ack(ack),
        attachments=[
            NoticeAttachmentOut(id=a.pk, name=a.name, size=a.size, mime=a.mime)
            for a in notice.attachments.all()
        ],
    )


@router.get("/notices", response=answers(NoticesOut), auth=READ)
def notices(request):
    """The live notices addressed to the user now (the 60 most recent),
    newest first, each with the user's acknowledgement (``null``: none
    yet). Files are downloaded from the site."""
    user = request.auth
    found = access.notices_for(user)
    acks = {
        ack.notice_id: ack
        for ack in Acknowledgement.objects.filter(user=user, notice__in=found)
    }
    return NoticesOut(notices=[_notice(n, acks.get(n.pk)) for n in found])


@router.post(
    "/notices/{notice_id}/acknowledgement",
    response={**answers(AcknowledgementOut), 409: Error},
    auth=WRITE,
)
def acknowledge(request, notice_id: int, payload: AckIn):
    """Acknowledge a notice that asks for it, with the answer it asks for;
    acknowledging again answers the first acknowledgement. 404 for a notice
    not addressed to the user; 409 ``refused`` when no acknowledgement is
    asked, the answer is not one of those offered, or it was withdrawn."""
    notice = access.get_notice_for_reader(request.auth, notice_id)
    try:
        ack, _created = actions.acknowledge(
            notice=notice, user=request.auth, reply=payload.reply
        )
    except actions.NoticeError as error:
        raise refused(error) from None
    return _ack(ack)
