"""The normalised roster: what every source format is parsed into.

An AAF feed, a SIECLE export and a OneRoster bulk or delta set are each read
by a parser of :mod:`core.roster.sources` into one :class:`Roster`; the sync
(:mod:`core.roster.sync`) compares it with what the hub holds and applies the
difference. Records refer to each other by source identifier
(``sourced_id``), never by database id: a guardian link names its guardian's
and student's ``sourced_id``, an enrollment its person's and class's.

Identifiers must be unique within their source and kind: a parser prefixes an
identifier that is only unique within a school (a SIECLE division code, an AAF
class code) with the school's UAI (``"0350001A$4A"``).

``active=False`` is an explicit end in the file (AAF ``deleteRequest``,
OneRoster ``tobedeleted``, SIECLE ``DATE_SORTIE`` in the past). In a
``complete`` roster, a record of one of its orgs that the hub holds from the
same source and the file does not mention has ended too; a ``delta`` roster
ends only what it says.
"""

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Source(StrEnum):
    """Where a roster comes from; stored on every imported row."""

    AAF = "aaf"
    SIECLE = "siecle"
    ONEROSTER = "oneroster"


class Mode(StrEnum):
    COMPLETE = "complete"  # the file is the whole truth for its orgs
    DELTA = "delta"  # the file says only what changed


class Role(StrEnum):
    """A person's role, in the hub's OneRoster terms (``User.Role``)."""

    STUDENT = "student"
    TEACHER = "teacher"
    GUARDIAN = "guardian"
    ADMINISTRATOR = "administrator"


@dataclass(slots=True)
class OrgRecord:
    """A school: ``uai`` is its national code (``0350001A``)."""

    sourced_id: str
    name: str
    uai: str
    academy: str = ""
    active: bool = True
    line: int = 0  # where the record starts in its file (reports)
    file: str = ""


@dataclass(slots=True)
class SessionRecord:
    """An academic session (school year, term) of ``org``."""

    sourced_id: str
    org: str  # OrgRecord.sourced_id
    title: str
    type: str  # "schoolYear" or "term" (semesters, grading periods: "term")
    start_date: dt.date
    end_date: dt.date
    active: bool = True
    line: int = 0
    file: str = ""


@dataclass(slots=True)
class CourseRecord:
    """A subject as taught in ``org`` (AAF ``MatiereEducNat``, OneRoster course)."""

    sourced_id: str
    org: str
    title: str
    code: str = ""
    active: bool = True
    line: int = 0
    file: str = ""


@dataclass(slots=True)
class ClassRecord:
    """A class: ``homeroom`` (a division, "4e B") or ``scheduled`` (a group).

    ``session`` may be empty: the sync then uses the org's current school
    year (created if the hub has none).
    """

    sourced_id: str
    org: str
    title: str
    class_type: str = "homeroom"  # or "scheduled"
    session: str = ""
    course: str = ""
    active: bool = True
    line: int = 0
    file: str = ""


@dataclass(slots=True)
class PersonRecord:
    """A person with one role. ``orgs`` are the org ``sourced_id`` s of staff
    and teachers (students belong to orgs through their classes, guardians
    through their children). ``national_id`` is a pupil's INE when known;
    ``username`` a login the source suggests (OneRoster), else the sync
    makes one from the names. ``timetable_code`` is the short name timetable
    exports use for a teacher.
    """

    sourced_id: str
    role: Role
    given_name: str
    family_name: str
    email: str = ""
    orgs: tuple[str, ...] = ()
    national_id: str = ""
    username: str = ""
    timetable_code: str = ""
    birth_date: dt.date | None = None
    active: bool = True
    line: int = 0
    file: str = ""
    # A delta that changes some attributes only (AAF ``modifyRequest``):
    # the names of the fields above this record sets; the sync leaves the
    # others as the hub holds them. Empty: the record sets every field.
    partial: tuple[str, ...] = ()


@dataclass(slots=True)
class EnrollmentRecord:
    """``person`` in ``school_class`` as ``role`` (student or teacher)."""

    person: str
    school_class: str
    role: Role
    sourced_id: str = ""  # OneRoster's; else the sync uses person + class + role
    active: bool = True
    line: int = 0
    file: str = ""


@dataclass(slots=True)
class GuardianLinkRecord:
    """``guardian`` has legal responsibility for ``student``.

    Parsers emit links for legal guardians only (AAF ``resp_legal`` 1 or 2,
    SIECLE ``RESP_LEGAL``, OneRoster parents and guardians); contacts
    without legal responsibility get no access to a child's data.
    """

    guardian: str
    student: str
    relationship: str = ""  # "mère", "père", "tuteur", "parent", …
    sourced_id: str = ""
    active: bool = True
    line: int = 0
    file: str = ""


@dataclass(slots=True, frozen=True)
class Rejection:
    """A row the parser or the sync could not take, and why (in French)."""

    file: str
    line: int
    kind: str  # "person", "class", "enrollment", "guardian_link", "org", …
    reason: str
    # The person the row was about, when its identifier was read: in
    # complete mode their memberships stay as they are (a bad row in this
    # year's file must not end a pupil's classes or a guardian's access).
    sourced_id: str = ""


class UnreadableFile(ValueError):
    """A file that cannot be read at all (wrong format, broken XML, hostile
    content, zip bomb): the whole import is refused and nothing is written.
    The message names the file and says why, in French."""


@dataclass(slots=True)
class Roster:
    """Everything one import read, in one normalised shape.

    ``orgs`` lists the orgs the files describe; in ``complete`` mode the
    sync ends, within these orgs only, what the hub holds from ``source``
    and the files no longer mention. ``warnings`` are lines for the report
    that reject nothing (an unknown file in a zip, a skipped contact).
    """

    source: Source
    mode: Mode
    orgs: list[OrgRecord] = field(default_factory=list)
    sessions: list[SessionRecord] = field(default_factory=list)
    courses: list[CourseRecord] = field(default_factory=list)
    classes: list[ClassRecord] = field(default_factory=list)
    people: list[PersonRecord] = field(default_factory=list)
    enrollments: list[EnrollmentRecord] = field(default_factory=list)
    guardian_links: list[GuardianLinkRecord] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # In ``complete`` mode, the memberships the files are the whole truth
    # for: ``"enrollment:student"``, ``"enrollment:teacher"``,
    # ``"guardian_link"``, or for one type of class only
    # (``"enrollment:student:homeroom"``: SIECLE's CSV has divisions, no
    # groups). A SIECLE pupils' export without the guardians'
    # export, or an AAF set without its PersEducNat files, says nothing
    # about the memberships it does not carry: those must not end.
    complete_for: frozenset[str] = frozenset()
    # Delta only: memberships the roster restates in full, as
    # ``(person sourced_id, kind)`` with kind "homeroom" or "scheduled" (the
    # person's enrollments in classes of that type) or "guardian" (a
    # student's guardian links). The sync ends that person's memberships of
    # that kind from this source that the roster does not list (an AAF
    # ``modifyRequest`` replacing ``ENTEleveClasses`` moves a pupil).
    restated: list[tuple[str, str]] = field(default_factory=list)
