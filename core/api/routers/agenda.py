"""``/api/v1/agenda``: the entries addressed to the user, their meetings, and
parent–teacher evenings: a guardian's choice of slots, booking and
cancelling.

Who reads what is ``core.agenda.access`` (an entry's audience now; an
evening's classes; a booking whose guardian link or enrollment ended is
void and hidden); booking and cancelling are ``core.agenda.actions`` (the
same checks, audit rows and events as on the site). Entries and evenings
are written on the site.
"""

import datetime as dt

from django.utils import timezone
from ninja import Router, Schema, Status
from pydantic import Field

from core.agenda import access, actions
from core.agenda.events import BookingData, EntryData
from core.api.auth import READ, WRITE
from core.api.schemas import MAX_ID, Error, answers, refused
from core.roster.models import User

router = Router(tags=["agenda"])


class EntriesOut(Schema):
    entries: list[EntryData]


class BookingOut(BookingData):
    cancelled_at: dt.datetime | None


class BookingsOut(Schema):
    bookings: list[BookingOut]


class EveningOut(Schema):
    id: int
    org_id: int
    title: str
    date: dt.date
    booking_opens: dt.datetime
    booking_closes: dt.datetime
    is_open: bool = Field(description="Booking is open now.")


class EveningsOut(Schema):
    evenings: list[EveningOut]


class SlotOut(Schema):
    id: int
    start: dt.datetime
    minutes: int
    room: str


class TeacherChoiceOut(Schema):
    teacher_id: int
    teacher_name: str
    booking: BookingOut | None = Field(description="The user's booking with them.")
    free: list[SlotOut]


class ChildChoiceOut(Schema):
    child_id: int
    child_name: str
    teachers: list[TeacherChoiceOut]


class EveningDetailOut(EveningOut):
    children: list[ChildChoiceOut] = Field(
        description="A guardian's children concerned, each with their teachers."
    )


class BookIn(Schema):
    child_id: int = Field(ge=1, le=MAX_ID)


def _evening(evening) -> dict:
    now = timezone.now()
    return {
        "id": evening.pk,
        "org_id": evening.org_id,
        "title": evening.title,
        "date": evening.date,
        "booking_opens": evening.booking_opens,
        "booking_closes": evening.booking_closes,
        "is_open": evening.booking_is_open(now),
    }


def _booking(booking) -> BookingOut:
    return BookingOut(
        **actions.booking_data(booking).model_dump(), cancelled_at=booking.cancelled_at
    )


@router.get("/entries", response=answers(EntriesOut), auth=READ)
def entries(request):
    """The entries the user reads (their audience; staff: their schools')
    that have not ended yet, by start; cancelled ones say so."""
    found = access.entries_for(request.auth, since=timezone.now())
    return EntriesOut(entries=[actions.entry_data(entry) for entry in found])


@router.get("/bookings", response=answers(BookingsOut), auth=READ)
def bookings(request):
    """The user's meetings to come (a guardian's bookings, a teacher's
    booked slots), by start."""
    found = (
        access.bookings_for(request.auth)
        .filter(cancelled_at__isnull=True, slot__start__gte=timezone.now())
        .order_by("slot__start", "pk")
    )
    return BookingsOut(bookings=[_booking(b) for b in found])


@router.get("/evenings", response=answers(EveningsOut), auth=READ)
def evenings(request):
    """The parent–teacher evenings the user takes part in or manages."""
    return EveningsOut(
        evenings=[EveningOut(**_evening(e)) for e in access.evenings_for(request.auth)]
    )


@router.get("/evenings/{evening_id}", response=answers(EveningDetailOut), auth=READ)
def evening(request, evening_id: int):
    """An evening; for a guardian, each child concerned with their teachers,
    the booking made with each and each teacher's free slots. 404 for an
    evening the user takes no part in."""
    user = request.auth
    found = access.get_evening(user, evening_id)
    choices = access.guardian_choices(user, found, access.live_by_slot(found))
    return EveningDetailOut(
        **_evening(found),
        children=[
            ChildChoiceOut(
                child_id=row["child"].pk,
                child_name=row["child"].get_full_name(),
                teachers=[
                    TeacherChoiceOut(
                        teacher_id=t["teacher"].pk,
                        teacher_name=t["teacher"].get_full_name(),
                        booking=_booking(t["booking"]) if t["booking"] else None,
                        free=[
                            SlotOut(
                                id=s.pk, start=s.start, minutes=s.minutes, room=s.room
                            )
                            for s in t["free"]
                        ],
                    )
                    for t in row["teachers"]
                ],
            )
            for row in choices
        ],
    )


@router.post(
    "/slots/{slot_id}/booking",
    response={**answers(BookingOut, 201), 409: Error},
    auth=WRITE,
)
def book(request, slot_id: int, payload: BookIn):
    """A guardian books a free slot for a child with one of the child's
    teachers. 404 for a slot of an evening the user takes no part in; 409
    ``refused`` when booking is closed, the child or the teacher is not
    concerned, the slot was just taken or a slot with that teacher is
    already booked."""
    slot = access.get_slot_to_book(request.auth, slot_id)
    child = User.objects.filter(pk=payload.child_id).first()
    try:
        booking = actions.book(guardian=request.auth, slot=slot, student=child)
    except actions.AgendaError as error:
        raise refused(error) from None
    return Status(201, _booking(booking))


@router.post(
    "/bookings/{booking_id}/cancel",
    response={**answers(BookingOut), 409: Error},
    auth=WRITE,
)
def cancel(request, booking_id: int):
    """A guardian cancels their booking while booking is open (cancelling
    again answers the cancelled booking). 404 for another's booking; 409
    ``refused`` once booking closed."""
    booking = access.get_booking_to_cancel(request.auth, booking_id)
    try:
        booking = actions.cancel_booking(guardian=request.auth, booking=booking)
    except actions.AgendaError as error:
        raise refused(error) from None
    return _booking(booking)
