"""The roster sync: a Roster diffed against the hub and applied.

Rosters are built here record by record (the parsers have their own tests):
a small collège, ``0359999X``, with two classes, a teacher, two pupils and
their guardians.
"""

import dataclasses
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.audit.models import AuditEntry
from core.roster import sync
from core.roster.models import (
    AcademicSession,
    EndedMembership,
    Enrollment,
    GuardianLink,
    Org,
    SchoolClass,
    User,
)
from core.roster.records import (
    ClassRecord,
    EnrollmentRecord,
    GuardianLinkRecord,
    Mode,
    OrgRecord,
    PersonRecord,
    Rejection,
    Role,
    Roster,
    SessionRecord,
    Source,
)
from core.roster.report import ImportReport
from tests.conftest import capture_events
from tests.hub import conftest as hub_fixtures

pytestmark = pytest.mark.django_db

# The hub tests' fixtures, for the tests with open sockets.
hub_settings = hub_fixtures.hub_settings
sockets = hub_fixtures.sockets

FILE = "ENT_0359999X_Complet_Eleve_0000.xml"
UAI = "0359999X"


def org(sid="ORG1", uai=UAI, name="Collège Anne Frank", **kw) -> OrgRecord:
    return OrgRecord(sid, name, uai, file=FILE, line=1, **kw)


def year(sid="Y1", org="ORG1") -> SessionRecord:
    return SessionRecord(
        sid, org, "2025-2026", "schoolYear", dt.date(2025, 9, 1), dt.date(2026, 7, 4)
    )


def klass(sid, title, org="ORG1", session="Y1", **kw) -> ClassRecord:
    return ClassRecord(sid, org, title, session=session, file=FILE, line=5, **kw)


def person(sid, role, given, family, **kw) -> PersonRecord:
    kw.setdefault("line", 10)
    return PersonRecord(sid, Role(role), given, family, file=FILE, **kw)


def enrol(who, cls, role="student", **kw) -> EnrollmentRecord:
    kw.setdefault("line", 20)
    return EnrollmentRecord(who, cls, Role(role), file=FILE, **kw)


def link(guardian, student, relationship="mère", **kw) -> GuardianLinkRecord:
    kw.setdefault("line", 30)
    return GuardianLinkRecord(guardian, student, relationship, file=FILE, **kw)


EVERY_MEMBERSHIP = frozenset(
    {"enrollment:student", "enrollment:teacher", "guardian_link"}
)


def college(mode=Mode.COMPLETE, **changes) -> Roster:
    """The small collège; ``changes`` replaces whole lists."""
    roster = Roster(
        source=Source.AAF,
        mode=mode,
        complete_for=EVERY_MEMBERSHIP,
        orgs=[org()],
        sessions=[year()],
        classes=[klass("C4A", "4e A"), klass("C4B", "4e B")],
        people=[
            person("T1", "teacher", "Alice", "Durand", orgs=("ORG1",), email="a@x.fr"),
            person("E1", "student", "Léa", "Martin", national_id="123456789AB"),
            person("E2", "student", "Hugo", "Roux"),
            person("R1", "guardian", "Marc", "Martin", email="marc@x.fr"),
            person("R2", "guardian", "Anne", "Roux"),
        ],
        enrollments=[
            enrol("T1", "C4A", "teacher"),
            enrol("E1", "C4A"),
            enrol("E2", "C4A"),
        ],
        guardian_links=[link("R1", "E1", "père"), link("R2", "E2")],
    )
    for name, value in changes.items():
        setattr(roster, name, value)
    return roster


def run(roster: Roster, **options) -> ImportReport:
    report = ImportReport()
    sync.apply(sync.plan(roster, report), **options)
    return report


def counts(report: ImportReport, kind: str) -> dict:
    return dataclasses.asdict(report.counts[kind])


def user(sid: str) -> User:
    return User.objects.get(source="aaf", sourced_id=sid)


# First import ----------------------------------------------------------------


def test_first_import_creates_every_kind_with_its_source_id():
    report = run(college())

    school = Org.objects.get(uai=UAI)
    assert (school.name, school.source, school.sourced_id) == (
        "Collège Anne Frank",
        "aaf",
        "ORG1",
    )
    assert counts(report, "org")["created"] == 1
    assert counts(report, "person")["created"] == 5
    assert counts(report, "enrollment")["created"] == 3
    assert counts(report, "guardian_link")["created"] == 2
    lea = user("E1")
    assert (lea.username, lea.role, lea.national_id, lea.is_active) == (
        "lea.martin",
        "student",
        "123456789AB",
        True,
    )
    assert not lea.has_usable_password()
    teacher = user("T1")
    assert list(teacher.orgs.all()) == [school]
    assert teacher.email == "a@x.fr"
    assert set(
        Enrollment.objects.filter(school_class__sourced_id="C4A").values_list(
            "user__sourced_id", "role", "source", "sourced_id"
        )
    ) == {
        ("T1", "teacher", "aaf", "T1|C4A|teacher"),
        ("E1", "student", "aaf", "E1|C4A|student"),
        ("E2", "student", "aaf", "E2|C4A|student"),
    }
    assert GuardianLink.objects.get(student=lea).guardian == user("R1")
    assert GuardianLink.objects.get(student=lea).relationship == "père"


def test_usernames_are_ascii_lowercase_and_suffixed_on_collision(school):
    User.objects.create_user("lea.martin", role="student")
    people = [
        person("E1", "student", "Léa", "Martin"),
        person("E3", "student", "LÉA", "MARTIN"),
        person("E4", "student", "Zoë-Anne", "Le Gall d'Œuf"),
        person("E5", "student", "", ""),
    ]
    run(
        college(
            people=people,
            enrollments=[enrol(p.sourced_id, "C4A") for p in people],
            guardian_links=[],
        )
    )

    assert [user(s).username for s in ("E1", "E3", "E4", "E5")] == [
        "lea.martin2",
        "lea.martin3",
        "zoe-anne.le-gall-d-oeuf",
        "utilisateur",
    ]


def test_a_suggested_username_is_kept_when_free():
    people = [person("E1", "student", "Léa", "Martin", username="lmartin")]
    run(college(people=people, enrollments=[enrol("E1", "C4A")], guardian_links=[]))
    assert user("E1").username == "lmartin"


def test_first_import_uses_a_handful_of_queries_whatever_its_size():
    def queries(pupils: int) -> int:
        people = [
            person(f"E{pupils}-{n}", "student", "Élève", f"N{n}") for n in range(pupils)
        ]
        guardians = [
            person(f"R{pupils}-{n}", "guardian", "Parent", f"N{n}")
            for n in range(pupils)
        ]
        roster = college(
            orgs=[org(sid=f"ORG{pupils}", uai=f"03500{pupils:02d}X")],
            sessions=[year(sid=f"Y{pupils}", org=f"ORG{pupils}")],
            classes=[
                klass(f"C{pupils}", "6e A", org=f"ORG{pupils}", session=f"Y{pupils}")
            ],
            people=people + guardians,
            enrollments=[enrol(p.sourced_id, f"C{pupils}") for p in people],
            guardian_links=[
                link(f"R{pupils}-{n}", f"E{pupils}-{n}") for n in range(pupils)
            ],
        )
        with CaptureQueriesContext(connection) as captured:
            run(roster)
        return len(captured)

    # SQLite takes 999 parameters a statement: 60 people are two INSERTs.
    small, large = queries(5), queries(60)
    assert large - small <= 3
    assert large < 40


def test_an_org_without_a_name_keeps_the_hubs_or_gets_its_uai():
    Org.objects.create(name="Collège Jean Moulin", uai="0350005E")
    run(
        college(
            orgs=[org(name=""), org(sid="ORG2", uai="0350005E", name="")],
            people=[],
            enrollments=[],
            guardian_links=[],
        )
    )
    assert Org.objects.get(uai=UAI).name == UAI
    moulin = Org.objects.get(uai="0350005E")
    assert (moulin.name, moulin.source, moulin.sourced_id) == (
        "Collège Jean Moulin",
        "aaf",
        "ORG2",
    )


def test_a_class_without_session_gets_the_orgs_current_school_year():
    run(college(sessions=[], classes=[klass("C4A", "4e A", session="")]))
    session = SchoolClass.objects.get(sourced_id="C4A").session
    today = dt.date.today()
    assert session.type == AcademicSession.Type.SCHOOL_YEAR
    assert session.start_date <= today <= session.end_date
    # Re-imported: the same year, nothing new.
    report = run(college(sessions=[], classes=[klass("C4A", "4e A", session="")]))
    assert AcademicSession.objects.count() == 1
    assert not report.changed


def test_a_hand_made_class_of_the_same_title_is_taken_over(school):
    school.session.source, school.session.sourced_id = "aaf", "Y1"
    school.session.save()
    report = run(
        college(
            orgs=[org(uai=school.org.uai, name=school.org.name)],
            sessions=[],
            classes=[klass("C4B", "4e B")],
            people=[],
            enrollments=[],
            guardian_links=[],
        )
    )
    school.class_4b.refresh_from_db()
    assert (school.class_4b.source, school.class_4b.sourced_id) == ("aaf", "C4B")
    assert counts(report, "class")["updated"] == 1
    assert SchoolClass.objects.filter(title="4e B").count() == 1


# Rejections --------------------------------------------------------------------


def test_a_record_referring_to_something_missing_is_rejected_with_file_and_line():
    roster = college(
        enrollments=[enrol("E1", "C4A"), enrol("E2", "NOPE", line=41)],
        guardian_links=[link("R1", "E1"), link("R9", "E2", line=42)],
        classes=[klass("C4A", "4e A"), klass("C5", "5e", org="ORG9")],
    )
    roster.rejections.append(Rejection(FILE, 7, "person", "nom manquant"))

    report = run(roster)

    assert set(report.rejections) == {
        Rejection(FILE, 7, "person", "nom manquant"),
        Rejection(FILE, 5, "class", "établissement inconnu : ORG9"),
        Rejection(FILE, 41, "enrollment", "classe inconnue : NOPE"),
        Rejection(FILE, 42, "guardian_link", "responsable inconnu : R9"),
    }
    assert counts(report, "enrollment") == {
        "created": 1,
        "updated": 0,
        "deactivated": 0,
        "unchanged": 0,
        "rejected": 1,
    }
    assert counts(report, "person")["rejected"] == 1
    # The rest went in.
    assert Enrollment.objects.filter(user=user("E1")).exists()
    # Hugo has no class: his account exists but is not active.
    assert not user("E2").is_active


def test_duplicates_and_unknown_roles_are_rejected():
    roster = college(
        people=[
            person("E1", "student", "Léa", "Martin"),
            person("E1", "student", "Léa", "Martin", line=11),
            PersonRecord("X", "janitor", "Jo", "Doe", file=FILE, line=12),
        ],
        enrollments=[enrol("E1", "C4A"), enrol("E1", "C4A", line=21)],
        guardian_links=[],
    )
    report = run(roster)
    assert {(r.line, r.kind) for r in report.rejections} == {
        (11, "person"),
        (12, "person"),
        (21, "enrollment"),
    }
    assert User.objects.filter(sourced_id="E1").count() == 1


# Re-import ----------------------------------------------------------------------


def test_reimporting_the_same_roster_changes_nothing_and_sends_no_event():
    run(college())
    before = list(User.objects.values_list("pk", "username", "is_active"))

    with (
        capture_events() as events,
        CaptureQueriesContext(connection) as captured,
    ):
        report = run(college())

    assert events == []
    assert not report.changed
    assert counts(report, "person") == {
        "created": 0,
        "updated": 0,
        "deactivated": 0,
        "unchanged": 5,
        "rejected": 0,
    }
    assert counts(report, "enrollment")["unchanged"] == 3
    assert counts(report, "guardian_link")["unchanged"] == 2
    writes = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")
    ]
    assert writes == []
    assert list(User.objects.values_list("pk", "username", "is_active")) == before


def test_an_update_changes_the_fields_and_keeps_what_the_file_leaves_blank():
    run(college())
    people = college().people
    people[1] = person("E1", "student", "Léa", "Martin-Roux")  # no INE given
    people[3] = person("R1", "guardian", "Marc", "Martin", email="new@x.fr")

    report = run(college(people=people))

    lea, marc = user("E1"), user("R1")
    assert (lea.last_name, lea.national_id, lea.username) == (
        "Martin-Roux",
        "123456789AB",
        "lea.martin",
    )
    assert marc.email == "new@x.fr"
    assert counts(report, "person")["updated"] == 2
    assert counts(report, "person")["unchanged"] == 3


# Ending: complete and delta ---------------------------------------------------------


def test_complete_files_end_only_the_memberships_they_carry():
    # A SIECLE pupils' export without the guardians' one, an AAF set without
    # its PersEducNat files: complete for the pupils' classes only.
    run(college())
    roster = college(complete_for=frozenset({"enrollment:student"}))
    roster.enrollments = [e for e in roster.enrollments if e.role != "teacher"]
    roster.guardian_links = []

    report = run(roster)

    assert Enrollment.objects.filter(user=user("T1"), role="teacher").exists()
    assert GuardianLink.objects.count() == 2
    assert user("R1").is_active and user("T1").is_active
    assert not EndedMembership.objects.exists()
    assert counts(report, "enrollment")["deactivated"] == 0
    assert counts(report, "guardian_link")["deactivated"] == 0


def test_a_rejected_row_keeps_its_persons_memberships_in_complete_mode():
    # This year's file has Léa's record without a first name: the parser
    # rejects it (and so her class and her father's link); nothing of hers ends.
    run(college())
    roster = college()
    roster.people = [p for p in roster.people if p.sourced_id != "E1"]
    roster.enrollments = [e for e in roster.enrollments if e.person != "E1"]
    roster.guardian_links = [g for g in roster.guardian_links if g.student != "E1"]
    roster.rejections = [
        Rejection(FILE, 12, "person", "personne E1 : nom ou prénom manquant", "E1")
    ]

    report = run(roster)

    assert Enrollment.objects.filter(user=user("E1")).exists()
    assert GuardianLink.objects.filter(student=user("E1"), guardian=user("R1")).exists()
    assert user("E1").is_active and user("R1").is_active
    assert not EndedMembership.objects.exists()
    assert counts(report, "person")["rejected"] == 1


def test_complete_mode_ends_what_the_file_no_longer_lists_and_keeps_history():
    run(college())
    lea, marc = user("E1"), user("R1")
    roster = college()
    roster.people = [p for p in roster.people if p.sourced_id not in ("E1", "R1")]
    roster.enrollments = [e for e in roster.enrollments if e.person != "E1"]
    roster.guardian_links = [g for g in roster.guardian_links if g.student != "E1"]

    report = run(roster)

    assert not Enrollment.objects.filter(user=lea).exists()
    assert not GuardianLink.objects.filter(guardian=marc).exists()
    history = EndedMembership.objects.order_by("kind")
    assert [
        (h.kind, h.user_id, h.school_class_id, h.student_id, h.sourced_id)
        for h in history
    ] == [
        (
            "enrollment",
            lea.pk,
            SchoolClass.objects.get(sourced_id="C4A").pk,
            None,
            "E1|C4A|student",
        ),
        ("guardian_link", marc.pk, None, lea.pk, "R1|E1"),
    ]
    lea.refresh_from_db()
    marc.refresh_from_db()
    assert not lea.is_active and not marc.is_active  # never deleted
    assert counts(report, "person")["deactivated"] == 2
    assert counts(report, "enrollment")["deactivated"] == 1
    assert counts(report, "guardian_link")["deactivated"] == 1
    # Ended again: nothing more.
    again = run(roster)
    assert not again.changed
    assert EndedMembership.objects.count() == 2


def test_complete_mode_leaves_other_orgs_and_other_sources_alone(school):
    run(college())
    # A child of Marc at another school, known from SIECLE.
    other = User.objects.create_user(
        "zoe", role="student", source="siecle", sourced_id="S-ZOE"
    )
    Enrollment.objects.create(
        user=other,
        school_class=school.other_class,
        role="student",
        source="aaf",
        sourced_id="Z|OTHER|student",
    )
    GuardianLink.objects.create(
        guardian=user("R1"), student=other, source="aaf", sourced_id="R1|ZOE"
    )
    roster = college(guardian_links=[link("R2", "E2")])  # R1 -> E1 gone

    run(roster)

    assert GuardianLink.objects.filter(guardian=user("R1"), student=other).exists()
    assert Enrollment.objects.filter(user=other).exists()
    assert user("R1").is_active  # still a guardian of Zoé


def test_delta_mode_ends_only_what_it_marks_ended():
    run(college())
    delta = Roster(
        source=Source.AAF,
        mode=Mode.DELTA,
        enrollments=[enrol("E2", "C4A", active=False)],
        guardian_links=[link("R2", "E2", active=False)],
    )

    report = run(delta)

    assert not Enrollment.objects.filter(user=user("E2")).exists()
    assert Enrollment.objects.filter(user=user("E1")).exists()  # not listed: kept
    assert not user("E2").is_active and not user("R2").is_active
    assert user("E1").is_active and user("R1").is_active
    assert counts(report, "person")["deactivated"] == 2


def test_a_person_marked_deleted_loses_every_membership_of_the_source():
    run(college())
    delta = Roster(
        source=Source.AAF,
        mode=Mode.DELTA,
        people=[person("T1", "teacher", "Alice", "Durand", active=False)],
    )
    run(delta)
    alice = user("T1")
    assert not alice.is_active
    assert not alice.orgs.exists()
    assert not Enrollment.objects.filter(user=alice).exists()


def test_a_person_who_comes_back_is_reactivated():
    run(college())
    roster = college()
    roster.enrollments = [e for e in roster.enrollments if e.person != "E2"]
    run(roster)
    assert not user("E2").is_active

    report = run(college())

    assert user("E2").is_active
    assert Enrollment.objects.filter(user=user("E2")).exists()
    assert EndedMembership.objects.filter(user=user("E2")).count() == 1
    assert counts(report, "person")["updated"] == 1


def test_complete_mode_removes_staff_the_file_no_longer_lists():
    run(college())
    roster = college()
    roster.people = [p for p in roster.people if p.sourced_id != "T1"]
    roster.enrollments = [e for e in roster.enrollments if e.person != "T1"]
    run(roster)
    alice = user("T1")
    assert not alice.orgs.exists() and not alice.is_active


def test_a_pupil_cannot_become_staff_through_the_file():
    people = [person("E1", "student", "Léa", "Martin", orgs=("ORG1",))]
    run(college(people=people, enrollments=[enrol("E1", "C4A")], guardian_links=[]))
    assert not user("E1").orgs.exists()


# Events --------------------------------------------------------------------------------


def test_a_first_import_tells_no_one():
    with capture_events() as events:
        run(college())
    assert events == []


def test_a_delta_moving_a_pupil_emits_one_ended_and_one_added_membership():
    run(college())
    lea, marc = user("E1"), user("R1")
    c4a, c4b = (SchoolClass.objects.get(sourced_id=s) for s in ("C4A", "C4B"))
    delta = Roster(
        source=Source.AAF,
        mode=Mode.DELTA,
        enrollments=[enrol("E1", "C4A", active=False), enrol("E1", "C4B")],
    )

    with capture_events() as events:
        report = run(delta)

    assert sorted(
        (e.stream, e.kind, e.op, e.data["class_id"]) for e in events
    ) == sorted(
        [
            (f"user:{lea.pk}", "roster.membership", "ended", c4a.pk),
            (f"user:{marc.pk}", "roster.membership", "ended", c4a.pk),
            (f"user:{lea.pk}", "roster.membership", "added", c4b.pk),
            (f"user:{marc.pk}", "roster.membership", "added", c4b.pk),
        ]
    )
    added = next(e for e in events if e.op == "added")
    assert added.data == {
        "user_id": lea.pk,
        "class_id": c4b.pk,
        "class_title": "4e B",
        "role": "student",
    }
    assert counts(report, "enrollment")["created"] == 1
    assert counts(report, "enrollment")["deactivated"] == 1
    assert counts(report, "person")["deactivated"] == 0


def test_a_guardian_link_ending_is_told_to_the_guardian():
    run(college())
    marc, lea = user("R1"), user("E1")
    delta = Roster(
        source=Source.AAF,
        mode=Mode.DELTA,
        guardian_links=[link("R1", "E1", "père", active=False)],
    )
    with capture_events() as events:
        run(delta)
    assert [(e.stream, e.kind, e.op, e.data) for e in events] == [
        (
            f"user:{marc.pk}",
            "roster.guardian_link",
            "ended",
            {
                "guardian_id": marc.pk,
                "student_id": lea.pk,
                "student_name": "Léa Martin",
                "relationship": "père",
            },
        )
    ]


def test_sockets_are_rechecked_and_a_deactivated_users_closed_on_commit(
    monkeypatch, django_capture_on_commit_callbacks
):
    from core.roster import actions

    run(college())
    calls = []
    monkeypatch.setattr(
        actions, "recheck_user_sockets", lambda pks: calls.append(("recheck", pks))
    )
    monkeypatch.setattr(
        actions,
        "close_user_sockets",
        lambda pk, reason: calls.append(("close", pk, reason)),
    )
    delta = Roster(
        source=Source.AAF,
        mode=Mode.DELTA,
        enrollments=[enrol("E2", "C4A", active=False)],
        guardian_links=[link("R1", "E1", active=False)],
    )
    with django_capture_on_commit_callbacks(execute=True):
        run(delta)
    e2, r1, r2 = user("E2"), user("R1"), user("R2")
    # E2 lost their class (and R2 sees it through E2): rechecked when the
    # org's transaction commits. R1 lost their only child. E2 and R1, left
    # with nothing, are closed when the last transaction commits.
    assert sorted(calls, key=str) == sorted(
        [
            ("recheck", sorted([e2.pk, r2.pk])),
            ("close", e2.pk, "deactivated"),
            ("close", r1.pk, "deactivated"),
        ],
        key=str,
    )


def test_dry_plan_writes_nothing():
    roster = college()
    with CaptureQueriesContext(connection) as captured:
        report = sync.plan(roster).report
    assert report.changed
    # (PostgreSQL reads big results through a server-side cursor: DECLARE.)
    assert not [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")
    ]
    assert not User.objects.exists()


def test_audit_is_not_written_by_the_sync_alone():
    run(college())
    assert not AuditEntry.objects.filter(action="roster.imported").exists()


# Open sockets ---------------------------------------------------------------------------


def tag_school(school) -> dict:
    """Give the personas' school AAF source ids, as if it had been imported;
    return the complete roster of ``school.org`` that matches it."""
    from core.roster.models import Org as OrgModel

    OrgModel.objects.filter(pk=school.org.pk).update(source="aaf", sourced_id="ORG1")
    AcademicSession.objects.filter(pk=school.session.pk).update(
        source="aaf", sourced_id="Y1"
    )
    for cls, sid in ((school.class_4b, "C4B"), (school.class_3a, "C3A")):
        SchoolClass.objects.filter(pk=cls.pk).update(source="aaf", sourced_id=sid)
    people = {
        "T1": school.teacher,
        "E1": school.pupil,
        "E2": school.pupil2,
        "E3": school.pupil3,
        "R1": school.parent,
        "R2": school.other_parent,
        "P1": school.cpe,
    }
    for sid, who in people.items():
        User.objects.filter(pk=who.pk).update(source="aaf", sourced_id=sid)
    sid_of = {who.pk: sid for sid, who in people.items()}
    class_sid = {school.class_4b.pk: "C4B", school.class_3a.pk: "C3A"}
    for e in Enrollment.objects.filter(school_class__org=school.org):
        Enrollment.objects.filter(pk=e.pk).update(
            source="aaf",
            sourced_id=f"{sid_of[e.user_id]}|{class_sid[e.school_class_id]}|{e.role}",
        )
    for g in GuardianLink.objects.filter(student__in=[school.pupil, school.pupil2]):
        GuardianLink.objects.filter(pk=g.pk).update(
            source="aaf", sourced_id=f"{sid_of[g.guardian_id]}|{sid_of[g.student_id]}"
        )
    roster = Roster(
        source=Source.AAF,
        mode=Mode.COMPLETE,
        complete_for=EVERY_MEMBERSHIP,
        orgs=[org(uai=school.org.uai, name=school.org.name)],
        sessions=[
            SessionRecord(
                "Y1",
                "ORG1",
                school.session.title,
                "schoolYear",
                school.session.start_date,
                school.session.end_date,
            )
        ],
        classes=[klass("C4B", "4e B"), klass("C3A", "3e A")],
        people=[
            person(
                sid,
                who.role,
                who.first_name,
                who.last_name,
                orgs=("ORG1",) if who.role in ("teacher", "administrator") else (),
                timetable_code=who.timetable_code,
            )
            for sid, who in people.items()
        ],
        enrollments=[
            enrol("T1", "C4B", "teacher"),
            enrol("E1", "C4B"),
            enrol("E2", "C4B"),
            enrol("E3", "C3A"),
        ],
        guardian_links=[link("R1", "E1", "père"), link("R2", "E2", "mère")],
    )
    return roster


def test_the_tagged_school_reimports_unchanged(school):
    roster = tag_school(school)
    with capture_events() as events:
        report = run(roster)
    assert events == [] and not report.changed, report.lines()


@pytest.mark.django_db(transaction=True)
async def test_a_guardian_whose_link_ended_loses_the_childs_class_at_once(
    school, sockets
):
    from channels.db import database_sync_to_async

    from tests.hub.helpers import aemit, assert_silent, receive, request

    roster = await database_sync_to_async(tag_school)(school)
    socket = await sockets(school.parent)
    lost, kept = f"class:{school.class_4b.pk}", f"class:{school.other_class.pk}"
    reply = await request(
        socket, {"type": "subscribe", "id": "s", "streams": [lost, kept]}
    )
    assert reply["type"] == "subscribed", reply
    delta = Roster(
        source=Source.AAF,
        mode=Mode.DELTA,
        guardian_links=[link("R1", "E1", "père", active=False)],
    )
    del roster

    await database_sync_to_async(run)(delta)

    assert await receive(socket) == {
        "type": "unsubscribed",
        "streams": [lost],
        "reason": "forbidden",
    }
    await aemit([lost, kept])
    frame = await receive(socket)
    assert (frame["type"], frame["stream"]) == ("event", kept)
    await assert_silent(socket)


@pytest.mark.django_db(transaction=True)
async def test_a_family_with_children_in_two_schools_keeps_the_other_school(
    school, sockets
):
    """School A's complete file no longer lists Léa: her class and her link
    to Karim end, her account closes; Karim keeps Inès's school (B)."""
    from channels.db import database_sync_to_async

    from tests.hub.helpers import aemit, assert_silent, receive, receive_close, request

    roster = await database_sync_to_async(tag_school)(school)
    roster.people = [p for p in roster.people if p.sourced_id != "E1"]
    roster.enrollments = [e for e in roster.enrollments if e.person != "E1"]
    roster.guardian_links = [g for g in roster.guardian_links if g.student != "E1"]
    parent = await sockets(school.parent)
    pupil = await sockets(school.pupil)
    lost, kept = f"class:{school.class_4b.pk}", f"class:{school.other_class.pk}"
    reply = await request(
        parent, {"type": "subscribe", "id": "s", "streams": [lost, kept]}
    )
    assert reply["type"] == "subscribed", reply

    await database_sync_to_async(run)(roster)

    assert await receive(parent) == {
        "type": "unsubscribed",
        "streams": [lost],
        "reason": "forbidden",
    }
    frames, code = await receive_close(pupil)
    assert code == 4403, frames
    await aemit([lost, kept])
    frame = await receive(parent)
    assert (frame["type"], frame["stream"]) == ("event", kept)
    await assert_silent(parent)
    inactive = await database_sync_to_async(
        lambda: User.objects.get(pk=school.pupil.pk).is_active
    )()
    assert inactive is False
    assert await database_sync_to_async(
        lambda: GuardianLink.objects.filter(
            guardian=school.parent, student=school.other_child
        ).exists()
    )()


# Deltas that restate (AAF modifyRequest) ------------------------------------------------


def test_a_delta_restating_a_pupils_classes_moves_them():
    """An AAF modifyRequest lists the pupil's classes in full: the one it
    no longer lists ends, with one ended and one added event."""
    run(college())
    lea = user("E1")
    delta = Roster(
        source=Source.AAF,
        mode=Mode.DELTA,
        enrollments=[enrol("E1", "C4B")],
        restated=[("E1", "homeroom")],
    )
    with capture_events() as events:
        report = run(delta)
    assert list(
        Enrollment.objects.filter(user=lea).values_list(
            "school_class__sourced_id", flat=True
        )
    ) == ["C4B"]
    assert sorted(e.op for e in events if e.stream == f"user:{lea.pk}") == [
        "added",
        "ended",
    ]
    assert counts(report, "enrollment")["deactivated"] == 1


def test_a_delta_restating_a_pupils_guardians_ends_the_missing_link():
    roster = college(
        guardian_links=[link("R1", "E1"), link("R2", "E1"), link("R2", "E2")]
    )
    run(roster)
    delta = Roster(
        source=Source.AAF,
        mode=Mode.DELTA,
        guardian_links=[link("R1", "E1")],
        restated=[("E1", "guardian")],
    )
    run(delta)
    assert set(
        GuardianLink.objects.values_list("guardian__sourced_id", "student__sourced_id")
    ) == {("R1", "E1"), ("R2", "E2")}


def test_a_partial_record_changes_only_the_fields_it_names():
    run(college())
    delta = Roster(
        source=Source.AAF,
        mode=Mode.DELTA,
        people=[
            person("R1", "guardian", "", "", email="nouveau@x.fr", partial=("email",))
        ],
    )
    report = run(delta)
    marc = user("R1")
    assert (marc.first_name, marc.last_name, marc.email) == (
        "Marc",
        "Martin",
        "nouveau@x.fr",
    )
    assert marc.is_active
    assert counts(report, "person")["updated"] == 1


def test_a_partial_record_of_someone_unknown_without_a_name_is_rejected():
    delta = Roster(
        source=Source.AAF,
        mode=Mode.DELTA,
        people=[person("R9", "guardian", "", "", email="x@x.fr", partial=("email",))],
    )
    report = run(delta)
    assert [r.kind for r in report.rejections] == ["person"]
    assert not User.objects.exists()


def test_a_big_import_refreshes_the_planners_statistics(monkeypatch):
    monkeypatch.setattr(sync, "ANALYZE_AFTER", 5)
    with CaptureQueriesContext(connection) as captured:
        run(college())
    assert any(q["sql"].startswith("ANALYZE") for q in captured.captured_queries)
    with CaptureQueriesContext(connection) as captured:
        run(college())  # nothing created: no refresh
    assert not any(q["sql"].startswith("ANALYZE") for q in captured.captured_queries)


def test_an_import_ending_a_link_ends_the_conversations_it_gave(school):
    """Access follows the roster on the bulk path too: Sophie's only tie to
    school A is Hugo; once the file no longer lists her as his guardian, she
    is out of the school's conversations (and the audit says why)."""
    from core.audit.models import AuditEntry
    from core.messaging.models import Participant
    from tests.messaging.helpers import start

    conversation = start(school, school.teacher, [school.other_parent])
    roster = tag_school(school)
    roster.guardian_links = [link("R1", "E1", "père")]
    run(roster)

    assert not Participant.objects.filter(
        conversation=conversation, user=school.other_parent
    ).exists()
    assert Participant.objects.filter(
        conversation=conversation, user=school.teacher
    ).exists()
    entry = AuditEntry.objects.get(action="conversation.left")
    assert (entry.target_id, entry.detail["user"]) == (
        conversation.pk,
        school.other_parent.pk,
    )
