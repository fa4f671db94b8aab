"""Event kinds course documents emit: ``documents.item`` (added, new version)
and ``documents.removed``.

Where they go (``core.documents.actions``): an item guardians may see goes on
its class's ``class:<id>`` stream; an item hidden from guardians goes on the
``user:<id>`` streams of the class's pupils and teachers instead (guardians
read ``class:`` streams: a hidden document must reach them neither live nor
in their digest); a course space's items go on its teachers' ``user:``
streams. A teacher showing or hiding an item afterwards sends ``added`` or
``removed`` to the guardians' ``user:`` streams only (pupils and teachers
keep it and are not told again). Payloads hold only what teachers wrote (titles, folder names) and
file facts: no pupil's data.
"""

import datetime
from typing import Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel

from hub.events import HubEvent, Notice


class ItemData(BaseModel):
    """An item as the documents page draws it (times ISO 8601)."""

    id: int
    space: str  # "class:<id>" or "course:<id>"
    folder_id: int | None
    kind: str  # "file" or "link"
    title: str
    url: str  # a link's address; "" for a file
    version_id: int | None  # the newest version (its download)
    mime: str
    size: int
    versions: int
    guardians_may_see: bool
    updated_at: str
    author: str


class _ItemEvent(HubEvent):
    """``space_title`` names the class ("4e B") or the course; ``subject`` the
    class's course ("Histoire-géo", "" for a homeroom without one or a
    course space)."""

    org_id: int
    space_title: str
    subject: str
    item: ItemData
    actor_id: int | None = None


class ItemRemoved(_ItemEvent):
    """A document was deleted: open pages take it out; no notification."""

    kind = "documents.removed"
    notify = False
    op: Literal["removed"]


class ItemChanged(_ItemEvent):
    """A document was added or got a new version (notified, digested)."""

    kind = "documents.item"
    category = "documents"
    op: Literal["added", "new_version"]

    def notice(self, created_at: datetime.datetime) -> Notice:
        """New document or version (French: "Nouveau document en Histoire-géo
        (4e B) : …")."""
        values = {
            "subject": self.subject,
            "space": self.space_title,
            "title": self.item.title,
        }
        if self.op == "added":
            title = (
                _("New document in %(subject)s (%(space)s): %(title)s")
                if self.subject
                else _("New document in %(space)s: %(title)s")
            )
        else:
            title = (
                _("New version in %(subject)s (%(space)s): %(title)s")
                if self.subject
                else _("New version in %(space)s: %(title)s")
            )
        kind, _sep, space_id = self.item.space.partition(":")
        return Notice(
            title=title % values,
            url=f"/documents/{kind}/{space_id}/"
            + (f"?folder={self.item.folder_id}" if self.item.folder_id else ""),
            tag=f"document-{self.item.id}",
            org_id=self.org_id,
            actor_id=self.actor_id,
        )
