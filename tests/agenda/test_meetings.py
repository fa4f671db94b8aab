"""Parent–teacher evenings: slots, the booking rules, the roster, the
reminder, races (PostgreSQL, threads), the pages."""

import datetime as dt

import pytest

from core.agenda import access, actions
from core.agenda.models import Booking, MeetingSlot
from core.audit.models import AuditEntry
from core.roster.models import Enrollment, GuardianLink
from tests.agenda.conftest import EVENING, open_slots, paris
from tests.concurrency import needs_server_database, race
from tests.conftest import capture_events, login_verified

pytestmark = pytest.mark.django_db


def taken(evening) -> set[int]:
    """The slots of ``evening`` holding a live booking, as pages read them."""
    return set(
        access.live_bookings().filter(evening=evening).values_list("slot_id", flat=True)
    )


# Slots ----------------------------------------------------------------------


def test_a_teacher_opens_slots_in_bulk(school, evening):
    with capture_events() as sent:
        slots = open_slots(school.teacher, evening, (17, 0), (19, 0), 10)
    assert len(slots) == 12
    assert slots[0].start == paris(2026, 1, 29, 17) and slots[-1].start == paris(
        2026, 1, 29, 18, 50
    )
    assert {e.stream for e in sent} == {f"class:{school.class_4b.pk}"}
    assert AuditEntry.objects.filter(action="agenda.slots_opened").count() == 1


@pytest.mark.parametrize(
    "start, end, minutes, message",
    [
        ((19, 0), (17, 0), 10, "fin est avant"),
        ((17, 0), (17, 5), 10, "Aucun créneau ne tient"),
        ((17, 0), (19, 0), 2, "5 à 60"),
    ],
)
def test_bad_slots_are_refused(school, evening, start, end, minutes, message):
    with pytest.raises(actions.AgendaError, match=message):
        open_slots(school.teacher, evening, start, end, minutes)
    assert not MeetingSlot.objects.exists()


def test_overlapping_slots_are_refused(school, evening):
    open_slots(school.teacher, evening, (17, 0), (18, 0), 10)
    with pytest.raises(actions.AgendaError, match="chevauchent"):
        open_slots(school.teacher, evening, (17, 55), (18, 30), 15)
    assert MeetingSlot.objects.count() == 6


def test_a_teacher_of_no_class_concerned_opens_none(school, evening):
    with pytest.raises(actions.AgendaError):
        open_slots(school.outsider, evening)


def test_an_evening_with_another_schools_class_is_refused(school, clock):
    with pytest.raises(actions.AgendaError, match="autre établissement"):
        actions.create_evening(
            actor=school.cpe,
            org=school.org,
            title="Réunion",
            date=EVENING,
            class_ids=[school.other_class.pk],
            booking_opens=paris(2026, 1, 15, 8),
            booking_closes=paris(2026, 1, 28, 12),
        )
    with pytest.raises(actions.AgendaError, match="fermer après"):
        actions.create_evening(
            actor=school.cpe,
            org=school.org,
            title="Réunion",
            date=EVENING,
            class_ids=[school.class_4b.pk],
            booking_opens=paris(2026, 1, 28, 12),
            booking_closes=paris(2026, 1, 15, 8),
        )


# Booking --------------------------------------------------------------------


def test_a_guardian_books_one_slot_per_teacher_per_child(school, evening, bruno):
    slots = open_slots(school.teacher, evening)
    bruno_slots = open_slots(bruno, evening, room="C3")
    with capture_events() as sent:
        booking = actions.book(
            guardian=school.parent, slot=slots[0], student=school.pupil
        )
    assert {e.stream for e in sent if e.kind == "agenda.booking"} == {
        f"user:{school.parent.pk}",
        f"user:{school.teacher.pk}",
    }
    assert {e.stream for e in sent if e.kind == "agenda.slots"} == {
        f"class:{school.class_4b.pk}"
    }
    with pytest.raises(actions.AgendaError, match="déjà réservé"):
        actions.book(guardian=school.parent, slot=slots[1], student=school.pupil)
    # Another teacher: fine.
    actions.book(guardian=school.parent, slot=bruno_slots[0], student=school.pupil)
    # The slot is taken for Sophie.
    with pytest.raises(actions.AgendaError, match="vient d'être pris"):
        actions.book(guardian=school.other_parent, slot=slots[0], student=school.pupil2)
    assert list(access.bookings_for(school.teacher)) == [booking]
    assert taken(evening) == {slots[0].pk, bruno_slots[0].pk}


def test_a_guardian_books_for_their_own_child_only(school, evening):
    slots = open_slots(school.teacher, evening)
    with pytest.raises(actions.AgendaError, match="pas concerné"):
        actions.book(guardian=school.parent, slot=slots[0], student=school.pupil2)
    with pytest.raises(actions.AgendaError, match="pas concerné"):
        # Inès is Karim's, but in the other school's 5e C.
        actions.book(guardian=school.parent, slot=slots[0], student=school.other_child)


def test_the_teacher_must_teach_the_child_now(school, evening, bruno):
    slots = open_slots(bruno, evening)
    Enrollment.objects.filter(user=bruno).delete()
    with pytest.raises(actions.AgendaError, match="n'enseigne pas"):
        actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)


def test_booking_is_refused_once_closed_and_cancel_too(school, evening, clock):
    slots = open_slots(school.teacher, evening)
    booking = actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    clock.move_to(paris(2026, 1, 28, 12, 1))
    with pytest.raises(actions.AgendaError, match="fermées"):
        actions.book(guardian=school.other_parent, slot=slots[1], student=school.pupil2)
    with pytest.raises(actions.AgendaError, match="fermées"):
        actions.cancel_booking(guardian=school.parent, booking=booking)


def test_a_cancelled_booking_frees_the_slot(school, evening):
    slots = open_slots(school.teacher, evening)
    booking = actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    with capture_events() as sent:
        actions.cancel_booking(guardian=school.parent, booking=booking)
    assert {e.op for e in sent if e.kind == "agenda.booking"} == {"cancelled"}
    with pytest.raises(actions.AgendaError, match="pas le vôtre"):
        actions.cancel_booking(guardian=school.other_parent, booking=booking)
    again = actions.book(
        guardian=school.other_parent, slot=slots[0], student=school.pupil2
    )
    assert again.slot_id == slots[0].pk


# The roster -----------------------------------------------------------------


def test_an_ended_link_voids_the_booking_and_tells_the_teacher(school, evening):
    slots = open_slots(school.teacher, evening)
    booking = actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    GuardianLink.objects.filter(guardian=school.parent, student=school.pupil).delete()
    assert not access.bookings_for(school.parent).exists()
    assert not access.bookings_for(school.teacher).exists()
    assert taken(evening) == set()
    with pytest.raises(actions.AgendaError, match="pas concerné"):
        actions.book(guardian=school.parent, slot=slots[1], student=school.pupil)
    with capture_events() as sent:
        assert actions.cancel_void_bookings() == 1
    assert {e.stream for e in sent if e.kind == "agenda.booking"} == {
        f"user:{school.teacher.pk}"
    }
    booking.refresh_from_db()
    assert booking.cancelled_at is not None
    assert actions.cancel_void_bookings() == 0


def test_a_void_booking_frees_its_slot_for_the_next_guardian(school, evening):
    slots = open_slots(school.teacher, evening)
    actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    Enrollment.objects.filter(user=school.pupil).delete()  # Léa left 4e B
    with capture_events() as sent:
        actions.book(guardian=school.other_parent, slot=slots[0], student=school.pupil2)
    assert [
        e.op
        for e in sent
        if e.kind == "agenda.booking" and e.stream == f"user:{school.teacher.pk}"
    ] == [
        "cancelled",
        "booked",
    ]


# The reminder ---------------------------------------------------------------


def test_the_reminder_goes_once_the_day_before_at_17(school, evening, clock):
    slots = open_slots(school.teacher, evening)
    booking = actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    clock.move_to(paris(2026, 1, 28, 16, 59))
    assert actions.send_reminders() == 0
    clock.move_to(paris(2026, 1, 28, 17, 0))
    with capture_events() as sent:
        assert actions.send_reminders() == 1
    assert {e.stream for e in sent} == {
        f"user:{school.parent.pk}",
        f"user:{school.teacher.pk}",
    }
    assert {e.kind for e in sent} == {"agenda.reminder"}
    assert actions.send_reminders() == 0
    booking.refresh_from_db()
    assert booking.reminded_at is not None


def test_no_reminder_for_a_cancelled_or_void_booking(school, evening, clock):
    slots = open_slots(school.teacher, evening)
    booking = actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    actions.cancel_booking(guardian=school.parent, booking=booking)
    actions.book(guardian=school.other_parent, slot=slots[1], student=school.pupil2)
    GuardianLink.objects.filter(guardian=school.other_parent).delete()
    clock.move_to(paris(2026, 1, 28, 18))
    assert actions.send_reminders() == 0


@pytest.mark.django_db(transaction=True)
def test_two_guardians_clicking_one_slot_at_once_one_wins(school, evening):
    needs_server_database()
    slots = open_slots(school.teacher, evening)
    results = race(
        [
            lambda: actions.book(
                guardian=school.parent, slot=slots[0], student=school.pupil
            ),
            lambda: actions.book(
                guardian=school.other_parent, slot=slots[0], student=school.pupil2
            ),
        ]
    )
    won = [r for r in results if isinstance(r, Booking)]
    lost = [r for r in results if isinstance(r, actions.AgendaError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert "vient d'être pris" in str(lost[0])
    assert Booking.objects.filter(slot=slots[0], cancelled_at__isnull=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_guardian_clicking_two_slots_of_a_teacher_at_once_gets_one(school, evening):
    needs_server_database()
    slots = open_slots(school.teacher, evening)
    results = race(
        [
            lambda: actions.book(
                guardian=school.parent, slot=slots[0], student=school.pupil
            ),
            lambda: actions.book(
                guardian=school.parent, slot=slots[1], student=school.pupil
            ),
        ]
    )
    assert sum(isinstance(r, Booking) for r in results) == 1, results
    assert (
        Booking.objects.filter(student=school.pupil, cancelled_at__isnull=True).count()
        == 1
    )


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_remind_once(school, evening, clock):
    needs_server_database()
    slots = open_slots(school.teacher, evening)
    actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    clock.move_to(paris(2026, 1, 28, 17, 30))
    from hub.models import Event

    before = Event.objects.filter(kind="agenda.reminder").count()
    results = race([actions.send_reminders, actions.send_reminders])
    assert sorted(results) == [0, 1], results
    assert (
        Event.objects.filter(kind="agenda.reminder").count() - before == 2
    )  # two streams


# Pages ----------------------------------------------------------------------


def test_the_pages_of_an_evening(school, evening, client):
    slots = open_slots(school.teacher, evening)
    client.force_login(school.parent)
    page = client.get(f"/agenda/evenings/{evening.pk}/").content.decode()
    assert "Alice Martin" in page and f"/agenda/slots/{slots[0].pk}/book/" in page
    response = client.post(
        f"/agenda/slots/{slots[0].pk}/book/", {"child": school.pupil.pk}
    )
    assert response.status_code == 302
    assert Booking.objects.filter(slot=slots[0], student=school.pupil).exists()
    # Booked twice by another tab: a clear message, nothing lost.
    response = client.post(
        f"/agenda/slots/{slots[1].pk}/book/", {"child": school.pupil.pk}, follow=True
    )
    assert (
        "Vous avez déjà réservé un créneau avec ce professeur."
        in response.content.decode()
    )
    login_verified(client, school.teacher)
    page = client.get(f"/agenda/evenings/{evening.pk}/").content.decode()
    assert "Karim Dubois" in page and "Léa Dubois" in page
    client.force_login(school.other_parent)
    page = client.get(f"/agenda/evenings/{evening.pk}/").content.decode()
    assert "Karim" not in page and "Léa" not in page
    assert f"/agenda/slots/{slots[0].pk}/book/" not in page


def test_strangers_do_not_see_the_evening(school, evening, client):
    login_verified(client, school.outsider)
    assert client.get(f"/agenda/evenings/{evening.pk}/").status_code == 404
    client.force_login(school.other_child)
    assert client.get(f"/agenda/evenings/{evening.pk}/").status_code == 404


def test_the_teacher_opens_slots_from_the_page(school, evening, client):
    login_verified(client, school.teacher)
    response = client.post(
        f"/agenda/evenings/{evening.pk}/slots/",
        {"start": "17:00", "end": "18:00", "minutes": "15", "room": "B12"},
    )
    assert response.status_code == 302
    assert MeetingSlot.objects.filter(teacher=school.teacher).count() == 4


def test_staff_create_an_evening_from_the_form(school, client, clock):
    login_verified(client, school.cpe)
    response = client.post(
        "/agenda/evenings/new/",
        {
            "org": school.org.pk,
            "title": "Réunion 4e",
            "date": "2026-02-05",
            "classes": [school.class_4b.pk],
            "booking_opens": "2026-01-20T08:00",
            "booking_closes": "2026-02-04T12:00",
        },
    )
    assert response.status_code == 302
    assert dt.date(2026, 2, 5) == access.evenings_for(school.cpe)[0].date


def test_a_teacher_removes_a_free_slot_not_a_booked_one(school, evening, bruno):
    slots = open_slots(school.teacher, evening)
    actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    with pytest.raises(actions.AgendaError, match="réservé"):
        actions.remove_slot(teacher=school.teacher, slot=slots[0])
    with pytest.raises(actions.AgendaError, match="pas le vôtre"):
        actions.remove_slot(teacher=bruno, slot=slots[1])
    actions.remove_slot(teacher=school.teacher, slot=slots[1])
    assert MeetingSlot.objects.filter(teacher=school.teacher).count() == 5


def test_booking_notices_name_the_child_for_digests(school, evening):
    slots = open_slots(school.teacher, evening)
    with capture_events() as sent:
        actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    from hub.events import event_class

    envelope = next(e for e in sent if e.kind == "agenda.booking")
    event = event_class("agenda.booking")(op=envelope.op, **envelope.data)
    notice = event.notice(paris(2026, 1, 19, 10))
    assert notice.child_id == school.pupil.pk and notice.child_name == "Léa Dubois"
    assert notice.title.startswith("Rendez-vous pris : Léa Dubois avec Alice Martin")


def test_both_agenda_pages_list_the_meeting(school, evening, client):
    slots = open_slots(school.teacher, evening)
    actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    client.force_login(school.parent)
    page = client.get("/agenda/").content.decode()
    assert "Léa Dubois · Alice Martin · Karim Dubois" in page
    login_verified(client, school.teacher)
    page = client.get("/agenda/").content.decode()
    assert "Léa Dubois · Alice Martin · Karim Dubois" in page
    client.force_login(school.other_parent)
    assert "Léa Dubois" not in client.get("/agenda/").content.decode()


def test_staff_work_on_their_own_schools_evenings_only(school, evening, client):
    from tests.agenda.test_entries import _staff_of

    other_staff = _staff_of(school.other_org)
    with pytest.raises(actions.AgendaError, match="ne gérez pas"):
        actions.create_evening(
            actor=other_staff,
            org=school.org,
            title="Réunion",
            date=EVENING,
            class_ids=[school.class_4b.pk],
            booking_opens=paris(2026, 1, 15, 8),
            booking_closes=paris(2026, 1, 28, 12),
        )
    assert access.evenings_for(other_staff) == []
    login_verified(client, other_staff)
    assert client.get(f"/agenda/evenings/{evening.pk}/").status_code == 404
    login_verified(client, school.cpe)
    assert client.get(f"/agenda/evenings/{evening.pk}/").status_code == 200
