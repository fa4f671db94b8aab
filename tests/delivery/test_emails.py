"""E-mails and digests through the at-most-once ledger, to a real SMTP server.

The server is aiosmtpd (``smtp_server``) with fault modes; tests run with
committed transactions because the SMTP callbacks write from another thread.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.timetable.actions import change_occurrence
from hub.delivery import actions, email_deliveries
from hub.delivery.models import Delivery, DeliverySettings, EmailSend
from hub.delivery.planning import plan_event
from hub.models import Event
from tests.conftest import login_verified, make_occurrence
from tests.delivery.helpers import run_tasks
from tests.messaging.helpers import start

pytestmark = pytest.mark.django_db(transaction=True)

PARIS = ZoneInfo("Europe/Paris")
MORNING = dt.datetime(2026, 1, 19, 10, 0, tzinfo=PARIS)
EVENING = dt.datetime(2026, 1, 19, 18, 0, tzinfo=PARIS)


@pytest.fixture
def mailer(settings, smtp_server, school):
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_TIMEOUT = 1.0
    for user in (school.parent, school.other_parent, school.teacher):
        user.email = f"{user.username}@example.org"
        user.save()
    return smtp_server


def lesson_changes(school, count=2):
    for hour in range(count):
        occurrence = make_occurrence(
            school.class_4b, MORNING + dt.timedelta(days=1, hours=hour)
        )
        change_occurrence(
            occurrence=occurrence,
            actor=school.cpe,
            reason="Sortie scolaire",
            cancelled=True,
        )


def test_an_immediate_mail_for_a_message(school, mailer):
    actions.set_preference(school.parent, "message", "email")
    with time_machine.travel(MORNING, tick=False):
        start(school, school.teacher, [school.parent], subject="Sortie au musée")
    run_tasks()
    (received,) = mailer.messages
    message = received.message
    assert received.rcpt_tos == ["karim@example.org"]
    assert message["Subject"] == "Nouveau message : Alice Martin"
    assert "Karim Dubois" in message["To"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/delivery/unsubscribe/" in message["List-Unsubscribe"]
    text = message.get_body(("plain",)).get_content()
    assert "Sortie au musée" in text
    send = EmailSend.objects.get(user=school.parent)
    assert send.state == "sent" and send.period.startswith("now:")
    assert send.message_id == message["Message-ID"]
    assert Delivery.objects.get(user=school.parent, channel="email").status == "sent"


def test_a_subject_with_line_breaks_injects_no_header(school, mailer):
    actions.set_preference(school.parent, "message", "email")
    school.parent.first_name = "Zoé 🎒"
    school.parent.save()
    start(
        school,
        school.teacher,
        [school.parent],
        subject="Réunion\r\nBcc: victim@example.org",
    )
    run_tasks()
    (received,) = mailer.messages
    assert received.rcpt_tos == ["karim@example.org"]
    assert received.message["Bcc"] is None
    assert "Zoé 🎒 Dubois" in str(received.message["To"])
    text = received.message.get_body(("plain",)).get_content()
    assert "Bcc: victim" in text  # kept as text, on the subject's line


def test_the_evening_digest_goes_once_grouped_by_child(school, mailer):
    # Guardians get timetable changes in the evening digest by default.
    with time_machine.travel(MORNING, tick=False):
        lesson_changes(school, 2)
        run_tasks()
    assert (
        Delivery.objects.filter(
            user=school.parent, channel="daily", status="queued"
        ).count()
        == 2
    )
    with time_machine.travel(EVENING - dt.timedelta(minutes=1), tick=False):
        assert email_deliveries.schedule_digests() == []
    with time_machine.travel(EVENING, tick=False):
        made = email_deliveries.schedule_digests()
        # A second scheduler in the same minute makes nothing more.
        assert email_deliveries.schedule_digests() == []
        run_tasks()
    assert len(made) == 2  # Karim and Sophie
    to_karim = [m for m in mailer.messages if m.rcpt_tos == ["karim@example.org"]]
    (digest,) = to_karim
    text = digest.message.get_body(("plain",)).get_content()
    assert "Léa Dubois" in text
    assert text.count("Cours annulé") == 2
    assert digest.message["Subject"] == "Votre journée : 2 nouveautés"
    with time_machine.travel(EVENING + dt.timedelta(hours=2), tick=False):
        assert email_deliveries.schedule_digests() == []
        run_tasks()
    assert len(mailer.messages) == 2


def test_a_change_after_the_digest_hour_goes_the_next_evening_once(school, mailer):
    # What the settings page says: after 18 h, it leaves the next day.
    with time_machine.travel(MORNING, tick=False):
        lesson_changes(school, 1)
        run_tasks()
    with time_machine.travel(EVENING, tick=False):
        email_deliveries.schedule_digests()
        run_tasks()
    late = EVENING + dt.timedelta(minutes=30)
    with time_machine.travel(late, tick=False):
        lesson_changes(school, 1)
        run_tasks()
        # Today's digest has left: the scheduler's next rounds keep it.
        assert email_deliveries.schedule_digests() == []
    late_delivery = Delivery.objects.get(
        user=school.parent, channel="daily", status="queued"
    )
    with time_machine.travel(EVENING + dt.timedelta(days=1, minutes=-1), tick=False):
        assert email_deliveries.schedule_digests() == []
    with time_machine.travel(EVENING + dt.timedelta(days=1), tick=False):
        email_deliveries.schedule_digests()
        run_tasks()
    late_delivery.refresh_from_db()
    assert late_delivery.status == "sent"
    assert late_delivery.email.period == "daily:2026-01-20"
    to_karim = [m for m in mailer.messages if m.rcpt_tos == ["karim@example.org"]]
    assert [m.message["Subject"] for m in to_karim] == [
        "Votre journée : 1 nouveauté",
        "Votre journée : 1 nouveauté",
    ]
    assert Delivery.objects.filter(user=school.parent, channel="daily").count() == 2


def test_a_digest_leaves_out_what_was_read_and_sends_nothing_when_all_was(
    school, mailer
):
    from hub.delivery.inbox import mark_all_read

    with time_machine.travel(MORNING, tick=False):
        lesson_changes(school, 1)
        run_tasks()
        mark_all_read(school.parent)
        run_tasks()
    with time_machine.travel(EVENING, tick=False):
        email_deliveries.schedule_digests()
        run_tasks()
    assert [m.rcpt_tos for m in mailer.messages] == [["sophie@example.org"]]
    karim = EmailSend.objects.get(user=school.parent)
    assert karim.state == "empty"
    assert (
        Delivery.objects.get(user=school.parent, channel="daily").status == "suppressed"
    )


def test_the_digest_hour_is_local_on_the_night_winter_time_begins(school, mailer):
    """2026-10-25 has 25 hours in Paris: 18:00 CET is 17:00 UTC."""
    day = dt.datetime(2026, 10, 25, 9, 0, tzinfo=PARIS)
    with time_machine.travel(day, tick=False):
        occurrence = make_occurrence(school.class_4b, day + dt.timedelta(days=1))
        change_occurrence(occurrence=occurrence, actor=school.cpe, reason="", room="C1")
        run_tasks()
    with time_machine.travel(
        dt.datetime(2026, 10, 25, 16, 59, tzinfo=dt.UTC), tick=False
    ):
        assert email_deliveries.schedule_digests() == []
    with time_machine.travel(
        dt.datetime(2026, 10, 25, 17, 0, tzinfo=dt.UTC), tick=False
    ):
        assert len(email_deliveries.schedule_digests()) == 2
    assert EmailSend.objects.get(user=school.parent).period == "daily:2026-10-25"


def test_a_weekly_digest_for_a_parent_who_chose_it(school, mailer):
    actions.set_preference(school.parent, "timetable", "weekly")
    wednesday = dt.datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)
    with time_machine.travel(wednesday, tick=False):
        lesson_changes(school, 1)
        run_tasks()
    with time_machine.travel(
        dt.datetime(2026, 11, 26, 18, 0, tzinfo=PARIS), tick=False
    ):
        email_deliveries.schedule_digests()
        assert not EmailSend.objects.filter(user=school.parent).exists()
    with time_machine.travel(
        dt.datetime(2026, 11, 27, 18, 0, tzinfo=PARIS), tick=False
    ):
        email_deliveries.schedule_digests()
        run_tasks()
    assert EmailSend.objects.get(user=school.parent).period == "weekly:2026-W48"
    subjects = [
        m.message["Subject"]
        for m in mailer.messages
        if m.rcpt_tos == ["karim@example.org"]
    ]
    assert len(subjects) == 1 and subjects[0].startswith("Votre semaine")


def test_smtp_timing_out_after_accepting_is_never_resent(school, mailer):
    actions.set_preference(school.parent, "message", "email")
    mailer.faults.slow_data = {"karim@example.org"}
    mailer.faults.data_delay = 2.0
    start(school, school.teacher, [school.parent])
    run_tasks()
    send = EmailSend.objects.get(user=school.parent)
    assert send.state == "uncertain"
    assert len(mailer.by_message_id()[send.message_id]) == 1  # it did arrive
    delivery = Delivery.objects.get(user=school.parent, channel="email")
    assert delivery.status == "failed" and "pas renvoyé" in delivery.reason
    mailer.faults.slow_data = set()
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)):
        email_deliveries.recover()
        run_tasks()
    assert len(mailer.by_message_id()[send.message_id]) == 1


def test_a_refused_address_fails_and_a_busy_server_is_retried_once_sent(school, mailer):
    actions.set_preference(school.parent, "message", "email")
    actions.set_preference(school.other_parent, "message", "email")
    mailer.faults.refuse = {"karim@example.org"}
    mailer.faults.defer = {"sophie@example.org"}
    now = dt.datetime(2026, 1, 19, 10, 0, tzinfo=dt.UTC)
    with time_machine.travel(now, tick=False):
        start(school, school.teacher, [school.parent, school.other_parent])
        run_tasks()
    karim = EmailSend.objects.get(user=school.parent)
    sophie = EmailSend.objects.get(user=school.other_parent)
    assert karim.state == "failed" and "550" in karim.error
    assert sophie.state == "pending" and sophie.next_attempt_at > now
    mailer.faults.defer = set()
    with time_machine.travel(
        sophie.next_attempt_at + dt.timedelta(seconds=1), tick=False
    ):
        run_tasks()
    sophie.refresh_from_db()
    assert sophie.state == "sent" and sophie.attempts == 2
    assert [m.rcpt_tos for m in mailer.messages] == [["sophie@example.org"]]


def test_a_worker_that_dies_mid_batch_loses_only_its_mail_in_flight(school, mailer):
    """The ledger after a crash: one mail handed over (``sending``), one
    claimed but never handed over. Recovery resends the second only."""
    actions.set_preference(school.parent, "message", "email")
    actions.set_preference(school.other_parent, "message", "email")
    start(school, school.teacher, [school.parent, school.other_parent])
    for event in Event.objects.filter(kind="messaging.message"):
        plan_event(event.pk)  # the ledger rows exist; the sending task waits
    now = dt.datetime.now(dt.UTC)
    karim = EmailSend.objects.get(user=school.parent)
    sophie = EmailSend.objects.get(user=school.other_parent)
    assert email_deliveries.claim([karim.pk, sophie.pk], "dead-worker", now) == sorted(
        [karim.pk, sophie.pk]
    )
    EmailSend.objects.filter(pk=karim.pk).update(state="sending")
    # The queued task finds them claimed by someone else: it sends nothing.
    run_tasks()
    assert mailer.messages == []
    with time_machine.travel(now + email_deliveries.LEASE + dt.timedelta(seconds=1)):
        assert email_deliveries.recover() == {"retried": 1, "uncertain": 1}
        run_tasks()
    karim.refresh_from_db()
    sophie.refresh_from_db()
    assert (karim.state, sophie.state) == ("uncertain", "sent")
    assert [m.rcpt_tos for m in mailer.messages] == [["sophie@example.org"]]
    assert Delivery.objects.get(user=school.parent, channel="email").status == "failed"


def test_one_click_unsubscribe_stops_mails_but_not_pushes(school, mailer, client):
    from hub.delivery.preferences import choices_for
    from hub.delivery.unsubscribe_tokens import unsubscribe_token

    actions.set_preference(school.parent, "message", "email")
    token = unsubscribe_token(school.parent.pk, "all")
    response = client.post(
        f"/delivery/unsubscribe/{token}/",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    choices = choices_for(school.parent)
    assert not any(c.email or c.digest for c in choices.values())
    assert choices["absence"].push  # pushes stay
    DeliverySettings.objects.get_or_create(user=school.parent)


def test_an_address_smtp_cannot_carry_fails_with_its_reason(school, mailer):
    actions.set_preference(school.parent, "message", "email")
    school.parent.email = "karïm@exemple.fr"  # no SMTPUTF8 here
    school.parent.save()
    start(school, school.teacher, [school.parent])
    run_tasks()
    send = EmailSend.objects.get(user=school.parent)
    assert send.state == "failed" and send.error
    assert mailer.messages == []
    assert Delivery.objects.get(user=school.parent, channel="email").status == "failed"


# Absence → guardian survives no push device (issue 13) -----------------------


def absent_now(school):
    from core.attendance.actions import take_roll_call

    occurrence = make_occurrence(
        school.class_4b, MORNING - dt.timedelta(minutes=5), teachers=[school.teacher]
    )
    take_roll_call(
        occurrence=occurrence,
        teacher=school.teacher,
        marks={school.pupil.pk: ("absent", None)},
        now=MORNING,
    )


def test_an_absence_goes_by_e_mail_to_a_guardian_without_device(school, mailer):
    with time_machine.travel(MORNING, tick=False):
        absent_now(school)
        run_tasks()

    (received,) = mailer.messages
    assert received.rcpt_tos == ["karim@example.org"]
    assert "Léa Dubois" in received.message["Subject"]
    assert "absence" in received.message["Subject"]
    push = Delivery.objects.get(user=school.parent, channel="push")
    assert push.status == "suppressed"
    assert "e-mail" in push.reason
    email = Delivery.objects.get(user=school.parent, channel="email")
    assert email.status == "sent"


def test_an_absence_is_pushed_not_mailed_to_a_guardian_with_a_device(
    school, mailer, push_endpoint
):
    actions.subscribe(
        school.parent, push_endpoint.subscribe("karim-phone"), "Firefox Android"
    )
    with time_machine.travel(MORNING, tick=False):
        absent_now(school)
        run_tasks()

    assert len(push_endpoint.received("karim-phone")) == 1
    assert mailer.messages == []
    assert not Delivery.objects.filter(user=school.parent, channel="email").exists()


def test_no_fallback_for_what_is_not_an_absence(school, mailer):
    # Messages: push by default; without a device they stay in the app.
    with time_machine.travel(MORNING, tick=False):
        start(school, school.teacher, [school.parent], subject="Sortie au musée")
    run_tasks()

    assert mailer.messages == []


def test_the_settings_page_says_absences_come_by_e_mail_without_device(
    school, mailer, push_endpoint, client
):
    login_verified(client, school.parent)
    without = client.get("/settings/notifications/").content.decode()
    actions.subscribe(
        school.parent, push_endpoint.subscribe("karim-phone"), "Firefox Android"
    )
    with_device = client.get("/settings/notifications/").content.decode()

    notice = "les absences vous sont envoyées par e-mail"
    assert notice in without
    assert notice not in with_device
