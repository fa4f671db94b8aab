"""Compare a :class:`~core.roster.records.Roster` with what the hub holds,
then apply the difference.

Two steps, so ``--dry-run`` is the first alone:

1. :func:`plan` reads the hub in a handful of bulk queries per kind (never
   one per record) and decides, for every record, whether it is created,
   updated, ended or unchanged, or rejected when it refers to something
   that exists neither in the roster nor in the hub. Rows are matched by
   ``(source, sourced_id)`` only (a person is never matched across sources
   or by name). Two exceptions, both about rows made by hand before any
   import: an org is also found by its UAI (the national key), and a class
   or a membership identical to a hand-made one (same org, year and title;
   same member and class) takes that row over instead of colliding with it.
2. :func:`apply` writes the plan through :mod:`core.roster.actions`: the
   orgs in one transaction, then one transaction per org (its sessions,
   courses, classes, its people, its memberships), then one last
   transaction for what belongs to no org of the roster and for the
   deactivation of people left with no membership.

**Where a person goes.** A person is written in the transaction of their
first org (by UAI): staff and teachers' orgs, the orgs of their classes, and
for a guardian the orgs of their children. Every membership is written in
the transaction of its org (a guardian link in its pupil's), which comes no
earlier, so the person exists when it is written. A person of two schools
is thus created with the first and joins the second in its own transaction.

**Ending.** In ``complete`` mode the roster is the whole truth for its orgs
and for the memberships its files carry (``Roster.complete_for``: an AAF
set without PersEducNat files says nothing of teachers' classes, a SIECLE
pupils' export without the guardians' one nothing of guardian links): an
enrollment (from the same source) of such a role in a class of one of these
orgs, such a guardian link of a pupil enrolled in one of them, or a staff
membership of one of them, that the roster no longer lists has ended. In ``delta`` mode
only records marked ``active=False`` end. An ended enrollment or guardian
link moves to :class:`~core.roster.models.EndedMembership` (decision 0006);
a person left with no enrollment, no child and no staff org is deactivated,
never deleted, and one who comes back is reactivated. A rejected row loses
nothing: in ``complete`` mode the memberships of the person it was about
(``Rejection.sourced_id``) stay as they are.

Events and sockets: see :mod:`core.roster.actions`.
"""

import contextlib
import datetime as dt
import functools
import gc
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db.models import Count
from django.utils import timezone

from core.roster import actions
from core.roster.bulk import chunks, where_in
from core.roster.models import (
    AcademicSession,
    Course,
    Enrollment,
    GuardianLink,
    Org,
    SchoolClass,
    User,
)
from core.roster.plans import Group, Member, NewMember, Plan, Staff
from core.roster.records import (
    Mode,
    OrgRecord,
    PersonRecord,
    Rejection,
    Roster,
    SessionRecord,
)
from core.roster.report import KINDS, ImportReport
from core.text import strip_accents

# Rows created by an import past which the planner's statistics are
# refreshed (a first import multiplies the tables' sizes; until autovacuum
# comes by, PostgreSQL plans the next import's reads for empty tables: the
# no-change re-import of a département took 18 s instead of 5).
ANALYZE_AFTER = 5000
_ENROLLMENT_ROLES = frozenset(Enrollment.Role.values)
_USER_ROLES = frozenset(User.Role.values)


# ---------------------------------------------------------------------------
# The plan


def plan(roster: Roster, report: ImportReport | None = None) -> Plan:
    """Diff ``roster`` against the hub; write nothing.

    Counts every outcome in ``report`` (made if not given; it also takes the
    parser's rejections and warnings) and returns the :class:`Plan`.
    """
    report = report or ImportReport()
    report.source, report.mode = str(roster.source), str(roster.mode)
    for rejection in roster.rejections:
        report.reject(rejection)
    report.warnings.extend(roster.warnings)
    adopt_known_pupils(roster)
    with frozen_gc():
        return _Planner(roster, report).run()


def adopt_known_pupils(roster: Roster) -> None:
    """Give a pupil the identifier the hub already knows them by, found by
    their INE (``national_id``), when the roster calls them otherwise.

    One school's two SIECLE exports key pupils differently (``ELEVE_ID`` in
    the XML, the INE in the CSV): without this, switching from one to the
    other made every pupil a new account and deactivated the old one, whose
    guardians then lost their child. Only pupils of the same source enrolled
    in a school the roster describes, and an INE held by exactly one of
    them, are adopted: a pupil who moved to another school is that school's
    own record (merging them let one school's import end the other's links).
    """
    ines = {
        p.national_id: p.sourced_id
        for p in roster.people
        if p.role == "student" and p.national_id
    }
    if not ines:
        return
    known: dict[str, list[str]] = defaultdict(list)
    users = User.objects.filter(
        source=str(roster.source),
        role=User.Role.STUDENT,
        enrollments__school_class__org__uai__in=[o.uai for o in roster.orgs],
    ).distinct()
    for sid, ine in _values_list(
        users, "national_id", ines, "sourced_id", "national_id"
    ):
        known[ine].append(sid)
    listed = {p.sourced_id for p in roster.people}
    renamed = {
        ines[ine]: sids[0]
        for ine, sids in known.items()
        if len(sids) == 1 and sids[0] != ines[ine] and sids[0] not in listed
    }
    if not renamed:
        return
    for person in roster.people:
        person.sourced_id = renamed.get(person.sourced_id, person.sourced_id)
    for enrollment in roster.enrollments:
        enrollment.person = renamed.get(enrollment.person, enrollment.person)
    for link in roster.guardian_links:
        link.student = renamed.get(link.student, link.student)
    roster.restated = [(renamed.get(sid, sid), kind) for sid, kind in roster.restated]


@contextlib.contextmanager
def frozen_gc():
    """Keep the collector's full passes off the objects alive now.

    A département's roster is a few hundred thousand long-lived objects;
    every full collection during the sync would walk them all again (0.3 to
    0.7 s each, several per import). ``gc.freeze`` sets them aside until
    the block ends; garbage made inside is collected as usual.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _Planner:
    def __init__(self, roster: Roster, report: ImportReport) -> None:
        self.roster = roster
        self.report = report
        self.source = str(roster.source)
        self.complete = roster.mode == Mode.COMPLETE
        self.today = timezone.localdate()
        self.ids: dict[tuple[str, str], int] = {}
        self.groups: dict[str | None, Group] = {}
        self.org_uai: dict[str, str] = {}  # org sourced_id -> UAI (sorting)
        self.class_org: dict[str, str] = {}  # class sid -> org sid
        self.class_titles: dict[int, str] = {}
        self.closed_classes: set[str] = set()
        # Memberships each person will gain or lose (for deactivation).
        self.gain: Counter = Counter()  # person sid or user pk -> count
        # Records the files say have ended that the hub never held (a
        # leaver's first import): "unchanged", and said so in a warning.
        self.already_ended: Counter = Counter()
        self.lose: Counter = Counter()  # user pk -> count
        self.home: dict[str, str] = {}  # person sid -> org sid of their group
        self.default_session: dict[str, str] = {}  # org sid -> session sid
        self.class_session: dict[str, str] = {}  # class sid -> session sid or ""
        self.class_title: dict[str, str] = {}  # class sid -> title in the hub
        self.ended_enrollments: set[int] = set()
        self.ended_links: set[int] = set()
        self.ended_people: set[int] = set()
        self.listed_pks: set[int] = set()
        # People with a membership after the import that the roster lists
        # (kept or made), and listed people without one (to check).
        self.members: set[str] = set()
        self.unsure: set[int] = set()

    # -- helpers ----------------------------------------------------------

    @functools.cached_property
    def held(self) -> dict[str, set[int]]:
        """The users a rejected row was about, by the kind of row: complete
        mode keeps their memberships as they are (bad input loses nothing).
        A rejected person keeps all of theirs (``"person"``); a pupil with a
        rejected guardian link keeps their links (``"guardian_link"``)."""
        sids = {(r.kind, r.sourced_id) for r in self.roster.rejections if r.sourced_id}
        held: dict[str, set[int]] = {"person": set(), "guardian_link": set()}
        if not sids:
            return held
        users = User.objects.filter(source=self.source)
        pks = dict(
            _values_list(
                users, "sourced_id", {sid for _, sid in sids}, "sourced_id", "pk"
            )
        )
        for kind, sid in sids:
            if sid in pks and kind in held:
                held[kind].add(pks[sid])
        held["guardian_link"] |= held["person"]
        return held

    def reject(self, record, kind: str, reason: str) -> None:
        self.report.reject(Rejection(record.file, record.line, kind, reason))

    def group(self, org: str | None) -> Group:
        if org not in self.groups:
            label = self.org_uai.get(org, "") if org else ""
            self.groups[org] = Group(org=org, label=label)
        return self.groups[org]

    def known(self, kind: str, sourced_id: str) -> bool:
        return (kind, sourced_id) in self.ids or sourced_id in self.listed[kind]

    # -- run ---------------------------------------------------------------

    def run(self) -> Plan:
        roster = self.roster
        self.listed = {
            "org": {r.sourced_id for r in roster.orgs},
            "session": {r.sourced_id for r in roster.sessions if r.active},
            "course": {r.sourced_id for r in roster.courses if r.active},
            "class": {r.sourced_id for r in roster.classes if r.active},
            "person": {r.sourced_id for r in roster.people},
        }
        orgs_new, orgs_changed = self.orgs()
        self.org_sid = {
            pk: sid for (kind, sid), pk in self.ids.items() if kind == "org"
        }
        self.sessions()
        self.courses()
        self.classes()
        people = self.load_people()
        self.people_records = self.valid_people(people)
        self.enrollments(people)
        self.links(people)
        self.people(people)
        self.end_people()
        for kind, count in self.already_ended.items():
            self.report.warnings.append(
                f"{KINDS[kind]} : {count} terminé(s) selon les fichiers et inconnu(s) "
                "du hub, comptés « inchangés » (rien n'est créé)"
            )
        groups = sorted(
            self.groups.values(),
            key=lambda g: (g.org is None, self.org_uai.get(g.org or "", ""), g.org),
        )
        return Plan(
            source=self.source,
            mode=str(roster.mode),
            orgs_new=orgs_new,
            orgs_changed=orgs_changed,
            groups=groups,
            ids=self.ids,
            class_titles=self.class_titles,
            class_session=self.class_session,
            class_title=self.class_title,
            report=self.report,
            today=self.today,
        )

    # -- orgs ----------------------------------------------------------------

    def orgs(self) -> tuple[list[OrgRecord], list[tuple[int, dict]]]:
        records = self.unique(self.roster.orgs, "org", "établissement")
        by_sid = {
            o["sourced_id"]: o
            for o in _values(
                Org.objects.filter(source=self.source),
                "sourced_id",
                {r.sourced_id for r in records} | self.referenced_orgs(),
                "pk",
                "uai",
                "name",
                "academy",
                "sourced_id",
            )
        }
        by_uai = {
            o["uai"]: o
            for o in _values(
                Org.objects.all(),
                "uai",
                {r.uai for r in records},
                "pk",
                "uai",
                "name",
                "academy",
                "sourced_id",
            )
        }
        for row in by_sid.values():
            self.ids["org", row["sourced_id"]] = row["pk"]
            self.org_uai[row["sourced_id"]] = row["uai"]
        new, changed = [], []
        for r in records:
            row = by_sid.get(r.sourced_id) or by_uai.get(r.uai)
            self.org_uai[r.sourced_id] = r.uai
            if not r.active:
                self.report.warnings.append(
                    f"{r.file}:{r.line}: l'établissement {r.uai} est marqué supprimé :"
                    " il est gardé, ses classes et inscriptions suivent le fichier."
                )
            if row is None:
                new.append(r)
                self.report.add("org", "created")
                continue
            self.ids["org", r.sourced_id] = row["pk"]
            update = {}
            if r.name and r.name != row["name"]:
                update["name"] = r.name
            if r.academy and r.academy != row["academy"]:
                update["academy"] = r.academy
            if r.uai != row["uai"]:
                update["uai"] = r.uai
            if not row["sourced_id"]:  # made by hand: from now on, this source's
                update.update(source=self.source, sourced_id=r.sourced_id)
            if update:
                changed.append((row["pk"], update))
            self.report.add("org", "updated" if update else "unchanged")
        self.roster_orgs = [
            self.ids["org", r.sourced_id]
            for r in records
            if ("org", r.sourced_id) in self.ids
        ]
        return new, changed

    def known_orgs(self, pks: set[int]) -> None:
        """Give the orgs ``pks`` (of classes the hub holds) a key: their
        source id, or ``#<pk>`` for an org of another source."""
        missing = pks - set(self.org_sid)
        for row in Org.objects.filter(pk__in=missing).values(
            "pk", "uai", "source", "sourced_id"
        ):
            key = row["sourced_id"] if row["source"] == self.source else ""
            key = key or f"#{row['pk']}"
            self.ids["org", key] = row["pk"]
            self.org_uai[key] = row["uai"]
            self.org_sid[row["pk"]] = key

    def referenced_orgs(self) -> set[str]:
        r = self.roster
        refs = {x.org for x in (*r.sessions, *r.courses, *r.classes)}  # type: ignore[attr-defined]  # each record has its org
        refs.update(o for p in r.people for o in p.orgs)
        return refs

    def unique(self, records: list, kind: str, noun: str) -> list:
        """Keep the first record of each sourced_id; reject the others."""
        seen, kept = set(), []
        for r in records:
            if r.sourced_id in seen:
                self.reject(r, kind, f"{noun} en double (identifiant {r.sourced_id})")
                continue
            seen.add(r.sourced_id)
            kept.append(r)
        return kept

    def org_of(self, record, kind: str) -> str | None:
        """The org sid of ``record`` if known; else reject it and return None."""
        if self.known("org", record.org):
            return record.org
        self.reject(record, kind, f"établissement inconnu : {record.org}")
        return None

    # -- sessions and courses ------------------------------------------------

    def sessions(self) -> None:
        records = self.unique(self.roster.sessions, "session", "période")
        refs = {r.sourced_id for r in records}
        refs |= {c.session for c in self.roster.classes if c.session}
        rows = self.load(
            AcademicSession, refs, "title", "type", "start_date", "end_date"
        )
        for r in records:
            org = self.org_of(r, "session")
            if org is None:
                continue
            self.group(org).records += 1
            row = rows.get(r.sourced_id)
            if not r.active:
                self.report.add("session", "unchanged")
                continue
            if r.end_date < r.start_date:
                self.reject(r, "session", "la date de fin précède la date de début")
                self.listed["session"].discard(r.sourced_id)
                continue
            fields = {
                "title": r.title,
                "type": r.type if r.type == "schoolYear" else "term",
                "start_date": r.start_date,
                "end_date": r.end_date,
            }
            if row is None:
                self.group(org).sessions_new.append(r)
                self.report.add("session", "created")
            elif any(row[k] != v for k, v in fields.items()):
                self.group(org).sessions_changed.append((row["pk"], r))
                self.report.add("session", "updated")
            else:
                self.report.add("session", "unchanged")
        self.default_sessions()

    def default_sessions(self) -> None:
        """Give classes without a session their org's current school year
        (made when the hub has none)."""
        orgs = {c.org for c in self.roster.classes if not c.session and c.active}
        if not orgs:
            return
        pks = {self.ids[("org", o)]: o for o in orgs if ("org", o) in self.ids}
        current: dict[int | None, int] = {}
        for row in AcademicSession.objects.filter(
            org_id__in=list(pks),
            type=AcademicSession.Type.SCHOOL_YEAR,
            start_date__lte=self.today,
            end_date__gte=self.today,
        ).values("pk", "org_id"):
            current.setdefault(row["org_id"], row["pk"])
        start_year = self.today.year if self.today.month >= 8 else self.today.year - 1
        for org in sorted(orgs):
            pk = current.get(self.ids.get(("org", org)))
            sid = f"{org}|{start_year}-{start_year + 1}"
            if pk is None and ("session", sid) not in self.ids:
                rows = self.load(AcademicSession, {sid})
                if sid in rows:
                    pk = rows[sid]["pk"]
            if pk is not None:
                self.ids.setdefault(("session", sid), pk)
            else:
                self.group(org).sessions_new.append(
                    SessionRecord(
                        sourced_id=sid,
                        org=org,
                        title=f"{start_year}-{start_year + 1}",
                        type="schoolYear",
                        start_date=dt.date(start_year, 9, 1),
                        end_date=dt.date(start_year + 1, 8, 31),
                    )
                )
                self.listed["session"].add(sid)
                self.report.add("session", "created")
            self.default_session[org] = sid

    def courses(self) -> None:
        records = self.unique(self.roster.courses, "course", "matière")
        refs = {r.sourced_id for r in records}
        refs |= {c.course for c in self.roster.classes if c.course}
        rows = self.load(Course, refs, "title", "code", "org_id")
        for r in records:
            org = self.org_of(r, "course")
            if org is None:
                continue
            self.group(org).records += 1
            row = rows.get(r.sourced_id)
            if not r.active:
                self.report.add("course", "unchanged")
            elif row is None:
                self.group(org).courses_new.append(r)
                self.report.add("course", "created")
            elif (row["title"], row["code"]) != (r.title, r.code):
                self.group(org).courses_changed.append((row["pk"], r))
                self.report.add("course", "updated")
            else:
                self.report.add("course", "unchanged")

    def load(self, model, sourced_ids: Iterable[str], *fields: str) -> dict:
        """Rows of ``model`` from this source by sourced_id; fills ``ids``."""
        kind = _KIND_OF[model]
        rows = {
            row["sourced_id"]: row
            for row in _values(
                model.objects.filter(source=self.source),
                "sourced_id",
                set(sourced_ids),
                "pk",
                "sourced_id",
                *fields,
            )
        }
        for sid, row in rows.items():
            self.ids[kind, sid] = row["pk"]
        return rows

    # -- classes -------------------------------------------------------------

    def classes(self) -> None:
        records = self.unique(self.roster.classes, "class", "classe")
        refs = {r.sourced_id for r in records}
        refs |= {e.school_class for e in self.roster.enrollments}
        rows = self.load(
            SchoolClass,
            refs,
            "org_id",
            "session_id",
            "course_id",
            "title",
            "class_type",
        )
        self.known_orgs({row["org_id"] for row in rows.values()})
        for sid, row in rows.items():
            self.class_titles[row["pk"]] = row["title"]
            self.class_org[sid] = self.org_sid[row["org_id"]]
        # Classes of the roster's orgs, by (org, session, title): a new class
        # must not take an existing title; a hand-made one is taken over.
        titles: dict[tuple[int | None, int | None, str], Any] = {}
        for row in SchoolClass.objects.filter(org_id__in=self.roster_orgs).values(
            "pk", "org_id", "session_id", "title", "source", "sourced_id"
        ):
            titles[row["org_id"], row["session_id"], row["title"]] = row
            self.class_titles.setdefault(row["pk"], row["title"])
        # A class and a group may share a code (AAF): the group's title gets
        # " (groupe)" (then " (groupe 2)", …), the same at every import.
        slots = defaultdict(list)
        for r in records:
            if r.active:
                slots[r.org, r.session, r.title].append(r)
        for (_, _, title), same in slots.items():
            same.sort(key=lambda r: (r.class_type != "homeroom", r.sourced_id))
            for n, r in enumerate(same):
                suffix = "" if n == 0 else " (groupe)" if n == 1 else f" (groupe {n})"
                self.class_title[r.sourced_id] = title[: 200 - len(suffix)] + suffix
        planned_titles = set()
        for r in records:
            org = self.org_of(r, "class")
            if org is None:
                self.listed["class"].discard(r.sourced_id)
                continue
            self.class_org[r.sourced_id] = org
            group = self.group(org)
            group.records += 1
            row = rows.get(r.sourced_id)
            if not r.active:
                self.closed_classes.add(r.sourced_id)
                continue  # counted with its enrollments (end_classes)
            session = r.session or self.default_session.get(org, "")
            if not self.known("session", session):
                self.reject(r, "class", f"période inconnue : {r.session}")
                self.listed["class"].discard(r.sourced_id)
                continue
            if r.course and not self.known("course", r.course):
                self.reject(r, "class", f"matière inconnue : {r.course}")
                self.listed["class"].discard(r.sourced_id)
                continue
            title = self.class_title[r.sourced_id]
            org_pk = self.ids.get(("org", org))
            session_pk = self.ids.get(("session", session))
            course_pk = self.ids.get(("course", r.course)) if r.course else None
            self.class_session[r.sourced_id] = session
            if row is not None and not r.session:
                session_pk = row["session_id"]  # keep its year
                self.class_session[r.sourced_id] = ""
            slot = (org, session_pk or session, title)
            taken = titles.get((org_pk, session_pk, title))
            if slot in planned_titles or (
                taken is not None
                and taken["sourced_id"] != r.sourced_id
                and (taken["source"] or row is not None)
            ):
                self.reject(r, "class", f"une autre classe s'appelle déjà « {title} »")
                self.listed["class"].discard(r.sourced_id)
                continue
            planned_titles.add(slot)
            if row is None and taken is not None and not taken["source"]:
                # A class made by hand before this source: take it over.
                self.ids["class", r.sourced_id] = taken["pk"]
                group.classes_changed.append((taken["pk"], r))
                self.report.add("class", "updated")
                continue
            if row is None:
                group.classes_new.append(r)
                self.report.add("class", "created")
                continue
            if (
                row["title"] != title
                or row["class_type"] != r.class_type
                or row["course_id"] != course_pk
                or (r.session and row["session_id"] != session_pk)
                or row["org_id"] != org_pk
            ):
                group.classes_changed.append((row["pk"], r))
                self.class_titles[row["pk"]] = title
                self.report.add("class", "updated")
            else:
                self.report.add("class", "unchanged")

    # -- people ----------------------------------------------------------------

    def load_people(self) -> dict[str, dict]:
        """The hub's people of this source the roster lists or refers to."""
        r = self.roster
        refs = {p.sourced_id for p in r.people}
        refs |= {e.person for e in r.enrollments}
        refs |= {x for link in r.guardian_links for x in (link.guardian, link.student)}
        return self.load(
            User,
            refs,
            "first_name",
            "last_name",
            "email",
            "role",
            "national_id",
            "timetable_code",
            "is_active",
        )

    def enrollments(self, people: dict[str, dict]) -> None:
        records = self.roster.enrollments
        keyed = [
            (r.sourced_id or f"{r.person}|{r.school_class}|{r.role}", r)
            for r in records
        ]
        users = [row["pk"] for row in people.values()]
        # In complete mode every enrollment of this source in the roster's
        # orgs (what may end); then those of this source the roster names
        # and that scope missed; then the other sources' enrollments of the
        # people it names (a hand-made one is taken over, not doubled).
        rows: dict[int, dict] = {}
        if self.complete or self.closed_classes:
            closed = [
                self.ids[("class", c)]
                for c in self.closed_classes
                if ("class", c) in self.ids
            ]
            scope = Enrollment.objects.filter(source=self.source)
            if self.complete:
                scope = scope.filter(school_class__org_id__in=self.roster_orgs)
            else:
                scope = scope.filter(school_class_id__in=closed)
            for row in scope.values(*_ENROLLMENT_FIELDS).iterator(chunk_size=5000):
                rows[row["pk"]] = row
        found = {row["sourced_id"] for row in rows.values()}
        for row in _values(
            Enrollment.objects.filter(source=self.source),
            "sourced_id",
            {sid for sid, _ in keyed} - found,
            *_ENROLLMENT_FIELDS,
        ):
            rows[row["pk"]] = row
        others = Enrollment.objects.all()
        if self.complete:  # this source's are in the scope (a delta is small)
            others = others.exclude(source=self.source)
        for row in _values(
            others,
            "user_id",
            users,
            *_ENROLLMENT_FIELDS,
        ):
            rows[row["pk"]] = row
        by_sid = {
            row["sourced_id"]: row
            for row in rows.values()
            if row["source"] == self.source and row["sourced_id"]
        }
        by_triple = {
            (row["user_id"], row["school_class_id"], row["role"]): row
            for row in rows.values()
        }
        kept: set[int] = set()
        seen: set = set()
        for sid, r in keyed:
            cls = r.school_class
            org = self.class_org.get(cls)
            if r.role not in _ENROLLMENT_ROLES:
                self.reject(r, "enrollment", f"rôle inconnu : {r.role}")
                continue
            if org is None or not self.known("class", cls):
                if r.active:
                    self.reject(r, "enrollment", f"classe inconnue : {cls}")
                else:
                    self.already_ended["enrollment"] += 1
                    self.report.add("enrollment", "unchanged")
                continue
            if not self.known("person", r.person):
                self.reject(r, "enrollment", f"personne inconnue : {r.person}")
                continue
            group = self.group(org)
            group.records += 1
            self.home_candidate(r.person, org)
            if (r.person, cls, r.role) in seen or sid in seen:
                self.reject(r, "enrollment", "inscription en double")
                continue
            seen.add((r.person, cls, r.role))
            seen.add(sid)
            row = by_sid.get(sid)
            if not r.active or cls in self.closed_classes:
                if cls in self.closed_classes and r.active:
                    self.reject(r, "enrollment", f"la classe {cls} est fermée")
                if row is not None:
                    self.end_enrollment(group, row)
                else:
                    self.already_ended["enrollment"] += 1
                    self.report.add("enrollment", "unchanged")
                continue
            user_pk = self.ids.get(("person", r.person))
            class_pk = self.ids.get(("class", cls))
            triple = (
                by_triple.get((user_pk, class_pk, r.role))
                if user_pk and class_pk
                else None
            )
            if row is not None and (
                row["user_id"],
                row["school_class_id"],
                row["role"],
            ) == (user_pk, class_pk, r.role):
                kept.add(row["pk"])
                self.members.add(r.person)
                self.report.add("enrollment", "unchanged")
                continue
            if row is not None:
                # Same identifier, another member, class or role: the old
                # membership ends and the new one starts (counted as updated).
                self.end_enrollment(group, row, count=False)
                self.report.add("enrollment", "updated")
            elif triple is not None:
                kept.add(triple["pk"])
                self.members.add(r.person)
                if triple["source"] in ("", self.source):
                    # The same membership, made by hand or under an earlier
                    # identifier of this source: it takes this identifier.
                    group.enrollments_rekey.append((triple["pk"], sid))
                    self.report.add("enrollment", "updated")
                else:
                    self.report.add("enrollment", "unchanged")
                continue
            else:
                self.report.add("enrollment", "created")
            self.members.add(r.person)
            group.enrollments_new.append(NewMember(sid, r.person, cls, r.role))
            self.gain[user_pk or r.person] += 1
        if self.complete:
            listed = {sid for sid, r in keyed if r.active}
            org_sid = self.org_sid
            class_org_pk, class_type = {}, {}
            for pk, org_pk, kind in SchoolClass.objects.filter(
                org_id__in=self.roster_orgs
            ).values_list("pk", "org_id", "class_type"):
                class_org_pk[pk], class_type[pk] = org_pk, kind
            complete_for = self.roster.complete_for
            for row in rows.values():
                role, cls = row["role"], row["school_class_id"]
                if (
                    row["source"] == self.source
                    and (
                        f"enrollment:{role}" in complete_for
                        or f"enrollment:{role}:{class_type.get(cls)}" in complete_for
                    )
                    and row["user_id"] not in self.held["person"]
                    and row["pk"] not in kept
                    and row["sourced_id"] not in listed
                    and row["school_class_id"] in class_org_pk
                ):
                    org = org_sid.get(class_org_pk[row["school_class_id"]])
                    self.end_enrollment(self.group(org), row)
        elif self.closed_classes:
            closed = {
                self.ids[("class", c)]: c
                for c in self.closed_classes
                if ("class", c) in self.ids
            }
            for row in rows.values():
                if (
                    row["source"] == self.source
                    and row["school_class_id"] in closed
                    and row["pk"] not in self.ended_enrollments
                ):
                    self.end_enrollment(
                        self.group(self.class_org.get(closed[row["school_class_id"]])),
                        row,
                    )
        restated = {
            (people[sid]["pk"], kind)
            for sid, kind in self.roster.restated
            if kind in ("homeroom", "scheduled") and sid in people
        }
        if restated:
            # A delta restating a person's classes (AAF modifyRequest): the
            # ones of that type it no longer lists have ended.
            listed = {sid for sid, r in keyed if r.active}
            for row in _values(
                Enrollment.objects.filter(source=self.source),
                "user_id",
                {pk for pk, _ in restated},
                *_ENROLLMENT_FIELDS,
                "school_class__class_type",
                "school_class__org_id",
            ):
                if (
                    (row["user_id"], row["school_class__class_type"]) in restated
                    and row["pk"] not in kept
                    and row["sourced_id"] not in listed
                ):
                    self.known_orgs({row["school_class__org_id"]})
                    org = self.org_sid[row["school_class__org_id"]]
                    self.end_enrollment(self.group(org), row)
        # A class whose memberships all end is counted once as deactivated.
        ended_classes = {
            m.other_id for g in self.groups.values() for m in g.enrollments_end
        }
        for cls in self.closed_classes:
            if self.ids.get(("class", cls)) in ended_classes:
                self.report.add("class", "deactivated")
            else:
                self.report.add("class", "unchanged")
        if self.complete:
            listed_classes = {self.ids.get(("class", c)) for c in self.listed["class"]}
            closed = {self.ids.get(("class", c)) for c in self.closed_classes}
            for _pk in ended_classes - listed_classes - closed:
                self.report.add("class", "deactivated")

    def end_enrollment(self, group: Group, row: dict, count: bool = True) -> None:
        self._end_member(
            self.ended_enrollments,
            group.enrollments_end,
            row,
            ("user_id", "school_class_id", "role"),
            "enrollment" if count else None,
        )

    def _end_member(
        self,
        ended: set[int],
        members: list[Member],
        row: dict,
        columns: tuple[str, str, str],
        kind: str | None,
    ) -> None:
        """End the membership ``row`` once: add it to ``members`` (its
        ``user``, ``other`` and ``role`` read from ``columns``), count the
        loss for its user and, with a ``kind``, report it deactivated."""
        if row["pk"] in ended:
            return
        ended.add(row["pk"])
        user, other, role = (row[column] for column in columns)
        members.append(
            Member(row["pk"], row["sourced_id"], user, other, role, row["source"])
        )
        self.lose[user] += 1
        if kind:
            self.report.add(kind, "deactivated")

    def home_candidate(self, person: str, org: str | None) -> None:
        """Keep the first org (by UAI) of ``person``: their group."""
        if org is None:
            return
        current = self.home.get(person)
        if current is None or self.org_uai.get(org, org) < self.org_uai.get(
            current, current
        ):
            self.home[person] = org

    def links(self, people: dict[str, dict]) -> None:
        records = self.roster.guardian_links
        keyed = [(r.sourced_id or f"{r.guardian}|{r.student}", r) for r in records]
        students = [people[r.student]["pk"] for _, r in keyed if r.student in people]
        rows: dict[int, dict] = {}
        fields = (
            "pk",
            "source",
            "sourced_id",
            "guardian_id",
            "student_id",
            "relationship",
        )
        scope_students: dict[int, int] = {}  # pupil pk -> org pk (complete mode)
        if self.complete:
            for student, org in (
                Enrollment.objects.filter(
                    school_class__org_id__in=self.roster_orgs,
                    role=Enrollment.Role.STUDENT,
                )
                .order_by("school_class__org__uai")
                .values_list("user_id", "school_class__org_id")
                .iterator(chunk_size=5000)
            ):
                scope_students.setdefault(student, org)
            for row in (
                GuardianLink.objects.filter(
                    source=self.source,
                    student__enrollments__school_class__org_id__in=self.roster_orgs,
                )
                .values(*fields)
                .distinct()
                .iterator(chunk_size=5000)
            ):
                rows[row["pk"]] = row
        # Then those of this source the roster names that the scope missed,
        # and the other sources' links of its pupils (taken over, not doubled).
        found = {row["sourced_id"] for row in rows.values()}
        for row in _values(
            GuardianLink.objects.filter(source=self.source),
            "sourced_id",
            {sid for sid, _ in keyed} - found,
            *fields,
        ):
            rows[row["pk"]] = row
        others = GuardianLink.objects.all()
        if self.complete:
            others = others.exclude(source=self.source)
        for row in _values(
            others,
            "student_id",
            set(students),
            *fields,
        ):
            rows[row["pk"]] = row
        by_sid = {
            row["sourced_id"]: row
            for row in rows.values()
            if row["source"] == self.source and row["sourced_id"]
        }
        by_pair = {
            (row["guardian_id"], row["student_id"]): row for row in rows.values()
        }
        # A link is written with its pupil's first org; the guardian's
        # group is the first of their children's.
        kept: set[int] = set()
        seen: set = set()
        for sid, r in keyed:
            for who, noun in ((r.guardian, "responsable"), (r.student, "élève")):
                if not self.known("person", who):
                    self.reject(r, "guardian_link", f"{noun} inconnu : {who}")
                    break
            else:
                if r.guardian == r.student:
                    self.reject(
                        r,
                        "guardian_link",
                        "un élève ne peut être son propre responsable",
                    )
                    continue
                org = self.home.get(r.student)
                group = self.group(org)
                group.records += 1
                self.home_candidate(r.guardian, org)
                if (r.guardian, r.student) in seen or sid in seen:
                    self.reject(r, "guardian_link", "lien en double")
                    continue
                seen.update({(r.guardian, r.student), sid})
                row = by_sid.get(sid)
                if not r.active:
                    if row is not None:
                        self.end_link(group, row)
                    else:
                        self.already_ended["guardian_link"] += 1
                        self.report.add("guardian_link", "unchanged")
                    continue
                g_pk = self.ids.get(("person", r.guardian))
                s_pk = self.ids.get(("person", r.student))
                pair = by_pair.get((g_pk, s_pk)) if g_pk and s_pk else None
                if row is not None and (row["guardian_id"], row["student_id"]) == (
                    g_pk,
                    s_pk,
                ):
                    kept.add(row["pk"])
                    self.members.add(r.guardian)
                    if row["relationship"] != r.relationship:
                        group.links_update.append((row["pk"], sid, r.relationship))
                        self.report.add("guardian_link", "updated")
                    else:
                        self.report.add("guardian_link", "unchanged")
                    continue
                if row is not None:
                    self.end_link(group, row, count=False)
                    self.report.add("guardian_link", "updated")
                elif pair is not None:
                    kept.add(pair["pk"])
                    self.members.add(r.guardian)
                    if pair["source"] in ("", self.source):
                        group.links_update.append((pair["pk"], sid, r.relationship))
                        self.report.add("guardian_link", "updated")
                    else:
                        self.report.add("guardian_link", "unchanged")
                    continue
                else:
                    self.report.add("guardian_link", "created")
                self.members.add(r.guardian)
                group.links_new.append(
                    NewMember(sid, r.guardian, r.student, r.relationship)
                )
                self.gain[g_pk or r.guardian] += 1
        if self.complete and "guardian_link" in self.roster.complete_for:
            listed = {sid for sid, r in keyed if r.active}
            org_sid = self.org_sid
            for row in rows.values():
                if (
                    row["source"] == self.source
                    and row["pk"] not in kept
                    and row["sourced_id"] not in listed
                    and row["student_id"] in scope_students
                    and not {row["student_id"], row["guardian_id"]}
                    & self.held["guardian_link"]
                ):
                    self.end_link(
                        self.group(org_sid.get(scope_students[row["student_id"]])), row
                    )
        restated = {
            people[sid]["pk"]
            for sid, kind in self.roster.restated
            if kind == "guardian" and sid in people
        }
        if restated:
            # A delta restating a pupil's guardians: the links it no longer
            # lists have ended.
            listed = {sid for sid, r in keyed if r.active}
            sid_of = {row["pk"]: sid for sid, row in people.items()}
            for row in _values(
                GuardianLink.objects.filter(source=self.source),
                "student_id",
                restated,
                *_LINK_FIELDS,
            ):
                if row["pk"] not in kept and row["sourced_id"] not in listed:
                    org = self.home.get(sid_of.get(row["student_id"], ""))
                    self.end_link(self.group(org), row)

    def end_link(self, group: Group, row: dict, count: bool = True) -> None:
        self._end_member(
            self.ended_links,
            group.links_end,
            row,
            ("guardian_id", "student_id", "relationship"),
            "guardian_link" if count else None,
        )

    def valid_people(self, people: dict[str, dict]) -> list[PersonRecord]:
        """The person records kept: the first of each id, with a known role;
        a partial record (a delta's modification) of someone the hub does
        not hold must name them."""
        kept = []
        for r in self.unique(self.roster.people, "person", "personne"):
            if r.role not in _USER_ROLES:
                self.reject(r, "person", f"rôle inconnu : {r.role}")
                self.listed["person"].discard(r.sourced_id)
                continue
            if (
                r.partial
                and r.active
                and r.sourced_id not in people
                and not (r.given_name and r.family_name)
            ):
                self.reject(
                    r,
                    "person",
                    f"modification de {r.sourced_id}, inconnu du hub, sans nom ni prénom",
                )
                self.listed["person"].discard(r.sourced_id)
                continue
            kept.append(r)
        # A person listed twice keeps their id listed (the first record).
        self.listed["person"] |= {r.sourced_id for r in kept}
        return kept

    def people(self, people: dict[str, dict]) -> None:
        existing = [row["pk"] for row in people.values()]
        staff: dict[int, set[int]] = defaultdict(set)
        for user, org in _values_list(
            Staff.objects.all(), "user_id", existing, "user_id", "org_id"
        ):
            staff[user].add(org)
        roster_orgs = set(self.roster_orgs)
        taken = _Usernames()
        for r in self.people_records:
            row = people.get(r.sourced_id)
            orgs = []
            # A partial record sets only the fields it names (AAF modifyRequest).
            sets = set(r.partial) if r.partial and row is not None else None
            if r.role in (User.Role.TEACHER, User.Role.ADMINISTRATOR):
                # Only staff are staff of an org (a pupil's orgs come from
                # their classes: listing them here would give staff access).
                for org in r.orgs:
                    if self.known("org", org):
                        orgs.append(org)
                        self.home_candidate(r.sourced_id, org)
                    else:
                        self.report.warnings.append(
                            f"{r.file}:{r.line}: établissement inconnu ignoré : {org}"
                        )
            group = self.group(self.home.get(r.sourced_id))
            group.records += 1
            if not r.active:
                if row is None:
                    self.already_ended["person"] += 1
                    self.report.add("person", "unchanged")
                else:
                    self.ended_people.add(row["pk"])
                    self.listed_pks.add(row["pk"])
                    self.report.add("person", "unchanged")  # until deactivated
                continue
            for org in orgs if sets is None or "orgs" in sets else ():
                pk = self.ids.get(("org", org))
                if pk is None or row is None or pk not in staff[row["pk"]]:
                    self.group(org).staff_add.append((r.sourced_id, org))
                    self.gain[row["pk"] if row else r.sourced_id] += 1
            if row is None:
                username = taken.claim(r.username, r.given_name, r.family_name)
                active = self.gain[r.sourced_id] > 0
                group.people_new.append((r, username, active))
                self.report.add("person", "created")
                continue
            self.listed_pks.add(row["pk"])
            if r.sourced_id not in self.members and not orgs:
                self.unsure.add(row["pk"])
            gone = set()
            wanted = {self.ids.get(("org", o)) for o in orgs}
            if self.complete and (sets is None or "orgs" in sets):
                gone = (staff[row["pk"]] & roster_orgs) - wanted
            elif sets is not None and "orgs" in sets:
                gone = staff[row["pk"]] - wanted  # restated in full
            for org_pk in sorted(gone):
                group.staff_remove.append((row["pk"], org_pk))
                self.lose[row["pk"]] += 1
            update: dict[str, object] = {
                "first_name": r.given_name,
                "last_name": r.family_name,
                "role": str(r.role),
            }
            for name, value in (
                ("email", r.email),
                ("national_id", r.national_id),
                ("timetable_code", r.timetable_code),
            ):
                if value:  # the file's blank never erases what the hub knows
                    update[name] = value
            if sets is not None:
                update = {k: v for k, v in update.items() if _RECORD_FIELD[k] in sets}
                if "email" in sets and not r.email:
                    update["email"] = ""  # a modification may erase
            update = {k: v for k, v in update.items() if row[k] != v}
            if not row["is_active"] and self.gain[row["pk"]] > 0:
                update["is_active"] = True  # back
            if update:
                group.people_changed.append((row["pk"], update))
            self.report.add("person", "updated" if update or gone else "unchanged")
        if self.complete:
            # Staff of the roster's orgs from this source the roster no
            # longer lists at all.
            for user, org in _values_list(
                Staff.objects.filter(
                    org_id__in=self.roster_orgs, user__source=self.source
                ),
                None,
                None,
                "user_id",
                "org_id",
            ):
                if user not in self.listed_pks:
                    self.group(self.org_sid.get(org)).staff_remove.append((user, org))
                    self.lose[user] += 1

    def end_people(self) -> None:
        """End the memberships (of this source) of people marked deleted,
        then deactivate, in the last group, who is left with no membership."""
        last = self.group(None)
        gone = self.ended_people
        if gone:
            for row in _values(
                Enrollment.objects.filter(source=self.source),
                "user_id",
                gone,
                *_ENROLLMENT_FIELDS,
            ):
                self.end_enrollment(last, row)
            for column in ("guardian_id", "student_id"):
                for row in _values(
                    GuardianLink.objects.filter(source=self.source),
                    column,
                    gone,
                    *_LINK_FIELDS,
                ):
                    self.end_link(last, row)
            # Gone from their source's directory: staff of no org any more.
            for user, org in _values_list(
                Staff.objects.all(), "user_id", gone, "user_id", "org_id"
            ):
                last.staff_remove.append((user, org))
                self.lose[user] += 1
        candidates = {pk for pk, n in self.lose.items() if n} | self.unsure | gone
        if not candidates:
            return
        counts: Counter = Counter()
        for model, column in (
            (Enrollment, "user_id"),
            (GuardianLink, "guardian_id"),
            (Staff, "user_id"),
        ):
            for chunk in chunks(candidates):
                for pk, n in (
                    where_in(model.objects.all(), column, chunk)
                    .values(column)
                    .annotate(n=Count("pk"))
                    .order_by()
                    .values_list(column, "n")
                ):
                    counts[pk] += n
        active = dict(
            _values_list(User.objects.all(), "pk", candidates, "pk", "is_active")
        )
        changes = {
            pk: update for g in self.groups.values() for pk, update in g.people_changed
        }
        leaving_staff = {u for g in self.groups.values() for u, _ in g.staff_remove}
        for pk in sorted(candidates):
            if counts[pk] - self.lose[pk] + self.gain[pk] > 0:
                continue
            if changes.get(pk, {}).pop("is_active", None):
                continue  # no membership to come back to: stays inactive
            if not active.get(pk):
                continue
            last.deactivate.append(pk)
            self.report.add("person", "deactivated")
            if pk in self.listed_pks:
                # Counted above as updated or unchanged: deactivated instead.
                person = self.report.counts["person"]
                if changes.get(pk) or pk in leaving_staff:
                    person.updated -= 1
                else:
                    person.unchanged -= 1


class _Usernames:
    """Unique usernames ``prenom.nom`` (ASCII, lower case, ``.2``… suffixes
    on collision), checked against every username of the hub read once."""

    def __init__(self) -> None:
        self.loaded = False
        self.taken: set[str] = set()
        self.next: dict[str, int] = {}

    def claim(self, suggested: str, given: str, family: str) -> str:
        if not self.loaded:
            self.taken = {
                name.lower()
                for name in User.objects.values_list("username", flat=True).iterator(
                    chunk_size=10000
                )
            }
            self.loaded = True
        if suggested and suggested.lower() not in self.taken and len(suggested) <= 150:
            self.taken.add(suggested.lower())
            return suggested
        base = username_base(given, family)
        n = self.next.get(base, 1)
        name = base if n == 1 else f"{base}{n}"
        while name in self.taken:
            n += 1
            name = f"{base}{n}"
        self.next[base] = n + 1
        self.taken.add(name)
        return name


def username_base(given: str, family: str) -> str:
    """``"Élodie-Anne", "Le Gall"`` -> ``"elodie-anne.le-gall"`` (ASCII)."""

    def ascii_part(text: str) -> str:
        text = (
            strip_accents(text).replace("ß", "ss").replace("æ", "ae").replace("œ", "oe")
        )
        text = text.replace("Æ", "ae").replace("Œ", "oe")
        kept = "".join(
            c if c.isascii() and (c.isalnum() or c == "-") else "-"
            for c in text.lower()
        )
        return "-".join(p for p in kept.split("-") if p)

    parts = [p for p in (ascii_part(given), ascii_part(family)) if p]
    return (".".join(parts) or "utilisateur")[:140]


# User field -> the PersonRecord field it comes from (``partial``).
_RECORD_FIELD = {
    "first_name": "given_name",
    "last_name": "family_name",
    "role": "role",
    "email": "email",
    "national_id": "national_id",
    "timetable_code": "timetable_code",
}
_ENROLLMENT_FIELDS = (
    "pk",
    "source",
    "sourced_id",
    "user_id",
    "school_class_id",
    "role",
)
_LINK_FIELDS = (
    "pk",
    "source",
    "sourced_id",
    "guardian_id",
    "student_id",
    "relationship",
)

_KIND_OF = {
    Org: "org",
    AcademicSession: "session",
    Course: "course",
    SchoolClass: "class",
    User: "person",
}


def _values(queryset, column: str | None, keys, *fields: str) -> Iterator[dict]:
    """``queryset.values(*fields)`` where ``column`` is in ``keys``, in chunks
    (SQLite takes 999 parameters a statement)."""
    if column is None:
        yield from queryset.values(*fields).iterator(chunk_size=5000)
        return
    for chunk in chunks(k for k in keys if k not in (None, "")):
        yield from where_in(queryset, column, chunk).values(*fields)


def _values_list(queryset, column: str | None, keys, *fields: str) -> Iterator[tuple]:
    if column is None:
        yield from queryset.values_list(*fields).iterator(chunk_size=5000)
        return
    for chunk in chunks(k for k in keys if k not in (None, "")):
        yield from where_in(queryset, column, chunk).values_list(*fields)


# ---------------------------------------------------------------------------
# Apply


def apply(
    the_plan: Plan,
    *,
    roster_import=None,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write ``the_plan``: orgs, then one transaction per org, then the last.

    ``progress(done, total)`` is called after each transaction with the
    number of roster records handled. Events and socket rechecks: see
    :mod:`core.roster.actions`.
    """
    with frozen_gc():
        _apply(the_plan, roster_import, progress)


def _apply(the_plan: Plan, roster_import, progress) -> None:
    total = sum(g.records for g in the_plan.groups) + len(the_plan.orgs_new)
    done = 0
    actions.write_orgs(the_plan)
    done += len(the_plan.orgs_new) + len(the_plan.orgs_changed)
    if progress:
        progress(min(done, total), total)
    for group in the_plan.groups:
        if group.writes():
            actions.write_group(the_plan, group, roster_import=roster_import)
        done += group.records
        if progress:
            progress(min(done, total), total)
    created = sum(
        len(g.people_new) + len(g.enrollments_new) + len(g.links_new)
        for g in the_plan.groups
    )
    if created >= ANALYZE_AFTER:
        actions.refresh_statistics()
