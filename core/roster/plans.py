"""The plan of a roster import: what :func:`core.roster.sync.plan` decides
and :func:`core.roster.sync.apply` writes through :mod:`core.roster.actions`.

A module of its own because both read it: the writes need the plan's shape,
not the planning.
"""

import datetime as dt
from dataclasses import dataclass, field

from core.roster.models import User
from core.roster.records import (
    ClassRecord,
    CourseRecord,
    OrgRecord,
    PersonRecord,
    SessionRecord,
)
from core.roster.report import ImportReport

# The table of staff memberships (a user's ``orgs``).
Staff = User.orgs.through


@dataclass(slots=True)
class Member:
    """A membership row as the hub holds it (enrollment or guardian link)."""

    pk: int
    sourced_id: str
    user_id: int  # the member, or the guardian
    other_id: int  # the class, or the pupil
    role: str  # the enrollment's role, or the link's relationship
    source: str = ""


@dataclass(slots=True)
class NewMember:
    """A membership to create: ``person`` and ``other`` are source ids (the
    member and the class, or the guardian and the pupil)."""

    sourced_id: str
    person: str
    other: str
    role: str  # the enrollment's role, or the link's relationship


@dataclass(slots=True)
class Group:
    """What one transaction writes: an org's records, or (``org`` None) the
    last transaction's."""

    org: str | None  # the org's sourced_id
    label: str  # its UAI, for messages
    sessions_new: list[SessionRecord] = field(default_factory=list)
    sessions_changed: list[tuple[int, SessionRecord]] = field(default_factory=list)
    courses_new: list[CourseRecord] = field(default_factory=list)
    courses_changed: list[tuple[int, CourseRecord]] = field(default_factory=list)
    classes_new: list[ClassRecord] = field(default_factory=list)
    classes_changed: list[tuple[int, ClassRecord]] = field(default_factory=list)
    people_new: list[tuple[PersonRecord, str, bool]] = field(default_factory=list)
    people_changed: list[tuple[int, dict]] = field(default_factory=list)
    staff_add: list[tuple[str, str]] = field(default_factory=list)  # person, org
    staff_remove: list[tuple[int, int]] = field(default_factory=list)  # pks
    enrollments_end: list[Member] = field(default_factory=list)
    enrollments_rekey: list[tuple[int, str]] = field(default_factory=list)
    enrollments_new: list[NewMember] = field(default_factory=list)
    links_end: list[Member] = field(default_factory=list)
    links_update: list[tuple[int, str, str]] = field(default_factory=list)
    links_new: list[NewMember] = field(default_factory=list)
    deactivate: list[int] = field(default_factory=list)
    records: int = 0  # roster records this group handles (progress)

    def writes(self) -> bool:
        return any(
            getattr(self, name)
            for name in self.__slots__
            if name not in ("org", "label", "records")
        )


@dataclass(slots=True)
class Plan:
    """Everything :func:`~core.roster.sync.apply` writes, and the ids it resolves against.

    ``ids`` maps ``(kind, sourced_id)`` to a primary key for the rows the hub
    already holds; :func:`~core.roster.sync.apply` adds the rows it creates. ``created_users``
    are the accounts :func:`~core.roster.sync.apply` creates: they have never been used, so no
    page of theirs is open to tell (:mod:`core.roster.actions`).
    ``class_titles`` maps class ids to titles (events), ``class_title`` and
    ``class_session`` a class record's title and session in the hub.
    """

    source: str
    mode: str
    orgs_new: list[OrgRecord]
    orgs_changed: list[tuple[int, dict]]
    groups: list[Group]
    ids: dict[tuple[str, str], int]
    class_titles: dict[int, str]
    class_session: dict[str, str]
    class_title: dict[str, str]
    report: ImportReport
    today: dt.date
    created_users: set[int] = field(default_factory=set)
