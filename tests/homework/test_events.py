"""Homework events through delivery: the notice texts, the push rule
(tomorrow's homework set from 17:00 is pushed, the rest is not), the
evening reminder in the guardians' digest, "fait" never notifying."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.homework import actions
from core.homework.events import pushed
from hub.delivery import actions as delivery
from hub.delivery import email_contents, email_deliveries
from hub.delivery.models import Delivery, EmailSend, Notification
from hub.delivery.planning import plan_event
from hub.models import Event
from tests.homework.conftest import MONDAY, at, set_maths

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def plan(kind: str, now):
    for event in Event.objects.filter(kind=kind).order_by("pk"):
        plan_event(event.pk, now=now)


def pupil_push(school):
    return Delivery.objects.get(user=school.pupil, channel="push")


def test_the_push_rule():
    tomorrow = MONDAY + dt.timedelta(days=1)
    assert pushed(tomorrow, at(0, 17))
    assert pushed(tomorrow, at(0, 22, 30))
    assert not pushed(tomorrow, at(0, 16, 59))
    assert not pushed(MONDAY + dt.timedelta(days=2), at(0, 18))
    assert not pushed(tomorrow, at(-1, 18))


def test_homework_set_in_the_morning_is_not_pushed(week, push_endpoint):
    delivery.subscribe(week.pupil, push_endpoint.subscribe("lea"), "Firefox Android")
    set_maths(week)
    plan("homework.item", at(0, 10))
    note = Notification.objects.get(user=week.pupil)
    assert note.title == (
        "Devoir en Mathématiques pour mer. 21/01 : Exercices 3 et 4 p. 52"
    )
    push = pupil_push(week)
    assert push.status == "suppressed"
    assert push.reason == "ce type d'avis n'est pas envoyé en notification"
    # The teacher who set it is not told; the guardian gets it in the digest.
    assert not Notification.objects.filter(user=week.teacher).exists()
    assert Delivery.objects.filter(user=week.parent, channel="daily").exists()


def test_homework_for_tomorrow_set_after_17_is_pushed(week, clock, push_endpoint):
    delivery.subscribe(week.pupil, push_endpoint.subscribe("lea"), "Firefox Android")
    clock.move_to(at(0, 17, 30))
    set_maths(week, due_date=MONDAY + dt.timedelta(days=1))
    plan("homework.item", at(0, 17, 30))
    note = Notification.objects.get(user=week.pupil)
    assert note.title == "Devoir pour demain en Mathématiques : Exercices 3 et 4 p. 52"
    assert pupil_push(week).status in ("queued", "held")


def test_the_evening_reminder_reaches_the_guardians_digest(week, clock):
    week.parent.email = "karim@example.org"
    week.parent.save()
    tomorrow = MONDAY + dt.timedelta(days=1)
    set_maths(week, due_date=tomorrow)
    set_maths(week, teacher=week.bruno, subject="Français", due_date=tomorrow)
    clock.move_to(at(0, 17, 1))
    assert actions.send_reminders() == 1
    plan("homework.reminder", at(0, 17, 1))
    note = Notification.objects.get(user=week.parent, category="homework")
    assert note.title == ("2 devoirs pour demain en 4e B : Français, Mathématiques")
    assert note.child_name == "Léa Dubois"
    assert not Delivery.objects.filter(
        notification__event__kind="homework.reminder", channel="push", status="queued"
    ).exists()
    (send_id,) = email_deliveries.schedule_digests(now=at(0, 18, 0))
    send = EmailSend.objects.get(pk=send_id)
    send.message_id = "<digest.test@hub.example>"
    rows = list(Delivery.objects.filter(email=send).select_related("notification"))
    message = email_contents.compose_send(send, rows, PARIS)
    text = message.get_body(("plain",)).get_content()
    assert "2 devoirs pour demain en 4e B" in text and "Léa Dubois" in text


def test_done_ticks_notify_nobody(week):
    homework = set_maths(week)
    actions.set_done(homework=homework, student=week.pupil, done=True)
    plan("homework.done", at(0, 10))
    assert not Notification.objects.filter(event__kind="homework.done").exists()


def test_a_hand_in_is_told_to_the_teacher_and_guardians_not_the_pupil(week):
    from tests.homework.conftest import pdf

    homework = set_maths(week, handin_required=True)
    actions.hand_in(homework=homework, student=week.pupil, upload=pdf())
    plan("homework.handin", at(0, 10))
    told = set(
        Notification.objects.filter(event__kind="homework.handin").values_list(
            "user__username", flat=True
        )
    )
    assert told == {"alice", "karim"}
    assert Notification.objects.filter(user=week.teacher).get().title == (
        "Travail rendu : Léa Dubois, Mathématiques"
    )
