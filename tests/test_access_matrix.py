"""Who may read what: every page and API with an object of a school, every
socket stream, every role, two schools, one family in both (issue 13).

The fixture (``tests.conftest.build_school`` plus a school-life staff member
of the second school): Karim is the father of Léa (4e B, school A) and of
Inès (5e C, school B); Sophie the mother of Hugo (4e B); Alice teaches 4e B,
Oscar 5e C; Paul is school-life staff (CPE) of A, Berthe of B. Each school
has two lessons with its pupil absent; Sam (a teacher of A, enrolled
nowhere) took one more maths lesson of 4e B as a substitute (one excused with a document, one not)
and a conversation between its teacher and Karim with a file.

Each row of ``MATRIX`` names the people who may open a URL; everyone else
must get 404 (the product never tells "exists but not yours" from "does not
exist"), the anonymous visitor the login page. Then a guardian link and an
enrollment end, and every access derived from them ends at once: pages,
APIs, documents, conversations, socket streams.
"""

import datetime as dt
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from core.attendance import actions as attendance
from core.documents import access as documents_access
from core.documents import actions as documents
from core.grades import actions as grades
from core.grades.models import Period
from core.homework.actions import hand_in, set_homework
from core.homework.uploads import CheckedFile
from core.roster.actions import grant_school_life_staff
from core.roster.models import Enrollment, GuardianLink, User
from core.roster.streams import readable_streams
from core.schoollife.actions import publish_notice
from tests.conftest import build_school, login_verified, make_occurrence, make_user
from tests.hub.helpers import connect_as, receive
from tests.messaging.helpers import PDF, start, upload

PEOPLE = [
    "lea",
    "ines",
    "karim",
    "sophie",
    "alice",
    "oscar",
    "paul",
    "berthe",
    "sam",
]


@pytest.fixture
def world(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    school = build_school()
    berthe = make_user("berthe", User.Role.ADMINISTRATOR, "Berthe", "Morel")
    berthe.orgs.add(school.other_org)
    grant_school_life_staff(berthe)
    now = timezone.now()
    w = {"school": school}
    for key, school_class, teacher, pupil in [
        ("A", school.class_4b, school.teacher, school.pupil),
        ("B", school.other_class, school.outsider, school.other_child),
    ]:
        for n in (1, 2):
            occurrence = make_occurrence(
                school_class, now - dt.timedelta(minutes=10 * n), teachers=[teacher]
            )
            roll_call = attendance.take_roll_call(
                occurrence=occurrence,
                teacher=teacher,
                marks={pupil.pk: ("absent", None)},
            )
            w[f"occ{key}{n}"] = occurrence.pk
            w[f"rec{key}{n}"] = roll_call.records.get(student=pupil).pk
        record = roll_call.records.get(student=pupil)
        excuse = attendance.submit_excuse(
            record=record.__class__.objects.get(pk=w[f"rec{key}1"]),
            guardian=school.parent,
            reason="medical",
            document=upload("certificat.pdf"),
        )
        w[f"exc{key}"] = excuse.pk
        conversation = start(
            school if key == "A" else _OtherSchool(school),
            teacher,
            [school.parent],
            uploads=[upload("devoir.pdf", PDF)],
        )
        w[f"conv{key}"] = conversation.pk
        message = conversation.messages.get()
        w[f"msg{key}"] = message.pk
        w[f"att{key}"] = message.attachments.get().pk
        w[f"class{key}"] = school_class.pk
        homework = set_homework(
            teacher=teacher,
            school_class=school_class,
            subject="Mathématiques",
            title="Devoir maison",
            handin_required=True,
        )
        w[f"hw{key}"] = homework.pk
        w[f"hand{key}"] = hand_in(
            homework=homework,
            student=pupil,
            upload=CheckedFile(name="copie.pdf", mime="application/pdf", data=PDF),
        ).pk
        space = documents_access.get_space(teacher, "class", school_class.pk)
        item = documents.add_file(
            space=space, actor=teacher, upload=upload("cours.pdf", PDF)
        )
        w[f"doc{key}"] = item.versions.get().pk
        notice = publish_notice(
            author=school.cpe if key == "A" else berthe,
            org=school_class.org,
            title="Sortie",
            audience={"roles": ["guardian"], "classes": [school_class.pk]},
            requires_ack=True,
            attachments=[
                CheckedFile(name="autorisation.pdf", mime="application/pdf", data=PDF)
            ],
        )
        w[f"notice{key}"] = notice.pk
        w[f"nfile{key}"] = notice.attachments.get().pk
        period = Period.objects.create(
            org=school_class.org,
            session=school_class.session,
            title="Trimestre 2",
            start_date=dt.date(2025, 12, 1),
            end_date=dt.date(2026, 2, 28),
        )
        w[f"per{key}"] = period.pk
        w[f"eval{key}"] = grades.create_evaluation(
            teacher=teacher,
            school_class=school_class,
            subject="Mathématiques",
            title="Contrôle",
            date=dt.date(2026, 1, 12),
            coefficient=Decimal(1),
            out_of=Decimal(20),
        ).pk
    sam = make_user("sam", User.Role.TEACHER, "Sam", "Roux")
    sam.orgs.add(school.org)
    make_occurrence(school.class_4b, now - dt.timedelta(days=1), teachers=[sam])
    w["lea"], w["ines"] = school.pupil.pk, school.other_child.pk
    w["karim_id"] = school.parent.pk
    _report_cards(w, school, berthe)
    return w


def _report_cards(w, school, berthe) -> None:
    """Each school's Trimestre 2 published for its class and the PDFs made
    (the background task run in place): Léa's, Hugo's and Inès's cards."""
    from core.reportcards import actions as reportcards
    from core.reportcards import generation
    from core.reportcards.models import ReportCard

    for key, school_class, staff in [
        ("A", school.class_4b, school.cpe),
        ("B", school.other_class, berthe),
    ]:
        period = Period.objects.get(pk=w[f"per{key}"])
        publication = reportcards.publish(
            staff=staff, school_class=school_class, period=period
        )
        generation.generate(publication.pk, publication.generation)
    cards = {c.student_id: c.pk for c in ReportCard.objects.exclude(file="")}
    w["cardLea"] = cards[school.pupil.pk]
    w["cardHugo"] = cards[school.pupil2.pk]
    w["cardInes"] = cards[school.other_child.pk]


class _OtherSchool:
    """``start``'s school argument for school B (it reads ``.org``)."""

    def __init__(self, school):
        self.org = school.other_org


# (URL template, who may open it). Templates use the ids of ``world``.
MATRIX = [
    ("/absences/roll-call/{occA1}/", {"alice"}),
    ("/absences/roll-call/{occB1}/", {"oscar"}),
    ("/absences/{recA2}/excuse/", {"karim"}),
    ("/absences/{recB2}/excuse/", {"karim"}),
    ("/absences/excuses/{excA}/document/", {"karim", "paul"}),
    ("/absences/excuses/{excB}/document/", {"karim", "berthe"}),
    ("/messages/{convA}/", {"alice", "karim"}),
    ("/messages/{convB}/", {"oscar", "karim"}),
    ("/messages/files/{attA}/", {"alice", "karim"}),
    ("/messages/files/{attB}/", {"oscar", "karim"}),
    ("/messages/{convA}/api/messages/", {"alice", "karim"}),
    ("/messages/{convB}/api/messages/", {"oscar", "karim"}),
    ("/messages/api/conversations/{convA}/", {"alice", "karim"}),
    ("/messages/{convA}/api/messages/{msgA}/", {"alice", "karim"}),
    ("/api/timetable/{classA}/", {"lea", "karim", "sophie", "alice", "paul"}),
    ("/api/timetable/{classB}/", {"ines", "karim", "oscar", "berthe"}),
    ("/homework/class/{classA}/", {"alice", "paul"}),
    ("/homework/class/{classB}/", {"oscar", "berthe"}),
    ("/homework/class/{classA}/sessions/", {"lea", "karim", "sophie", "alice", "paul"}),
    ("/homework/class/{classB}/sessions/", {"ines", "karim", "oscar", "berthe"}),
    ("/homework/class/{classA}/workload/", {"alice"}),
    ("/homework/{hwA}/edit/", {"alice"}),
    ("/homework/{hwA}/handins/", {"alice"}),
    ("/homework/{hwB}/handins/", {"oscar"}),
    ("/homework/{hwA}/handins.zip", {"alice"}),
    ("/homework/handins/{handA}/file/", {"lea", "karim", "alice"}),
    ("/homework/handins/{handB}/file/", {"ines", "karim", "oscar"}),
    ("/homework/api/items/?child={lea}", {"lea", "karim"}),
    ("/homework/api/items/?child={ines}", {"ines", "karim"}),
    ("/documents/class/{classA}/", {"lea", "karim", "sophie", "alice", "paul"}),
    ("/documents/class/{classB}/", {"ines", "karim", "oscar", "berthe"}),
    ("/documents/files/{docA}/", {"lea", "karim", "sophie", "alice", "paul"}),
    ("/documents/files/{docB}/", {"ines", "karim", "oscar", "berthe"}),
    ("/schoollife/new/", {"paul", "berthe"}),
    ("/schoollife/{noticeA}/", {"karim", "sophie"}),
    ("/schoollife/{noticeB}/", {"karim"}),
    ("/schoollife/{noticeA}/status/", {"paul"}),
    ("/schoollife/{noticeB}/status/", {"berthe"}),
    ("/schoollife/{noticeA}/edit/", {"paul"}),
    ("/schoollife/{noticeA}/acknowledgements.csv", {"paul"}),
    ("/schoollife/files/{nfileA}/", {"karim", "sophie", "paul"}),
    ("/schoollife/files/{nfileB}/", {"karim", "berthe"}),
    ("/delivery/log/?user={lea}", {"paul"}),
    ("/delivery/log/?user={ines}", {"berthe"}),
    ("/delivery/log/?user={karim_id}", {"paul", "berthe"}),
    ("/grades/{evalA}/", {"alice"}),
    ("/grades/{evalB}/", {"oscar"}),
    ("/grades/{evalA}/edit/", {"alice"}),
    ("/grades/class/{classA}/new/", {"alice"}),
    ("/grades/class/{classB}/new/", {"oscar"}),
    ("/grades/class/{classA}/", {"alice", "paul"}),
    ("/grades/class/{classB}/", {"oscar", "berthe"}),
    ("/grades/class/{classA}/export.csv?period={perA}", {"alice", "paul"}),
    ("/grades/class/{classB}/export.csv?period={perB}", {"oscar", "berthe"}),
]

# Report card PDFs: the pupil's current guardians and the school's staff;
# not the pupil, not a teacher.
MATRIX += [
    ("/reportcards/{cardLea}/pdf/", {"karim", "paul"}),
    ("/reportcards/{cardHugo}/pdf/", {"sophie", "paul"}),
    ("/reportcards/{cardInes}/pdf/", {"karim", "berthe"}),
]


def _client(username: str | None) -> Client:
    client = Client()
    if username:
        login_verified(client, User.objects.get(username=username))
    return client


def _check(world, path: str, allowed: set[str], people=PEOPLE) -> list[str]:
    """Return the wrong answers for ``path`` (empty when all are right)."""
    url = path.format(**world)
    wrong = []
    anonymous = _client(None).get(url)
    if not (anonymous.status_code == 302 and "/login/" in anonymous["Location"]) and (
        anonymous.status_code not in (401, 403, 404)
    ):
        wrong.append(f"anonymous: {anonymous.status_code}")
    for username in people:
        status = _client(username).get(url).status_code
        expected = 200 if username in allowed else 404
        if status != expected:
            wrong.append(f"{username}: {status} (expected {expected})")
    return wrong


@pytest.mark.parametrize("path,allowed", MATRIX, ids=[row[0] for row in MATRIX])
def test_each_url_answers_exactly_the_people_allowed(world, path, allowed):
    assert _check(world, path, allowed) == []


def test_attendance_lists_hold_only_what_each_person_may_see(world):
    a = {world["recA1"], world["recA2"]}
    b = {world["recB1"], world["recB2"]}
    expected = {
        "lea": a,
        "ines": b,
        "karim": a | b,
        "sophie": set(),
        "alice": a,
        "oscar": b,
        "paul": a,
        "berthe": b,
    }
    for username, records in expected.items():
        rows = _client(username).get("/absences/api/records/").json()["records"]
        assert {row["id"] for row in rows} == records, username


# The streams each person reads (``hello``), by name: A/B orgs and classes.
STREAMS = {
    "lea": {"user:lea", "class:A", "org:A"},
    "ines": {"user:ines", "class:B", "org:B"},
    "karim": {"user:karim", "class:A", "class:B", "org:A", "org:B"},
    "sophie": {"user:sophie", "class:A", "org:A"},
    "alice": {"user:alice", "class:A", "org:A"},
    "oscar": {"user:oscar", "class:B", "org:B"},
    "paul": {"user:paul", "class:3e A", "class:A", "org:A"},
    "berthe": {"user:berthe", "class:B", "org:B"},
}


def _stream_names(world) -> dict[str, str]:
    school = world["school"]
    names = {f"user:{u.pk}": f"user:{u.username}" for u in User.objects.all()}
    names[f"class:{school.class_4b.pk}"] = "class:A"
    names[f"class:{school.other_class.pk}"] = "class:B"
    names[f"class:{school.class_3a.pk}"] = "class:3e A"
    names[f"org:{school.org.pk}"] = "org:A"
    names[f"org:{school.other_org.pk}"] = "org:B"
    return names


def test_each_person_reads_exactly_their_streams(world):
    names = _stream_names(world)
    for username, expected in STREAMS.items():
        user = User.objects.get(username=username)
        assert {names[s] for s in readable_streams(user)} == expected, username


@pytest.mark.django_db(transaction=True)
async def test_a_socket_may_subscribe_to_exactly_its_streams(world):
    names = await database_sync_to_async(_stream_names)(world)
    every = sorted(names)
    for username in ("karim", "paul", "oscar"):
        user = await User.objects.aget(username=username)
        socket = await connect_as(user)
        try:
            granted = set()
            for stream in every:
                await socket.send_json_to({"type": "subscribe", "streams": [stream]})
                reply = await receive(socket)
                if reply["type"] == "subscribed":
                    granted.add(names[stream])
                else:
                    assert reply["type"] == "error", reply
                    assert reply["code"] == "forbidden", reply
            assert granted == STREAMS[username], username
            assert {names[s] for s in socket.hello["streams"]} == STREAMS[username]
        finally:
            await socket.disconnect()


def test_when_a_guardian_link_ends_every_access_through_it_ends(world):
    school = world["school"]
    GuardianLink.objects.get(
        guardian=school.parent, student=school.other_child
    ).delete()

    for path in [
        "/absences/{recB2}/excuse/",
        "/absences/excuses/{excB}/document/",
        "/messages/{convB}/",
        "/messages/files/{attB}/",
        "/messages/{convB}/api/messages/",
        "/api/timetable/{classB}/",
        "/homework/class/{classB}/sessions/",
        "/homework/handins/{handB}/file/",
        "/homework/api/items/?child={ines}",
        "/documents/class/{classB}/",
        "/documents/files/{docB}/",
        "/schoollife/{noticeB}/",
        "/schoollife/files/{nfileB}/",
    ]:
        assert _check(world, path, set(), people=["karim"]) == [], path
    # What goes through Léa stays.
    for path in ["/absences/excuses/{excA}/document/", "/messages/{convA}/"]:
        assert _check(world, path, {"karim"}, people=["karim"]) == [], path
    rows = _client("karim").get("/absences/api/records/").json()["records"]
    assert {row["id"] for row in rows} == {world["recA1"], world["recA2"]}
    inbox = _client("karim").get("/messages/").content.decode()
    assert f"/messages/{world['convB']}/" not in inbox
    names = _stream_names(world)
    assert {names[s] for s in readable_streams(school.parent)} == {
        "user:karim",
        "class:A",
        "org:A",
    }
    # Berthe (school B's CPE) no longer counts Karim among her school's people.
    assert _check(world, "/delivery/log/?user={karim_id}", {"paul"}) == []


def test_when_a_guardian_link_ends_the_report_card_download_ends(world):
    school = world["school"]
    GuardianLink.objects.get(
        guardian=school.parent, student=school.other_child
    ).delete()
    assert _check(world, "/reportcards/{cardInes}/pdf/", set(), ["karim"]) == []
    assert _check(world, "/reportcards/{cardLea}/pdf/", {"karim"}, ["karim"]) == []


HOMEWORK_OF_A = [
    "/grades/{evalA}/",
    "/grades/class/{classA}/new/",
    "/grades/class/{classA}/export.csv?period={perA}",
    "/homework/class/{classA}/",
    "/homework/class/{classA}/sessions/",
    "/homework/class/{classA}/workload/",
    "/homework/{hwA}/edit/",
    "/homework/{hwA}/handins/",
    "/homework/{hwA}/handins.zip",
    "/homework/handins/{handA}/file/",
]


def test_when_a_teacher_enrollment_ends_the_homework_of_the_class_ends(world):
    """Alice stays named on 4e B's lessons; her enrollment ending is enough."""
    school = world["school"]
    assert _check(world, "/homework/class/{classA}/workload/", {"alice"}) == []
    Enrollment.objects.get(user=school.teacher, school_class=school.class_4b).delete()
    for path in HOMEWORK_OF_A:
        assert _check(world, path, set(), people=["alice"]) == [], path


def test_when_an_enrollment_ends_the_pupil_and_family_lose_the_class(world):
    school = world["school"]
    Enrollment.objects.get(user=school.pupil, school_class=school.class_4b).delete()

    for username in ("lea",):
        assert _check(world, "/api/timetable/{classA}/", set(), people=[username]) == []
        assert _check(world, "/documents/files/{docA}/", set(), people=[username]) == []
    names = _stream_names(world)
    assert {names[s] for s in readable_streams(school.pupil)} == {"user:lea"}
    # Karim keeps school B through Inès, loses 4e B (Léa's only class).
    assert {names[s] for s in readable_streams(school.parent)} == {
        "user:karim",
        "class:B",
        "org:B",
    }
    assert _check(world, "/messages/{convA}/", set(), people=["karim"]) == []


@pytest.mark.django_db(transaction=True)
async def test_an_open_socket_loses_the_streams_of_an_ended_link_at_once(world):
    school = world["school"]
    socket = await connect_as(school.parent)
    try:
        class_b = f"class:{school.other_class.pk}"
        org_b = f"org:{school.other_org.pk}"
        await socket.send_json_to({"type": "subscribe", "streams": [class_b, org_b]})
        assert (await receive(socket))["type"] == "subscribed"
        await database_sync_to_async(
            lambda: GuardianLink.objects.get(
                guardian=school.parent, student=school.other_child
            ).delete()
        )()
        frame = await receive(socket)
        assert frame["type"] == "unsubscribed", frame
        assert set(frame["streams"]) == {class_b, org_b}
    finally:
        await socket.disconnect()


# Agenda --------------------------------------------------------------------
# An entry and a parent–teacher evening of each school's class: staff manage
# their own school's, the evening's page is for them, the class's teachers
# and the guardians of its pupils.


@pytest.fixture
def agenda_world(world):
    from core.agenda import actions as agenda
    from core.roster.audience import Audience

    school = world["school"]
    berthe = User.objects.get(username="berthe")
    now = timezone.now()
    for key, org, school_class, staff in [
        ("A", school.org, school.class_4b, school.cpe),
        ("B", school.other_org, school.other_class, berthe),
    ]:
        world[f"entry{key}"] = agenda.create_entry(
            actor=staff,
            org=org,
            kind="class_council",
            title="Conseil de classe",
            start=now + dt.timedelta(days=3),
            end=now + dt.timedelta(days=3, hours=1),
            audience=Audience(org_id=org.pk, class_ids=frozenset({school_class.pk})),
        ).pk
        world[f"evening{key}"] = agenda.create_evening(
            actor=staff,
            org=org,
            title="Rencontres parents-professeurs",
            date=(now + dt.timedelta(days=10)).date(),
            class_ids=[school_class.pk],
            booking_opens=now - dt.timedelta(days=1),
            booking_closes=now + dt.timedelta(days=5),
        ).pk
    return world


AGENDA_MATRIX = [
    ("/agenda/new/", {"paul", "berthe"}),
    ("/agenda/evenings/new/", {"paul", "berthe"}),
    ("/agenda/{entryA}/edit/", {"paul"}),
    ("/agenda/{entryB}/edit/", {"berthe"}),
    ("/agenda/evenings/{eveningA}/", {"paul", "alice", "karim", "sophie"}),
    ("/agenda/evenings/{eveningB}/", {"berthe", "oscar", "karim"}),
]


@pytest.mark.parametrize(
    "path,allowed", AGENDA_MATRIX, ids=[row[0] for row in AGENDA_MATRIX]
)
def test_each_agenda_url_answers_exactly_the_people_allowed(
    agenda_world, path, allowed
):
    assert _check(agenda_world, path, allowed) == []


def test_when_a_guardian_link_ends_the_agenda_through_it_ends(agenda_world):
    school = agenda_world["school"]
    GuardianLink.objects.get(
        guardian=school.parent, student=school.other_child
    ).delete()
    assert _check(agenda_world, "/agenda/evenings/{eveningB}/", set(), ["karim"]) == []
    assert (
        _check(agenda_world, "/agenda/evenings/{eveningA}/", {"karim"}, ["karim"]) == []
    )
    page = _client("karim").get("/agenda/").content.decode()
    assert f"/agenda/evenings/{agenda_world['eveningB']}/" not in page
    assert f"/agenda/evenings/{agenda_world['eveningA']}/" in page
