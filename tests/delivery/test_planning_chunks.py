"""Planning a chunk of events together (bench ``urgent_notice.py``): a notice
to every guardian is one event per guardian's ``user:`` stream, and a chunk
of them costs the same statements whatever its size; the rows are those of
planning each event on its own; a retried task plans only what is left.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.attendance.actions import take_roll_call
from core.messaging.actions import send_message
from core.roster.models import Enrollment, GuardianLink, User
from core.schoollife.actions import publish_notice
from hub.delivery import planning
from hub.delivery.models import (
    Delivery,
    DeliverySettings,
    EmailSend,
    Mute,
    Notification,
    Preference,
    PushSubscription,
)
from hub.models import Event
from tests.conftest import make_occurrence
from tests.delivery.test_planning_costs import cancel_a_lesson, make_class
from tests.messaging.helpers import start

PARIS = ZoneInfo("Europe/Paris")
MORNING = dt.datetime(2026, 1, 19, 10, 0, tzinfo=PARIS)
NIGHT = dt.datetime(2026, 1, 19, 23, 30, tzinfo=PARIS)


def add_families(school, count: int) -> list[User]:
    """Add ``count`` pupils of 4e B, each with a guardian; return the guardians.

    By number ``n``: ``n % 4`` 0, a phone subscribed; 1, e-mail right away
    for announcements; 2, a time zone of their own; 3, no e-mail address.
    """
    start = User.objects.count()
    pupils = User.objects.bulk_create(
        User(
            username=f"chunk-pupil-{start + n}",
            role="student",
            first_name=f"Élève {n}",
            last_name="Chunk",
        )
        for n in range(count)
    )
    guardians = User.objects.bulk_create(
        User(
            username=f"chunk-guardian-{start + n}",
            role="guardian",
            first_name=f"Parent {n}",
            last_name="Chunk",
            email="" if n % 4 == 3 else f"chunk-{start + n}@example.org",
        )
        for n in range(count)
    )
    Enrollment.objects.bulk_create(
        Enrollment(user=pupil, school_class=school.class_4b, role="student")
        for pupil in pupils
    )
    GuardianLink.objects.bulk_create(
        GuardianLink(guardian=guardian, student=pupil)
        for guardian, pupil in zip(guardians, pupils, strict=True)
    )
    PushSubscription.objects.bulk_create(
        PushSubscription(
            user=guardian,
            endpoint=f"https://push.example.org/chunk/{guardian.pk}",
            p256dh="p" * 87,
            auth="a" * 22,
        )
        for n, guardian in enumerate(guardians)
        if n % 4 == 0
    )
    Preference.objects.bulk_create(
        Preference(user=guardian, category="announcement", email=True)
        for n, guardian in enumerate(guardians)
        if n % 4 == 1
    )
    DeliverySettings.objects.bulk_create(
        DeliverySettings(user=guardian, time_zone="America/Cayenne")
        for n, guardian in enumerate(guardians)
        if n % 4 == 2
    )
    return guardians


def notice_to_guardians(school, title: str, urgent: bool = True) -> list[int]:
    """Publish a notice to every guardian of the org; return its events' ids."""
    before = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with time_machine.travel(MORNING, tick=False):
        publish_notice(
            author=school.cpe,
            org=school.org,
            title=title,
            audience={"roles": ["guardian"]},
            urgent=urgent,
        )
    ids = list(
        Event.objects.filter(pk__gt=before, stream__name__startswith="user:")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert ids
    return ids


def insert_batches(rows: int) -> int:
    """INSERT statements of ``rows`` rows of the widest table planned."""
    fields = Notification._meta.concrete_fields
    size = connection.ops.bulk_batch_size(fields, [None] * rows) or rows
    return -(-rows // size)


@pytest.mark.django_db
def test_a_chunk_of_200_user_streams_costs_what_a_chunk_of_20_costs(
    school, django_assert_max_num_queries
):
    add_families(school, 210)
    small = notice_to_guardians(school, "Grève jeudi")[:20]
    big = notice_to_guardians(school, "Grève vendredi")[:200]
    assert len(big) == 200

    with CaptureQueriesContext(connection) as queries:
        small_counts = planning.plan_events(small, now=MORNING)
    assert small_counts["notifications"] == 20
    # SQLite cuts an INSERT every 76 to 83 rows (its 999 parameters);
    # PostgreSQL writes each table in one INSERT whatever the chunk.
    extra = 3 * (insert_batches(200) - insert_batches(20))
    with django_assert_max_num_queries(len(queries) + extra):
        big_counts = planning.plan_events(big, now=MORNING)

    assert big_counts["notifications"] == 200
    assert big_counts["push"] > 0 and big_counts["email"] > 0
    assert Notification.objects.filter(event_id__in=big).count() == 200


def snapshot(event_ids: list[int]) -> list[tuple]:
    """Every row planned for the events, without ids (comparable across plans)."""
    notes = {
        note.pk: note
        for note in Notification.objects.filter(event_id__in=event_ids).order_by()
    }
    rows = [
        (
            "notification",
            note.event_id,
            note.user_id,
            note.category,
            note.urgent,
            note.title,
            note.body,
            note.url,
            note.tag,
            note.child_name,
            note.org_id,
            note.org_name,
        )
        for note in notes.values()
    ]
    for row in Delivery.objects.filter(notification_id__in=notes).select_related(
        "email"
    ):
        note = notes[row.notification_id]
        email = None
        if row.email_id:
            assert row.email.period == f"now:{note.pk}"
            email = (row.email.user_id, row.email.state)
        rows.append(
            (
                "delivery",
                note.event_id,
                row.user_id,
                row.channel,
                row.status,
                row.reason,
                row.subscription_id,
                row.next_attempt_at,
                email,
            )
        )
    return sorted(rows, key=repr)


def forget(event_ids: list[int]) -> None:
    notes = Notification.objects.filter(event_id__in=event_ids)
    deliveries = Delivery.objects.filter(notification__in=notes)
    sends = list(deliveries.exclude(email=None).values_list("email_id", flat=True))
    deliveries.delete()
    EmailSend.objects.filter(pk__in=sends).delete()
    notes.delete()


@pytest.mark.django_db
def test_a_mixed_chunk_plans_the_rows_of_each_event_planned_alone(school):
    guardians = add_families(school, 12)
    # A class stream with children and teachers (timetable), an absence, the
    # notices (urgent at night: past quiet hours) and a non-urgent one (held).
    events = [cancel_a_lesson(make_class(school, "5e C", pupils=3)).pk]
    occurrence = make_occurrence(
        school.class_4b, MORNING - dt.timedelta(minutes=5), teachers=[school.teacher]
    )
    before = Event.objects.order_by("-pk").values_list("pk", flat=True).first()
    take_roll_call(
        occurrence=occurrence,
        teacher=school.teacher,
        marks={school.pupil.pk: ("absent", None)},
        now=MORNING,
    )
    events += list(Event.objects.filter(pk__gt=before).values_list("pk", flat=True))
    events += notice_to_guardians(school, "Grève jeudi")
    events += notice_to_guardians(school, "Sortie au musée", urgent=False)
    kinds = set(Event.objects.filter(pk__in=events).values_list("kind", flat=True))
    assert len(kinds) >= 3
    streams = Event.objects.filter(pk__in=events).values_list("stream__name", flat=True)
    assert {name.partition(":")[0] for name in streams} >= {"class", "user"}
    # Two messages to Karim and a new guardian, the conversation muted by
    # Karim (a mute per conversation: the key of the notice).
    with time_machine.travel(MORNING, tick=False):
        before = Event.objects.order_by("-pk").values_list("pk", flat=True).first()
        conversation = start(school, school.teacher, [school.parent, guardians[0]])
        Mute.objects.create(
            user=school.parent,
            key=f"conversation:{conversation.pk}",
            until=NIGHT + dt.timedelta(days=1),
        )
        send_message(
            conversation=conversation,
            sender=school.teacher,
            body="Suite",
            idempotency_key="chunk-2",
        )
    messages = list(Event.objects.filter(pk__gt=before).values_list("pk", flat=True))
    assert messages
    events += messages

    together = planning.plan_events(events, now=NIGHT)
    rows = snapshot(events)
    assert rows
    assert any(row[0] == "delivery" and row[4] == "held" for row in rows)
    assert any(row[0] == "delivery" and row[4] == "queued" for row in rows)
    assert any(
        row[0] == "delivery" and row[2] == school.parent.pk and "coupé" in row[5]
        for row in rows
    )

    forget(events)
    assert snapshot(events) == []
    alone = {"notifications": 0, "push": 0, "email": 0}
    for event_id in events:
        for key, value in planning.plan_event(event_id, now=NIGHT).items():
            alone[key] += value

    assert snapshot(events) == rows
    assert alone == together


@pytest.mark.django_db
def test_a_retried_task_plans_what_is_left_of_a_half_planned_chunk(school):
    from django_tasks_db.models import DBTaskResult

    add_families(school, 16)
    events = notice_to_guardians(school, "Grève jeudi")
    half = events[: len(events) // 2]
    planning.plan_events(half, now=MORNING)
    planned_before = snapshot(half)
    pushes_before = set(
        Delivery.objects.filter(channel="push", status="queued").values_list(
            "pk", flat=True
        )
    )
    tasks_before = set(DBTaskResult.objects.values_list("pk", flat=True))

    counts = planning.plan_events(events, now=MORNING)

    assert counts["notifications"] == len(events)
    assert snapshot(half) == planned_before  # nothing added to the planned half
    assert Notification.objects.filter(event_id__in=events).count() == len(events)
    new_pushes = (
        set(
            Delivery.objects.filter(channel="push", status="queued").values_list(
                "pk", flat=True
            )
        )
        - pushes_before
    )
    assert counts["push"] == len(new_pushes) > 0
    [push_task] = DBTaskResult.objects.exclude(pk__in=tasks_before).filter(
        task_path__endswith=".send_pushes"
    )
    assert set(push_task.args_kwargs["args"][0]) == new_pushes
    # Planned in full: a third run adds nothing and enqueues nothing.
    tasks_before = set(DBTaskResult.objects.values_list("pk", flat=True))
    again = planning.plan_events(events, now=MORNING)
    assert again == {"notifications": len(events), "push": 0, "email": 0}
    assert not DBTaskResult.objects.exclude(pk__in=tasks_before).exists()
