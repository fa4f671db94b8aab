"""What planning one event costs, whatever the number of its readers, and
how a second planner of the same event adds nothing (bench
``homework_publish.py``: it cost 7 queries per reader).

The classes here mix every kind of reader planning tells apart: pupils with
a phone subscribed and without, guardians with the digest (the default),
with e-mail right away, with a time zone of their own, with "off", and a
family in two schools.
"""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import close_old_connections, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.roster.access import orgs_of, orgs_of_users
from core.roster.models import Enrollment, GuardianLink, SchoolClass, User
from core.timetable.actions import change_occurrence
from hub.delivery.models import (
    Delivery,
    DeliverySettings,
    EmailSend,
    Notification,
    Preference,
    PushSubscription,
)
from hub.delivery.planning import plan_event
from hub.delivery.preferences import school_zones
from hub.models import Event
from tests.conftest import make_occurrence, make_user

PARIS = ZoneInfo("Europe/Paris")
MORNING = dt.datetime(2026, 1, 19, 10, 0, tzinfo=PARIS)


def make_class(school, title: str, pupils: int) -> SchoolClass:
    """A class of ``pupils`` pupils with two guardians each, and its teacher.

    By pupil number ``n``: even pupils have a phone subscribed; ``n % 3``
    picks the family's choices: 0, the first guardian wants e-mail right
    away; 1, the second guardian set a time zone of their own; 2, the pupil
    turned timetable changes off. The first pupil's first guardian also has
    a child in the other school (so two schools, the first by name).
    """
    school_class = SchoolClass.objects.create(
        org=school.org, session=school.session, title=title
    )
    teacher = make_user(f"{title}-teacher", "teacher", "Prof", title)
    Enrollment.objects.create(user=teacher, school_class=school_class, role="teacher")
    for n in range(pupils):
        pupil = make_user(f"{title}-pupil-{n}", "student", f"Élève {n}", title)
        Enrollment.objects.create(user=pupil, school_class=school_class, role="student")
        guardians = [
            make_user(
                f"{title}-guardian-{n}-{g}",
                "guardian",
                f"Parent {n}.{g}",
                title,
                email=f"{title}-{n}-{g}@example.org".replace(" ", ""),
            )
            for g in range(2)
        ]
        for guardian in guardians:
            GuardianLink.objects.create(guardian=guardian, student=pupil)
        if n % 2 == 0:
            PushSubscription.objects.create(
                user=pupil,
                endpoint=f"https://push.example.org/{title}/{n}".replace(" ", "-"),
                p256dh="p" * 87,
                auth="a" * 22,
            )
        if n % 3 == 0:
            Preference.objects.create(
                user=guardians[0], category="timetable", email=True
            )
        elif n % 3 == 1:
            DeliverySettings.objects.create(
                user=guardians[1], time_zone="America/Cayenne"
            )
        else:
            Preference.objects.create(user=pupil, category="timetable", inapp=False)
        if n == 0:
            GuardianLink.objects.create(
                guardian=guardians[0], student=school.other_child
            )
    return school_class


def cancel_a_lesson(school_class: SchoolClass) -> Event:
    """Cancel a lesson of ``school_class`` (nobody acting); return its event."""
    lesson = make_occurrence(school_class, MORNING + dt.timedelta(days=1))
    with time_machine.travel(MORNING, tick=False):
        change_occurrence(occurrence=lesson, actor=None, reason="", cancelled=True)
    return Event.objects.filter(kind="timetable.changes").latest("pk")


def plan(event: Event) -> tuple[dict, int]:
    with CaptureQueriesContext(connection) as queries:
        counts = plan_event(event.pk, now=MORNING)
    return counts, len(queries)


@pytest.mark.django_db
def test_planning_costs_the_same_for_a_class_three_times_bigger(school):
    small = cancel_a_lesson(make_class(school, "5e C", pupils=3))
    big = cancel_a_lesson(make_class(school, "5e D", pupils=9))

    small_counts, small_queries = plan(small)
    big_counts, big_queries = plan(big)

    # 3 (9) pupils, 6 (18) guardians, the teacher, the CPE of the school.
    assert small_counts == {"notifications": 11, "push": 1, "email": 1}
    assert big_counts == {"notifications": 29, "push": 3, "email": 3}
    assert big_queries == small_queries
    assert Notification.objects.filter(event=big).count() == 26  # 3 pupils "off"
    assert EmailSend.objects.filter(period__startswith="now:").count() == 4

    deliveries = Delivery.objects.count()

    # Planned already: nothing written, and no more queries for more readers.
    again_small, again_small_queries = plan(small)
    again_big, again_big_queries = plan(big)
    assert again_big == {"notifications": 29, "push": 0, "email": 0}
    assert again_big_queries == again_small_queries
    assert Notification.objects.filter(event=big).count() == 26
    assert again_small == {"notifications": 11, "push": 0, "email": 0}
    assert Delivery.objects.count() == deliveries
    assert EmailSend.objects.filter(period__startswith="now:").count() == 4


@pytest.mark.django_db
def test_each_reader_gets_what_their_choices_say(school):
    event = cancel_a_lesson(make_class(school, "5e C", pupils=3))
    plan_event(event.pk, now=MORNING)

    def channels(username):
        return sorted(
            (d.channel, d.status)
            for d in Delivery.objects.filter(
                notification__event=event, user__username=username
            )
        )

    assert channels("5e C-pupil-0") == [("push", "queued")]  # a phone
    assert channels("5e C-pupil-1") == [("push", "suppressed")]  # none
    assert channels("5e C-pupil-2") == []  # "off": no notification either
    assert channels("5e C-guardian-0-0") == [
        ("email", "queued"),
        ("push", "suppressed"),
    ]
    assert channels("5e C-guardian-1-1") == [
        ("daily", "queued"),
        ("push", "suppressed"),
    ]
    send = Delivery.objects.get(
        notification__event=event, user__username="5e C-guardian-0-0", channel="email"
    ).email
    note = Notification.objects.get(event=event, user__username="5e C-guardian-0-0")
    assert send.period == f"now:{note.pk}" and send.state == "pending"
    assert note.child_name == "Élève 0 5e C"


@pytest.mark.django_db
def test_the_zones_of_many_users_are_each_ones_first_school(school):
    school.other_org.time_zone = "Indian/Reunion"
    school.other_org.save()
    Enrollment.objects.create(
        user=school.cpe, school_class=school.other_class, role="teacher"
    )
    school.teacher.orgs.add(school.other_org)
    users = list(User.objects.all())

    with CaptureQueriesContext(connection) as queries:
        orgs = orgs_of_users(users)
        zones = school_zones(users)

    assert len(queries) == 2
    for user in users:
        expected = list(orgs_of(user).order_by("name", "pk"))
        assert orgs.get(user.pk, []) == expected, user.username
        first = expected[0].time_zone if expected else None
        assert zones.get(user.pk) == first, user.username
    # Karim's children are in both schools: Jules Verne comes first by name.
    assert zones[school.parent.pk] == "Indian/Reunion"
    assert zones[school.pupil.pk] == "Europe/Paris"


@pytest.mark.django_db(transaction=True)
def test_a_second_planner_waits_for_the_first_and_adds_nothing(school):
    if connection.vendor == "sqlite":
        # The in-memory test database (shared cache) answers "table is locked"
        # to a second writer instead of waiting; SQLite serializes writers anyway.
        pytest.skip("needs a server database (DATABASE_URL=postgres://...)")
    event = cancel_a_lesson(make_class(school, "5e C", pupils=3))
    planned, release = threading.Event(), threading.Event()
    results, errors = {}, []

    def first():
        try:
            with transaction.atomic():  # holds the plan's lock until released
                results["first"] = plan_event(event.pk, now=MORNING)
                planned.set()
                release.wait(10)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            planned.set()
            close_old_connections()

    def second():
        try:
            results["second"] = plan_event(event.pk, now=MORNING)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            close_old_connections()

    one = threading.Thread(target=first)
    one.start()
    planned.wait(10)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.5)
    waiting = two.is_alive()  # blocked on the event's row until the first commits
    release.set()
    one.join(10)
    two.join(10)

    assert errors == []
    assert waiting
    assert results["first"] == {"notifications": 11, "push": 1, "email": 1}
    assert results["second"] == {"notifications": 11, "push": 0, "email": 0}
    assert Notification.objects.filter(event=event).count() == 10
    assert EmailSend.objects.filter(period__startswith="now:").count() == 1


@pytest.mark.django_db
def test_a_notice_to_every_guardian_is_sent_by_one_push_task_and_one_email_task(
    school,
):
    """A notice is one event per member's ``user:`` stream: the plan task
    enqueues the sending of all of them together, not one task per push."""
    from django_tasks_db.models import DBTaskResult

    from core.schoollife.actions import publish_notice
    from hub.delivery import tasks

    school_class = SchoolClass.objects.get(org=school.org, title="4e B")
    phones, mailers = [], []
    for n in range(6):
        pupil = make_user(f"bulk-pupil-{n}", "student", f"Élève {n}", "Bulk")
        Enrollment.objects.create(user=pupil, school_class=school_class, role="student")
        guardian = make_user(
            f"bulk-guardian-{n}",
            "guardian",
            f"Parent {n}",
            "Bulk",
            email=f"bulk-{n}@example.org",
        )
        GuardianLink.objects.create(guardian=guardian, student=pupil)
        if n % 2:
            PushSubscription.objects.create(
                user=guardian,
                endpoint=f"https://push.example.org/bulk/{n}",
                p256dh="p" * 87,
                auth="a" * 22,
            )
            phones.append(guardian)
        else:
            Preference.objects.create(
                user=guardian, category="announcement", push=False, email=True
            )
            mailers.append(guardian)
    publish_notice(
        author=school.cpe,
        org=school.org,
        title="Grève jeudi",
        audience={"roles": ["guardian"]},
        urgent=True,
    )
    [plan] = DBTaskResult.objects.filter(task_path__endswith=".plan_event")
    event_ids = plan.args_kwargs["args"][0]
    assert len(event_ids) >= len(phones) + len(mailers)  # one per member

    tasks.plan_event.call(event_ids)

    [push_task] = DBTaskResult.objects.filter(task_path__endswith=".send_pushes")
    [email_task] = DBTaskResult.objects.filter(task_path__endswith=".send_emails")
    queued = Delivery.objects.filter(status=Delivery.Status.QUEUED)
    assert sorted(push_task.args_kwargs["args"][0]) == sorted(
        queued.filter(channel="push").values_list("pk", flat=True)
    )
    assert queued.filter(channel="push", user__in=phones).count() == len(phones)
    assert sorted(email_task.args_kwargs["args"][0]) == sorted(
        EmailSend.objects.filter(user__in=mailers).values_list("pk", flat=True)
    )
    assert len(email_task.args_kwargs["args"][0]) >= len(mailers)
    # Planned once: a retried task adds nothing and enqueues nothing.
    tasks.plan_event.call(event_ids)
    assert DBTaskResult.objects.filter(task_path__endswith=".send_pushes").count() == 1
    assert Notification.objects.filter(event_id__in=event_ids).count() == len(event_ids)
