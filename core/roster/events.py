"""Event kinds the roster import emits (``notify=False``: they update open
pages, they are not notifications).

- ``roster.membership`` to the member's ``user:<id>`` and, for a pupil, to
  each guardian's: a class joined or left.
- ``roster.guardian_link`` to the guardian's ``user:<id>``: a child added or
  no longer in their care.
- ``roster.import`` to the admin who started an import: its progress.
"""

from typing import Literal

from hub.events import HubEvent


class MembershipChanged(HubEvent):
    """``user_id`` joined (``added``) or left (``ended``) class ``class_id``
    as ``role`` (``student`` or ``teacher``)."""

    kind = "roster.membership"
    notify = False
    op: Literal["added", "ended"]
    user_id: int
    class_id: int
    class_title: str
    role: str


class GuardianLinkChanged(HubEvent):
    """``guardian_id`` is (``added``) or no longer is (``ended``) a legal
    guardian of ``student_id``."""

    kind = "roster.guardian_link"
    notify = False
    op: Literal["added", "ended"]
    guardian_id: int
    student_id: int
    student_name: str
    relationship: str


class RosterImportProgress(HubEvent):
    """Where the import ``import_id`` stands.

    ``status`` is the ``RosterImport.Status``; ``progress`` out of ``total``
    counts bytes read while ``summary["phase"]`` is ``"reading"``, then
    records applied (``"applying"``); ``summary`` of a ``done`` event is the
    report's counts per kind (``ImportReport.as_dict()["counts"]``).
    """

    kind = "roster.import"
    notify = False
    op: Literal["progress", "done", "failed"]
    import_id: int
    status: str
    progress: int
    total: int
    summary: dict
