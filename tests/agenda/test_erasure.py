"""Erasing a guardian deletes their bookings (the family's own); the
evening, its slots and the teacher's side stay the school's."""

from core.agenda import actions
from core.agenda.models import Booking, MeetingEvening, MeetingSlot
from core.privacy.actions import erase_person
from tests.agenda.conftest import open_slots


def test_erasing_a_guardian_deletes_their_bookings_only(school, evening):
    slots = open_slots(school.teacher, evening)
    actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    kept = actions.book(
        guardian=school.other_parent, slot=slots[1], student=school.pupil2
    )
    done = erase_person(school.parent, None)
    assert done["agenda.Booking.guardian"] == 1
    assert list(Booking.objects.all()) == [kept]
    assert MeetingEvening.objects.filter(pk=evening.pk).exists()
    assert MeetingSlot.objects.filter(evening=evening).count() == len(slots)
