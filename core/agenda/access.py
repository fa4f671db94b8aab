"""Who may read and do what in the agenda: the one definition, used by pages,
the iCalendar feed, actions and events.

- **Entries**: an entry is for the members of its audience now
  (``core.roster.audience.includes``); staff holding
  :data:`STAFF_PERMISSION` in the entry's org (``staff_orgs``; the "Vie
  scolaire" group has it) read and manage every entry of their orgs.
- **Evenings**: the classes concerned are those of the evening's audience
  (``audience.classes``). A teacher opens slots for an evening when enrolled
  now as a teacher in one of those classes. A guardian books for a child
  (a current ``GuardianLink``) enrolled now in one of those classes, with a
  teacher enrolled now in a class of the child among them
  (:func:`teachers_of_child`).
- **Bookings** follow the roster: a booking whose guardian link or either
  enrollment has ended is *void* (:func:`live_bookings` leaves it out): it is
  hidden from both pages and both feeds, gets no reminder, and frees its
  slot (the next booking of the slot, or the reminder job, cancels it with
  an event to the teacher: ``actions.cancel_void_bookings``).

"Not found" and "not allowed" raise the same ``Http404``.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from core.agenda.models import AgendaEntry, Booking, MeetingEvening, MeetingSlot
from core.roster.access import children_of, classes_of, orgs_of, staff_orgs
from core.roster.audience import (
    Audience,
    Standing,
    classes,
    standing_of,
    visible,
)
from core.roster.models import Enrollment, GuardianLink, Org, User

STAFF_PERMISSION = "agenda.add_agendaentry"


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def managed_orgs(user) -> QuerySet[Org]:
    """The orgs whose agenda and evenings ``user`` manages (staff)."""
    return staff_orgs(user, STAFF_PERMISSION)


def manages(user, org_id: int) -> bool:
    return managed_orgs(user).filter(pk=org_id).exists()


def audience_of(row: AgendaEntry | MeetingEvening) -> Audience:
    return Audience.from_json(row.audience)


def entries_for(user: User, since=None) -> list[AgendaEntry]:
    """The entries ``user`` reads (members of the audience now; staff: all
    of their managed orgs), from ``since`` on (their end), by start."""
    if not _active(user):
        return []
    managed = set()
    if user.role == User.Role.ADMINISTRATOR:
        managed = set(managed_orgs(user).values_list("pk", flat=True))
    found = AgendaEntry.objects.filter(
        Q(org__in=user.orgs.all())
        | Q(org__in=classes_of(user).values("org_id"))
        | Q(org__in=managed)
    ).select_related("org", "author")
    if since is not None:
        found = found.filter(end__gte=since)
    found = list(found.order_by("start", "pk"))
    kept = {
        entry.pk
        for entry in visible(
            user, [entry for entry in found if entry.org_id not in managed]
        )
    }
    return [entry for entry in found if entry.org_id in managed or entry.pk in kept]


def get_entry_to_manage(user: User, entry_id: int) -> AgendaEntry:
    entry = AgendaEntry.objects.filter(pk=entry_id).first()
    if entry is None or not manages(user, entry.org_id):
        raise Http404
    return entry


# Evenings -------------------------------------------------------------------


def evening_class_ids(evening: MeetingEvening) -> list[int]:
    return [c.pk for c in classes(audience_of(evening))]


def teaches_in(user: User, evening: MeetingEvening) -> bool:
    """Whether ``user`` opens slots for ``evening`` (see module)."""
    return (
        _active(user)
        and user.role == User.Role.TEACHER
        and Enrollment.objects.filter(
            user=user,
            role=Enrollment.Role.TEACHER,
            school_class_id__in=evening_class_ids(evening),
        ).exists()
    )


def children_for(user: User, evening: MeetingEvening) -> list[User]:
    """``user``'s children enrolled now in a class of ``evening``."""
    if not _active(user) or user.role != User.Role.GUARDIAN:
        return []
    return list(
        children_of(user)
        .filter(
            enrollments__school_class_id__in=evening_class_ids(evening),
            enrollments__role=Enrollment.Role.STUDENT,
            is_active=True,
        )
        .distinct()
    )


def teachers_of_child(child: User, evening: MeetingEvening) -> list[User]:
    """The teachers enrolled now in a class of ``evening`` the child is in."""
    class_ids = Enrollment.objects.filter(
        user=child,
        role=Enrollment.Role.STUDENT,
        school_class_id__in=evening_class_ids(evening),
    ).values("school_class_id")
    return list(
        User.objects.filter(
            enrollments__school_class_id__in=class_ids,
            enrollments__role=Enrollment.Role.TEACHER,
            is_active=True,
        )
        .distinct()
        .order_by("last_name", "first_name", "pk")
    )


def _takes_part(standing: Standing, evening: MeetingEvening) -> bool:
    """A teacher enrolled, or a guardian with an active child enrolled, in
    a class of the evening (:func:`teaches_in`, :func:`children_for`)."""
    return standing.role in (
        User.Role.TEACHER,
        User.Role.GUARDIAN,
    ) and standing.in_classes(audience_of(evening))


def evenings_for(user: User) -> list[MeetingEvening]:
    """The evenings ``user`` takes part in or manages, by date. A fixed
    number of queries."""
    if not _active(user):
        return []
    managed = set(managed_orgs(user).values_list("pk", flat=True))
    found = MeetingEvening.objects.filter(
        Q(org__in=orgs_of(user)) | Q(org__in=managed)
    ).order_by("date", "pk")
    standing = standing_of(user)
    return [
        evening
        for evening in found
        if evening.org_id in managed or _takes_part(standing, evening)
    ]


def get_evening(user: User, evening_id: int) -> MeetingEvening:
    evening = MeetingEvening.objects.filter(pk=evening_id).first()
    if (
        evening is None
        or not _active(user)
        or not (
            manages(user, evening.org_id) or _takes_part(standing_of(user), evening)
        )
    ):
        raise Http404
    return evening


# Bookings -------------------------------------------------------------------


def _roster_holds() -> Q:
    """A booking whose guardian link and both enrollments (in a shared
    class) are current: see module."""
    linked = GuardianLink.objects.filter(
        guardian_id=OuterRef("guardian_id"),
        student_id=OuterRef("student_id"),
        guardian__is_active=True,
    )
    taught = Enrollment.objects.filter(
        user_id=OuterRef("student_id"),
        role=Enrollment.Role.STUDENT,
        school_class__enrollments__user_id=OuterRef("teacher_id"),
        school_class__enrollments__role=Enrollment.Role.TEACHER,
    )
    return Q(Exists(linked), Exists(taught))


def live_bookings() -> QuerySet[Booking]:
    """Bookings not cancelled whose roster still holds."""
    return Booking.objects.filter(_roster_holds(), cancelled_at__isnull=True)


def void_bookings() -> QuerySet[Booking]:
    """Bookings not cancelled whose guardian link or enrollment ended."""
    return Booking.objects.filter(cancelled_at__isnull=True).exclude(_roster_holds())


def bookings_for(user: User) -> QuerySet[Booking]:
    """The bookings ``user`` sees in their agenda and feed, cancelled ones
    included (a calendar shows them cancelled): a guardian's own, a
    teacher's slots', while the roster holds (see module)."""
    if not _active(user):
        return Booking.objects.none()
    related = Booking.objects.select_related(
        "slot", "evening__org", "teacher", "guardian", "student"
    )
    if user.role == User.Role.GUARDIAN:
        found = related.filter(guardian=user)
    elif user.role == User.Role.TEACHER:
        found = related.filter(teacher=user)
    else:
        return Booking.objects.none()
    return found.filter(_roster_holds())


def slot_for_teacher(user: User, slot_id: int) -> MeetingSlot:
    slot = MeetingSlot.objects.select_related("evening").filter(pk=slot_id).first()
    if slot is None or slot.teacher_id != user.pk:
        raise Http404
    return slot


def get_slot_to_book(user: User, slot_id: int) -> MeetingSlot:
    """Return a slot of an evening ``user`` takes part in (:func:`get_evening`),
    or raise Http404; whether they may book it is ``actions.book``'s."""
    slot = (
        MeetingSlot.objects.select_related("evening", "teacher")
        .filter(pk=slot_id)
        .first()
    )
    if slot is None:
        raise Http404
    get_evening(user, slot.evening_id)
    return slot


def get_booking_to_cancel(user: User, booking_id: int) -> Booking:
    """Return ``user``'s own booking (as its guardian, roster holding), or
    raise Http404."""
    booking = bookings_for(user).filter(pk=booking_id, guardian=user).first()
    if booking is None:
        raise Http404
    return booking


def live_by_slot(evening: MeetingEvening) -> dict[int, Booking]:
    """The evening's live bookings (:func:`live_bookings`) by slot id."""
    return {
        b.slot_id: b
        for b in live_bookings()
        .filter(evening=evening)
        .select_related("slot", "evening__org", "teacher", "guardian", "student")
    }


def guardian_choices(user: User, evening: MeetingEvening, live) -> list[dict]:
    """What ``user`` (a guardian) may book at ``evening``: for each child
    concerned (:func:`children_for`), each of the child's teachers
    (:func:`teachers_of_child`) with the user's live booking with them and
    the teacher's free slots. ``live``: :func:`live_by_slot`."""
    children = children_for(user, evening)
    if not children:
        return []
    booked = {
        (b.teacher_id, b.student_id): b
        for b in live.values()
        if b.guardian_id == user.pk
    }
    return [
        {
            "child": child,
            "teachers": [
                {
                    "teacher": teacher,
                    "booking": booked.get((teacher.pk, child.pk)),
                    "free": [
                        slot
                        for slot in MeetingSlot.objects.filter(
                            evening=evening, teacher=teacher
                        )
                        if slot.pk not in live
                    ],
                }
                for teacher in teachers_of_child(child, evening)
            ],
        }
        for child in children
    ]
