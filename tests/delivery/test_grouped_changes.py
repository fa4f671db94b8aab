"""A re-import that changes seven lessons is one notification, not seven.

Each changed lesson still goes out live (``timetable.occurrence``, for open
weeks); the import's one ``timetable.changes`` is what the notification
centre counts and what planning turns into a notification, a push, an
e-mail or a digest item, for each reader of the class.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.roster.models import Enrollment, GuardianLink
from core.roster.streams import readers_of
from core.timetable.actions import change_occurrence, import_feed
from hub.delivery import actions, email_deliveries, inbox
from hub.delivery.models import Delivery, Notification
from hub.delivery.planning import plan_event
from hub.models import Event
from tests.conftest import capture_events, make_occurrence, make_user
from tests.delivery.helpers import run_tasks
from tests.timetable.conftest import FLOP_AFTER, FLOP_BEFORE

pytestmark = pytest.mark.django_db(transaction=True)

PARIS = ZoneInfo("Europe/Paris")
MORNING = dt.datetime(2026, 1, 19, 10, 0, tzinfo=PARIS)
EVENING = dt.datetime(2026, 1, 19, 18, 0, tzinfo=PARIS)
TITLE = "7 changements dans l'emploi du temps de 3e A"
BODY = (
    "R113 Examen déplacé au mar. 20/01 08:00, "
    "R114 Examen déplacé au mar. 20/01 09:30, "
    "R111 TD mar. 20/01 11:05 annulé, …\n"
    "Nouvel export"
)


@pytest.fixture
def class_3a(school, settings, smtp_server):
    """3e A with the flop!EDT "before" export: Chloé, her mother, Alice, the CPE.

    Chloé's phone is subscribed to push; her mother (timetable changes in
    the evening digest, the guardians' default) has an e-mail address.
    """
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_TIMEOUT = 1.0
    mother = make_user(
        "nadia", "guardian", "Nadia", "Bernard", email="nadia@example.org"
    )
    GuardianLink.objects.create(
        guardian=mother, student=school.pupil3, relationship="mère"
    )
    Enrollment.objects.create(
        user=school.teacher, school_class=school.class_3a, role="teacher"
    )
    with time_machine.travel(MORNING - dt.timedelta(days=3), tick=False):
        import_feed(
            school_class=school.class_3a, data=FLOP_BEFORE.read_bytes(), name="3a.ics"
        )
        run_tasks()
    school.mother = mother
    return school


def reimport(school):
    with time_machine.travel(MORNING, tick=False):
        import_feed(
            school_class=school.class_3a,
            data=FLOP_AFTER.read_bytes(),
            name="3a.ics",
            reason="Nouvel export",
        )
        run_tasks()


def test_seven_changes_are_one_notification_push_and_digest_item_each(
    class_3a, push_endpoint, smtp_server
):
    school = class_3a
    actions.subscribe(
        school.pupil3, push_endpoint.subscribe("chloe-phone"), "Firefox Android"
    )
    with capture_events() as events:
        reimport(school)

    # Open weeks get every lesson's new state, then the one notice.
    kinds = [e.kind for e in events]
    assert kinds == ["timetable.occurrence"] * 7 + ["timetable.changes"]

    readers = readers_of(f"class:{school.class_3a.pk}")
    assert {u.username for u in readers} == {"chloe", "nadia", "alice", "paul"}
    for reader in readers:
        (note,) = Notification.objects.filter(user=reader)
        assert (note.title, note.body) == (TITLE, BODY)
        assert note.url == f"/timetable/?class={school.class_3a.pk}&week=2026-01-19"
        assert inbox.unread_count(reader) == 1
        assert [e.kind for e in inbox.recent(reader)] == ["timetable.changes"]

    (push,) = push_endpoint.received("chloe-phone")
    assert (push.payload["title"], push.payload["body"]) == (TITLE, BODY)
    assert push.payload["tag"] == Notification.objects.get(user=school.pupil3).tag
    assert Delivery.objects.filter(user=school.pupil3, channel="push").count() == 1

    # Nadia: one item in the evening digest.
    assert Delivery.objects.filter(user=school.mother, channel="daily").count() == 1
    with time_machine.travel(EVENING, tick=False):
        email_deliveries.schedule_digests()
        run_tasks()
    (digest,) = [m for m in smtp_server.messages if m.rcpt_tos == ["nadia@example.org"]]
    assert digest.message["Subject"] == "Votre journée : 1 nouveauté"
    text = digest.message.get_body(("plain",)).get_content()
    assert text.count(TITLE) == 1
    assert "R111 TD mar. 20/01 11:05 annulé" in text
    assert "Cours annulé" not in text  # no line per lesson


def test_one_change_reads_as_that_change(class_3a, push_endpoint):
    school = class_3a
    actions.subscribe(
        school.pupil3, push_endpoint.subscribe("chloe-phone"), "Firefox Android"
    )
    lesson = make_occurrence(school.class_3a, MORNING + dt.timedelta(days=1))
    with time_machine.travel(MORNING, tick=False):
        change_occurrence(
            occurrence=lesson, actor=school.cpe, reason="Sortie", cancelled=True
        )
        run_tasks()
    (push,) = push_endpoint.received("chloe-phone")
    assert push.payload["title"] == (
        "Cours annulé\u00a0: Mathématiques, mar. 20/01 10:00"
    )
    assert push.payload["body"] == "Sortie"
    assert push.payload["tag"] == f"occurrence-{lesson.pk}"
    assert inbox.unread_count(school.pupil3) == 1
    # The CPE who changed it is told too, as before (a lesson change names no actor).
    assert Notification.objects.filter(user=school.cpe).count() == 1


def planning_queries(kind_event: Event) -> int:
    with CaptureQueriesContext(connection) as queries:
        counts = plan_event(kind_event.pk)
    assert counts["notifications"] == 4
    return len(queries)


def test_planning_a_batch_costs_what_planning_one_change_costs(
    class_3a, django_assert_max_num_queries
):
    """Planning runs once per action, whatever the number of lessons.

    Before batches, the re-import planned seven events: seven times these
    queries. Measured here on the four readers of 3e A: 15 statements since
    planning stopped costing 7 per reader (it was 38; the cost no longer
    grows with the readers, ``test_planning_costs.py``).
    """
    school = class_3a
    with time_machine.travel(MORNING, tick=False):
        import_feed(
            school_class=school.class_3a,
            data=FLOP_AFTER.read_bytes(),
            name="3a.ics",
            reason="Nouvel export",
        )
        lesson = make_occurrence(school.class_3a, MORNING + dt.timedelta(days=1))
        change_occurrence(occurrence=lesson, actor=None, reason="", cancelled=True)
    batch, single = Event.objects.filter(kind="timetable.changes").order_by("pk")
    assert (batch.payload["count"], single.payload["count"]) == (7, 1)
    with django_assert_max_num_queries(15):
        seven = planning_queries(batch)
    assert planning_queries(single) == seven
