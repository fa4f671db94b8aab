"""Event kinds of school-life publications.

- ``schoollife.notice`` (published, changed, withdrawn) on the ``user:``
  streams of exactly the audience's members at that moment (never a class
  or org stream: the audience is narrower). Category ``announcement``; an
  urgent notice passes quiet hours (``Notice.urgent``).
- ``schoollife.ack`` on the ``user:`` streams of the org's school-life staff
  and the author: which notice, and the member's classes in its audience;
  open acknowledgement pages fetch their fresh counts. Not a notification. Never on ``org:``
  (pupils read it) nor to families.
- ``schoollife.reminder`` on the ``user:`` streams of the members who have
  not acknowledged: category ``announcement``.
"""

import datetime
from typing import Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel

from hub.events import HubEvent, Notice


class NoticeData(BaseModel):
    """A notice as live pages need it (pages draw the body themselves)."""

    id: int
    org_id: int
    title: str
    urgent: bool
    requires_ack: bool
    edited_at: str | None = None


class NoticeChanged(HubEvent):
    """A notice was published, changed after publication, or withdrawn."""

    kind = "schoollife.notice"
    category = "announcement"
    op: Literal["published", "changed", "withdrawn"]
    item: NoticeData
    actor_id: int | None = None  # None: published by the scheduler

    def notice(self, created_at: datetime.datetime) -> Notice:
        """ "Information : …" ("Information urgente : …"), changed, withdrawn."""
        values = {"title": self.item.title}
        if self.op == "withdrawn":
            title = _("Notice withdrawn: %(title)s") % values
        elif self.op == "changed":
            title = _("Notice changed: %(title)s") % values
        elif self.item.urgent:
            title = _("Urgent notice: %(title)s") % values
        else:
            title = _("Notice: %(title)s") % values
        return Notice(
            title=title,
            body=_("Please acknowledge it.") if self.item.requires_ack else "",
            url=f"/schoollife/{self.item.id}/",
            tag=f"schoollife-{self.item.id}",
            org_id=self.item.org_id,
            urgent=self.item.urgent and self.op != "withdrawn",
            actor_id=self.actor_id,
        )


class AckChanged(HubEvent):
    """A member acknowledged a notice (staff pages fetch the counts)."""

    kind = "schoollife.ack"
    notify = False
    op: Literal["acknowledged"]
    notice_id: int
    org_id: int
    class_ids: list[int]  # the member's classes in the audience


class NoticeReminder(HubEvent):
    """Staff reminded the members who have not acknowledged a notice."""

    kind = "schoollife.reminder"
    category = "announcement"
    op: Literal["remind"]
    item: NoticeData
    actor_id: int

    def notice(self, created_at: datetime.datetime) -> Notice:
        """ "À lire et confirmer : …"."""
        return Notice(
            title=_("Reminder, to acknowledge: %(title)s") % {"title": self.item.title},
            url=f"/schoollife/{self.item.id}/",
            tag=f"schoollife-{self.item.id}",
            org_id=self.item.org_id,
            urgent=self.item.urgent,
            actor_id=self.actor_id,
        )
