"""From a domain action to a push on a phone: planning, preferences, quiet
hours, mutes, "already seen", withdrawal, silent messages (ARCHITECTURE.md P5).

Pushes go to the local RFC 8030 endpoint (``push_endpoint``), which checks the
VAPID signature and decrypts each payload with the subscription's keys; time is
set with time-machine (Europe/Paris).
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.attendance.actions import take_roll_call
from hub.delivery import actions, push_deliveries
from hub.delivery.models import Delivery, DeliverySettings, Notification
from hub.models import Event
from tests.conftest import make_occurrence
from tests.delivery.helpers import run_tasks

PARIS = ZoneInfo("Europe/Paris")
MONDAY_8H05 = dt.datetime(2026, 1, 19, 8, 5, tzinfo=PARIS)


def absent(school, when, pupil=None):
    """Mark ``pupil`` (Léa) absent in a lesson that began 5 minutes before ``when``."""
    occurrence = make_occurrence(
        school.class_4b, when - dt.timedelta(minutes=5), teachers=[school.teacher]
    )
    take_roll_call(
        occurrence=occurrence,
        teacher=school.teacher,
        marks={(pupil or school.pupil).pk: ("absent", None)},
        now=when,
    )
    return occurrence


def subscribe(user, push_endpoint, name):
    return actions.subscribe(user, push_endpoint.subscribe(name), "Firefox Android")


@pytest.fixture
def monday():
    with time_machine.travel(MONDAY_8H05, tick=False) as traveller:
        yield traveller


def test_an_absence_reaches_the_guardians_phone_at_once(school, push_endpoint, monday):
    subscribe(school.parent, push_endpoint, "karim-phone")
    absent(school, MONDAY_8H05)
    run_tasks()

    (record,) = push_endpoint.received("karim-phone")
    assert record.status == 201
    assert record.payload["type"] == "show"
    assert "Léa Dubois" in record.payload["title"]
    assert record.payload["title"] == (
        "Léa Dubois\u00a0: absence en Mathématiques (lun. 19/01 08:00)"
    )
    assert record.payload["child"] == "Léa Dubois"
    assert record.payload["school"] == "Collège Victor Hugo"
    assert record.payload["url"] == "/absences/"
    assert record.headers["urgency"] == "high"
    assert record.headers["ttl"] == str(24 * 3600)
    assert record.claims["sub"].startswith("mailto:")
    delivery = Delivery.objects.get(user=school.parent, channel="push")
    assert delivery.status == "sent" and delivery.attempts == 1


def test_nobody_is_told_twice_and_the_log_says_why_others_were_not(
    school, push_endpoint, monday
):
    subscribe(school.parent, push_endpoint, "karim-phone")
    absent(school, MONDAY_8H05)
    run_tasks()
    event = Event.objects.filter(kind="attendance.record").first()
    from hub.delivery.planning import plan_event

    assert plan_event(event.pk)["push"] == 0  # planned already: nothing new
    run_tasks()
    assert len(push_endpoint.received("karim-phone")) == 1
    # Léa herself: in-app only by default for pupils; the CPE: no device.
    lea = Delivery.objects.get(user=school.pupil, channel="push")
    assert lea.status == "suppressed"
    assert lea.reason == (
        "choix de l’utilisateur\u00a0: pas de notification push pour "
        "«\u00a0Absences et retards\u00a0»"
    )
    cpe = Delivery.objects.filter(user=school.cpe, channel="push").first()
    assert cpe is not None and cpe.status == "suppressed"


def test_preference_off_writes_no_notification_and_sends_nothing(
    school, push_endpoint, monday
):
    subscribe(school.parent, push_endpoint, "karim-phone")
    actions.set_preference(school.parent, "absence", "off")
    absent(school, MONDAY_8H05)
    run_tasks()
    assert push_endpoint.records == []
    assert not Notification.objects.filter(user=school.parent).exists()


def test_every_device_of_the_guardian_gets_it(school, push_endpoint, monday):
    subscribe(school.parent, push_endpoint, "phone")
    subscribe(school.parent, push_endpoint, "tablet")
    absent(school, MONDAY_8H05)
    run_tasks()
    assert len(push_endpoint.received("phone")) == 1
    assert len(push_endpoint.received("tablet")) == 1


def test_a_lesson_change_in_the_evening_waits_for_the_morning_as_one_summary(
    school, push_endpoint
):
    from core.timetable.actions import change_occurrence

    subscribe(school.pupil, push_endpoint, "lea-phone")
    evening = dt.datetime(2026, 1, 19, 21, 30, tzinfo=PARIS)
    with time_machine.travel(evening, tick=False):
        first = make_occurrence(school.class_4b, evening + dt.timedelta(hours=12))
        second = make_occurrence(school.class_4b, evening + dt.timedelta(hours=13))
        change_occurrence(
            occurrence=first,
            actor=school.cpe,
            reason="Professeur absent",
            cancelled=True,
        )
        change_occurrence(occurrence=second, actor=school.cpe, reason="", room="C3")
        run_tasks()
    assert push_endpoint.received("lea-phone") == []
    held = Delivery.objects.filter(user=school.pupil, channel="push")
    assert {d.status for d in held} == {"held"}
    assert {d.reason for d in held} == {"heures calmes"}
    # 07:00 Paris the next morning is 06:00 UTC in January.
    assert {d.next_attempt_at for d in held} == {
        dt.datetime(2026, 1, 20, 6, 0, tzinfo=dt.UTC)
    }

    with time_machine.travel(dt.datetime(2026, 1, 20, 6, 59, tzinfo=PARIS), tick=False):
        assert push_deliveries.release_held() == 0
    with time_machine.travel(dt.datetime(2026, 1, 20, 7, 0, tzinfo=PARIS), tick=False):
        assert push_deliveries.release_held() == 2
    (summary,) = push_endpoint.received("lea-phone")
    assert summary.payload["title"].startswith("2 ")
    assert "Cours annulé" in summary.payload["body"]
    assert {
        d.status for d in Delivery.objects.filter(user=school.pupil, channel="push")
    } == {"sent"}


def test_an_urgent_absence_passes_quiet_hours(school, push_endpoint):
    subscribe(school.parent, push_endpoint, "karim-phone")
    DeliverySettings.objects.create(
        user=school.parent, quiet_start=dt.time(7, 0), quiet_end=dt.time(9, 0)
    )
    with time_machine.travel(MONDAY_8H05, tick=False):
        absent(school, MONDAY_8H05)
        run_tasks()
    assert len(push_endpoint.received("karim-phone")) == 1


def test_quiet_hours_follow_the_users_own_time_zone(school, push_endpoint):
    """Karim lives in Réunion (UTC+4): 08:05 in Paris is 11:05 there, 17:05
    in Paris is 20:05 there (his night has begun)."""
    subscribe(school.parent, push_endpoint, "karim-phone")
    DeliverySettings.objects.create(user=school.parent, time_zone="Indian/Reunion")
    evening = dt.datetime(2026, 1, 19, 17, 5, tzinfo=PARIS)
    with time_machine.travel(evening, tick=False):
        occurrence = make_occurrence(school.class_4b, evening + dt.timedelta(days=1))
        from core.timetable.actions import change_occurrence

        actions.set_preference(school.parent, "timetable", "push")
        change_occurrence(occurrence=occurrence, actor=school.cpe, reason="", room="A1")
        run_tasks()
    held = Delivery.objects.get(user=school.parent, channel="push")
    assert held.status == "held"
    # 07:00 in Réunion (UTC+4) is 03:00 UTC.
    assert held.next_attempt_at == dt.datetime(2026, 1, 20, 3, 0, tzinfo=dt.UTC)


def test_an_item_seen_in_an_open_tab_is_not_pushed(school, push_endpoint, settings):
    settings.DELIVERY_SEEN_GRACE = 5
    subscribe(school.parent, push_endpoint, "karim-phone")
    with time_machine.travel(MONDAY_8H05, tick=False) as traveller:
        absent(school, MONDAY_8H05)
        run_tasks()  # plans; the push waits 5 s for the open tab
        assert push_endpoint.records == []
        event = Event.objects.get(
            kind="attendance.record", stream__name=f"user:{school.parent.pk}"
        )
        assert (
            actions.mark_seen(school.parent, f"user:{school.parent.pk}", [event.offset])
            == 1
        )
        traveller.shift(6)
        run_tasks()
    assert push_endpoint.records == []
    delivery = Delivery.objects.get(user=school.parent, channel="push")
    assert delivery.status == "suppressed"
    assert "ouvert" in delivery.reason


def test_a_muted_conversation_is_not_pushed_and_says_so(school, push_endpoint, monday):
    from tests.messaging.helpers import start

    subscribe(school.parent, push_endpoint, "karim-phone")
    conversation = start(school, school.teacher, [school.parent])
    run_tasks()
    assert len(push_endpoint.received("karim-phone")) == 1
    actions.mute(
        school.parent,
        f"conversation:{conversation.pk}",
        MONDAY_8H05 + dt.timedelta(hours=1),
    )
    from core.messaging.actions import send_message

    send_message(
        conversation=conversation,
        sender=school.teacher,
        body="Suite",
        idempotency_key="k2",
    )
    run_tasks()
    assert len(push_endpoint.received("karim-phone")) == 1
    last = Delivery.objects.filter(user=school.parent, channel="push").latest("pk")
    assert last.status == "suppressed" and "coupé" in last.reason


def test_the_sender_is_not_notified_of_their_own_message(school, push_endpoint, monday):
    from tests.messaging.helpers import start

    subscribe(school.teacher, push_endpoint, "alice-laptop")
    start(school, school.teacher, [school.parent])
    run_tasks()
    assert push_endpoint.received("alice-laptop") == []
    assert not Notification.objects.filter(user=school.teacher).exists()


def test_a_silent_message_at_22h_is_pushed_at_7h(school, push_endpoint):
    from core.messaging.actions import send_message
    from tests.messaging.helpers import start

    subscribe(school.parent, push_endpoint, "karim-phone")
    DeliverySettings.objects.create(user=school.parent, quiet_enabled=False)
    with time_machine.travel(dt.datetime(2026, 1, 19, 16, 0, tzinfo=PARIS), tick=False):
        conversation = start(school, school.teacher, [school.parent])
        run_tasks()
    late = dt.datetime(2026, 1, 19, 22, 0, tzinfo=PARIS)
    with time_machine.travel(late, tick=False):
        send_message(
            conversation=conversation,
            sender=school.teacher,
            body="Demain : sortie",
            idempotency_key="late",
            silent=True,
        )
        run_tasks()
    assert len(push_endpoint.received("karim-phone")) == 1  # only the first
    held = Delivery.objects.filter(user=school.parent, channel="push").latest("pk")
    assert held.status == "held"
    assert held.next_attempt_at == dt.datetime(2026, 1, 20, 6, 0, tzinfo=dt.UTC)
    with time_machine.travel(dt.datetime(2026, 1, 20, 7, 1, tzinfo=PARIS), tick=False):
        push_deliveries.release_held()
    assert len(push_endpoint.received("karim-phone")) == 2


def test_reading_a_conversation_on_the_laptop_closes_it_on_the_phone(
    school, push_endpoint, monday
):
    from core.messaging.actions import mark_read
    from tests.messaging.helpers import start

    subscribe(school.parent, push_endpoint, "karim-phone")
    conversation = start(school, school.teacher, [school.parent])
    run_tasks()
    (shown,) = push_endpoint.received("karim-phone")
    message = conversation.messages.get()
    mark_read(conversation=conversation, user=school.parent, message_id=message.pk)
    run_tasks()
    shown, closed = push_endpoint.received("karim-phone")
    assert closed.payload == {"type": "close", "tags": [shown.payload["tag"]]}
    assert closed.headers["topic"] == shown.headers["topic"]


def test_a_push_service_that_says_gone_removes_the_device(
    school, push_endpoint, monday
):
    sub = subscribe(school.parent, push_endpoint, "old-phone")
    push_endpoint.unsubscribe("old-phone")
    absent(school, MONDAY_8H05)
    run_tasks()
    delivery = Delivery.objects.get(user=school.parent, channel="push")
    assert delivery.status == "failed" and "410" in delivery.reason
    assert not type(sub).objects.filter(pk=sub.pk).exists()


def test_a_busy_push_service_is_retried_with_back_off_then_succeeds(
    school, push_endpoint, monday
):
    subscribe(school.parent, push_endpoint, "karim-phone")
    push_endpoint.answer("karim-phone", 503, 429, 201, retry_after="120")
    absent(school, MONDAY_8H05)
    run_tasks()
    delivery = Delivery.objects.get(user=school.parent, channel="push")
    assert delivery.status == "retrying" and delivery.attempts == 1
    first_retry = delivery.next_attempt_at
    assert first_retry > MONDAY_8H05
    monday.move_to(first_retry + dt.timedelta(seconds=1))
    run_tasks()
    delivery.refresh_from_db()
    assert delivery.status == "retrying" and delivery.attempts == 2
    # 429 with Retry-After: 120 seconds.
    assert delivery.next_attempt_at == first_retry + dt.timedelta(seconds=121)
    monday.move_to(delivery.next_attempt_at)
    run_tasks()
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 3
    assert [r.status for r in push_endpoint.received("karim-phone")] == [503, 429, 201]


def test_a_morning_summary_that_fails_is_retried_as_one_summary(school, push_endpoint):
    from core.timetable.actions import change_occurrence

    subscribe(school.pupil, push_endpoint, "lea-phone")
    push_endpoint.answer("lea-phone", 503, 201)
    evening = dt.datetime(2026, 1, 19, 21, 30, tzinfo=PARIS)
    with time_machine.travel(evening, tick=False):
        for hours in (12, 13):
            occurrence = make_occurrence(
                school.class_4b, evening + dt.timedelta(hours=hours)
            )
            change_occurrence(
                occurrence=occurrence, actor=school.cpe, reason="", room="C3"
            )
        run_tasks()
    morning = dt.datetime(2026, 1, 20, 7, 0, tzinfo=PARIS)
    with time_machine.travel(morning, tick=False):
        assert push_deliveries.release_held() == 2
    held = list(Delivery.objects.filter(user=school.pupil, channel="push"))
    assert {d.status for d in held} == {"held"}
    assert len({d.next_attempt_at for d in held}) == 1
    with time_machine.travel(held[0].next_attempt_at, tick=False):
        assert push_deliveries.release_held() == 2
    first, second = push_endpoint.received("lea-phone")
    assert (first.status, second.status) == (503, 201)
    assert second.payload["title"].startswith("2 ")
    assert {
        d.status for d in Delivery.objects.filter(user=school.pupil, channel="push")
    } == {"sent"}
