"""Roster writes: what :func:`core.roster.sync.apply` does to the database,
one transaction at a time, with bulk statements (a handful per kind, never
one per row) and the events each change owes.

Who hears what (``notify=False``: open pages update, nothing is notified):

- ``roster.membership`` (``added`` / ``ended``) to the member and, for a
  pupil, to each of their guardians;
- ``roster.guardian_link`` (``added`` / ``ended``) to the guardian.

Only people who had an account before the import are told: an account the
import creates has never been used (its password is unusable until it is
activated), so no page of it is open, and a first import of a whole
département sends no event at all.

Open sockets: bulk statements send no ``post_save`` / ``post_delete``
signals, so the receivers of :mod:`core.roster.socket_access` do not run. Each
transaction therefore asks, on commit and once per user, the sockets of
everyone whose memberships changed (members, their guardians, guardians,
staff) to recheck their streams (``hub.recheck``), and closes the sockets
of the people it deactivates (``hub.close``, reason ``deactivated``).
"""

import secrets
from collections import defaultdict
from functools import partial
from typing import Literal

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, transaction
from django.utils import timezone

import hub
from core.audit import log as audit
from core.roster.bulk import chunks, where_in
from core.roster.events import GuardianLinkChanged, MembershipChanged
from core.roster.models import (
    AcademicSession,
    Course,
    EndedMembership,
    Enrollment,
    GuardianLink,
    Org,
    SchoolClass,
    User,
)
from core.roster.plans import Group, Member, NewMember, Plan, Staff
from core.roster.signals import memberships_ended
from hub.realtime.control import close_user_sockets, recheck_user_sockets
from hub.streams import user_stream

BATCH = 2000  # rows per INSERT / UPDATE statement

# What happened to a membership or a guardian link (core.roster.events).
Op = Literal["added", "ended"]


def write_orgs(plan: Plan) -> None:
    """Create and update the roster's orgs (one transaction); record the new
    ones' ids in ``plan.ids``."""
    if not plan.orgs_new and not plan.orgs_changed:
        return
    with transaction.atomic():
        new = [
            Org(
                name=(r.name or r.uai)[:200],
                uai=r.uai,
                academy=r.academy,
                source=plan.source,
                sourced_id=r.sourced_id,
            )
            for r in plan.orgs_new
        ]
        Org.objects.bulk_create(new, batch_size=BATCH)
        for org in new:
            plan.ids["org", org.sourced_id] = org.pk
        _bulk_update(Org, plan.orgs_changed)


def write_group(plan: Plan, group: Group, *, roster_import=None) -> None:
    """Write one group of the plan in one transaction, with its events; ask
    the sockets concerned to recheck (or close) once it commits."""
    ids = plan.ids
    source = plan.source
    with transaction.atomic():
        # Sessions, courses, classes.
        sessions = [
            AcademicSession(
                org_id=ids["org", r.org],
                title=r.title[:100],
                type=r.type if r.type == "schoolYear" else "term",
                start_date=r.start_date,
                end_date=r.end_date,
                source=source,
                sourced_id=r.sourced_id,
            )
            for r in group.sessions_new
        ]
        AcademicSession.objects.bulk_create(sessions, batch_size=BATCH)
        _remember(ids, "session", sessions)
        _bulk_update(
            AcademicSession,
            [
                (
                    pk,
                    {
                        "title": r.title[:100],
                        "type": r.type if r.type == "schoolYear" else "term",
                        "start_date": r.start_date,
                        "end_date": r.end_date,
                    },
                )
                for pk, r in group.sessions_changed
            ],
        )
        courses = [
            Course(
                org_id=ids["org", r.org],
                title=r.title[:200],
                code=r.code[:50],
                source=source,
                sourced_id=r.sourced_id,
            )
            for r in group.courses_new
        ]
        Course.objects.bulk_create(courses, batch_size=BATCH)
        _remember(ids, "course", courses)
        _bulk_update(
            Course,
            [
                (pk, {"title": r.title[:200], "code": r.code[:50]})
                for pk, r in group.courses_changed
            ],
        )
        classes = [
            SchoolClass(
                org_id=ids["org", r.org],
                session_id=ids["session", plan.class_session[r.sourced_id]],
                course_id=ids.get(("course", r.course)) if r.course else None,
                title=plan.class_title[r.sourced_id],
                class_type=r.class_type,
                source=source,
                sourced_id=r.sourced_id,
            )
            for r in group.classes_new
        ]
        SchoolClass.objects.bulk_create(classes, batch_size=BATCH)
        _remember(ids, "class", classes)
        for c in classes:
            plan.class_titles[c.pk] = c.title
        changed = []
        for pk, r in group.classes_changed:
            update = {
                "org_id": ids["org", r.org],
                "title": plan.class_title[r.sourced_id],
                "class_type": r.class_type,
                "course_id": ids.get(("course", r.course)) if r.course else None,
                "source": source,
                "sourced_id": r.sourced_id,
            }
            if plan.class_session.get(r.sourced_id):
                update["session_id"] = ids["session", plan.class_session[r.sourced_id]]
            changed.append((pk, update))
        _bulk_update(SchoolClass, changed)

        # People and staff memberships.
        people = []
        for r, username, active in group.people_new:
            user = User(
                username=username,
                first_name=r.given_name[:150],
                last_name=r.family_name[:150],
                email=r.email[:254],
                role=str(r.role),
                national_id=r.national_id[:20],
                timetable_code=r.timetable_code[:32],
                is_active=active,
                source=source,
                sourced_id=r.sourced_id,
            )
            # What set_unusable_password() stores ("!" and 40 random
            # characters), from one urandom call instead of 40 choices: a
            # quarter of a département's writes went to get_random_string.
            user.password = UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(20)
            people.append(user)
        User.objects.bulk_create(people, batch_size=BATCH)
        _remember(ids, "person", people)
        plan.created_users.update(u.pk for u in people)
        _bulk_update(User, [(pk, u) for pk, u in group.people_changed if u])
        Staff.objects.bulk_create(
            [
                Staff(user_id=ids["person", person], org_id=ids["org", org])
                for person, org in group.staff_add
            ],
            batch_size=BATCH,
            ignore_conflicts=True,
        )
        by_org = defaultdict(list)
        for user_id, org_id in group.staff_remove:
            by_org[org_id].append(user_id)
        for org_id, users in by_org.items():
            for chunk in chunks(users):
                where_in(Staff.objects.filter(org_id=org_id), "user_id", chunk).delete()

        # Memberships: the ended ones move to history before the new ones
        # are inserted (a moved membership keeps its source id).
        _end(Enrollment, group.enrollments_end, roster_import)
        _end(GuardianLink, group.links_end, roster_import)
        _bulk_update(
            Enrollment,
            [
                (pk, {"source": source, "sourced_id": sid})
                for pk, sid in group.enrollments_rekey
            ],
        )
        _bulk_update(
            GuardianLink,
            [
                (pk, {"source": source, "sourced_id": sid, "relationship": rel[:30]})
                for pk, sid, rel in group.links_update
            ],
        )
        enrollments = [
            Enrollment(
                user_id=ids["person", m.person],
                school_class_id=ids["class", m.other],
                role=m.role,
                source=source,
                sourced_id=m.sourced_id,
            )
            for m in group.enrollments_new
        ]
        Enrollment.objects.bulk_create(enrollments, batch_size=BATCH)
        links = [
            GuardianLink(
                guardian_id=ids["person", m.person],
                student_id=ids["person", m.other],
                relationship=m.role[:30],
                source=source,
                sourced_id=m.sourced_id,
            )
            for m in group.links_new
        ]
        GuardianLink.objects.bulk_create(links, batch_size=BATCH)
        for chunk in chunks(group.deactivate):
            where_in(User.objects.all(), "pk", chunk).update(is_active=False)

        _announce(plan, group, enrollments, links)


def _announce(
    plan: Plan,
    group: Group,
    enrollments: list[Enrollment],
    links: list[GuardianLink],
) -> None:
    """Send the group's membership events and plan the sockets' rechecks."""
    new = plan.created_users

    def known(pks) -> set[int]:
        return {pk for pk in pks if pk not in new}

    changes: list[tuple[int, int, str, Op]] = [
        (m.user_id, m.other_id, m.role, "ended") for m in group.enrollments_end
    ] + [(e.user_id, e.school_class_id, e.role, "added") for e in enrollments]
    pupils = {u for u, _, role, _ in changes if role == Enrollment.Role.STUDENT}
    guardians: dict[int, set[int]] = defaultdict(set)
    for chunk in chunks(pupils):
        for guardian, pupil in where_in(
            GuardianLink.objects.all(), "student_id", chunk
        ).values_list("guardian_id", "student_id"):
            if guardian not in new:
                guardians[pupil].add(guardian)
    for m in group.links_end:  # still their guardian when the class changed
        if m.user_id not in new and m.other_id in pupils:
            guardians[m.other_id].add(m.user_id)

    events: list[tuple[set[int], object]] = []
    for user_id, class_id, role, op in changes:
        told = known([user_id]) | guardians.get(user_id, set())
        if told:
            events.append(
                (
                    told,
                    MembershipChanged(
                        op=op,
                        user_id=user_id,
                        class_id=class_id,
                        class_title=plan.class_titles.get(class_id, ""),
                        role=role,
                    ),
                )
            )
    link_changes: list[tuple[int, int, str, Op]] = [
        (m.user_id, m.other_id, m.role, "ended") for m in group.links_end
    ] + [(g.guardian_id, g.student_id, g.relationship, "added") for g in links]
    link_changes = [c for c in link_changes if c[0] not in new]
    names = dict(
        (pk, f"{first} {last}".strip())
        for chunk in chunks({c[1] for c in link_changes})
        for pk, first, last in where_in(User.objects.all(), "pk", chunk).values_list(
            "pk", "first_name", "last_name"
        )
    )
    for guardian, pupil, relationship, op in link_changes:
        events.append(
            (
                {guardian},
                GuardianLinkChanged(
                    op=op,
                    guardian_id=guardian,
                    student_id=pupil,
                    student_name=names.get(pupil, ""),
                    relationship=relationship,
                ),
            )
        )
    if events:
        hub.lock_streams({user_stream(pk) for told, _ in events for pk in told})
        for told, event in events:
            hub.send_event([user_stream(pk) for pk in sorted(told)], event)

    recheck = {pk for told, _ in events for pk in told}
    recheck |= {u for u, _ in group.staff_remove} | {
        plan.ids["person", p] for p, _ in group.staff_add
    }
    recheck = known(recheck)
    ended = known(
        {m.user_id for m in group.enrollments_end}
        | {g for m in group.enrollments_end for g in guardians.get(m.user_id, ())}
        | {m.user_id for m in group.links_end}
        | {u for u, _ in group.staff_remove}
    )
    if ended:
        memberships_ended.send(sender=Group, user_ids=sorted(ended))
    recheck -= set(group.deactivate)
    if recheck:
        transaction.on_commit(partial(recheck_user_sockets, sorted(recheck)))
    for pk in group.deactivate:
        transaction.on_commit(partial(close_user_sockets, pk, "deactivated"))


def refresh_statistics() -> None:
    """Refresh the query planner's statistics of the roster tables (after a
    bulk import; see ``core.roster.sync.ANALYZE_AFTER``)."""
    tables = [
        model._meta.db_table
        for model in (User, Staff, Enrollment, GuardianLink, SchoolClass)
    ]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE " + ", ".join(quote(t) for t in tables))
        elif connection.vendor == "sqlite":
            for table in tables:
                cursor.execute(f"ANALYZE {quote(table)}")


def record_import(
    *, actor, roster_import_id: int, report_dict: dict, org_ids: list[int]
) -> None:
    """Write the audit entry of one import run: who imported which files,
    from which source, dry or not, and the counts per kind."""
    counts = {
        kind: {k: v for k, v in c.items() if v}
        for kind, c in report_dict["counts"].items()
    }
    audit.record(
        actor=actor,
        action="roster.imported",
        target_type="roster_import",
        target_id=roster_import_id,
        org_id=org_ids[0] if len(org_ids) == 1 else None,
        detail={
            "source": report_dict["source"],
            "mode": report_dict["mode"],
            "files": report_dict["files"],
            "dry_run": report_dict["dry_run"],
            "orgs": org_ids,
            "counts": {k: v for k, v in counts.items() if v},
            "rejected": len(report_dict["rejections"]),
        },
    )


def _remember(ids: dict, kind: str, rows: list) -> None:
    for row in rows:
        ids[kind, row.sourced_id] = row.pk


def _bulk_update(model, changes: list[tuple[int, dict]]) -> None:
    """Update rows by primary key: one ``bulk_update`` per set of fields."""
    by_fields = defaultdict(list)
    for pk, update in changes:
        if update:
            by_fields[tuple(sorted(update))].append(model(pk=pk, **update))
    for fields, objs in by_fields.items():
        model.objects.bulk_update(objs, fields, batch_size=BATCH // 2)


# What an ended row of each model keeps: its kind, and where its "other"
# (class or child) and its role (role or relationship) go in the history.
_HISTORY = {
    Enrollment: (EndedMembership.Kind.ENROLLMENT, "school_class_id", "role"),
    GuardianLink: (EndedMembership.Kind.GUARDIAN_LINK, "student_id", "relationship"),
}


def _end(model, members: list[Member], roster_import) -> None:
    """Move the rows of ``members`` (of ``model``) to history: insert their
    ``EndedMembership`` copies, delete the rows.

    The DELETE is plain SQL: a queryset's ``delete()`` would fetch every row
    to send ``post_delete`` to :mod:`core.roster.socket_access`, whose receiver queries the
    guardians of each (one query per row); :func:`_announce` does that work
    once for the whole group. Nothing references these rows.
    """
    if not members:
        return
    kind, other, role = _HISTORY[model]
    now = timezone.now()
    EndedMembership.objects.bulk_create(
        [
            EndedMembership(
                kind=kind,
                user_id=m.user_id,
                source=m.source,
                sourced_id=m.sourced_id,
                ended_at=now,
                roster_import=roster_import,
                **{other: m.other_id, role: m.role},
            )
            for m in members
        ],
        batch_size=BATCH,
    )
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        for chunk in chunks([m.pk for m in members]):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"DELETE FROM {table} WHERE id IN ({marks})", chunk)


__all__ = ["Member", "NewMember", "record_import", "write_group", "write_orgs"]


def grant_school_life_staff(user: User) -> None:
    """Put ``user`` in the "Vie scolaire" group (the school-life permissions).

    The group is made by migration ``roster.0003``; it is made again here,
    with :data:`core.roster.access.SCHOOL_LIFE_PERMISSIONS`, if someone
    deleted it. Which orgs the permissions apply to is ``user.orgs``
    (:func:`core.roster.access.staff_orgs`).
    """
    from django.contrib.auth.models import Group, Permission

    from core.roster.access import SCHOOL_LIFE_GROUP, SCHOOL_LIFE_PERMISSIONS

    group, created = Group.objects.get_or_create(name=SCHOOL_LIFE_GROUP)
    if created:
        for name in SCHOOL_LIFE_PERMISSIONS:
            app_label, codename = name.split(".")
            group.permissions.add(
                Permission.objects.get(
                    content_type__app_label=app_label, codename=codename
                )
            )
    user.groups.add(group)
