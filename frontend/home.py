"""The home page of each role: a list of cards, each built by one function.

A card is registered for the roles that see it with :func:`card`. Two kinds:

- a *pupil card* (``per_pupil=True``) is built for a list of pupils at once,
  ``build(user, today, pupils) -> {pupil id: context}``: a pupil sees their
  own, a guardian one section per child. It is built in a constant number of
  queries whatever the number of children.
- a *user card* is built once, ``build(user, today) -> context``.

Each card is drawn by ``frontend/cards/<name>.html`` and names the event kinds
after which ``static/hub/home.js`` refetches it (``/api/home/cards/<name>/``).
Every read goes through the ``access`` function of its module, so the home
shows nothing a page of that module would not; staff reads of pupils' data
are logged (:mod:`core.audit.log`).

Adding a card is a function and a template::

    @card("homework_due", roles=(STUDENT, GUARDIAN), per_pupil=True,
          kinds=("homework.item", "homework.done"))
    def homework_due(user, today, pupils): ...
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.utils import timezone

from core.agenda import access as agenda
from core.attendance import access as attendance
from core.attendance.models import Excuse, RollCall
from core.audit import log as audit
from core.grades import access as grades
from core.grades import actions as grades_actions
from core.homework import access as homework
from core.homework import actions as homework_actions
from core.messaging.access import unread_totals
from core.roster.access import children_of
from core.roster.models import Enrollment, User
from core.timetable.models import Occurrence
from hub.delivery import inbox
from hub.events import notifying_kinds

STUDENT = User.Role.STUDENT
GUARDIAN = User.Role.GUARDIAN
TEACHER = User.Role.TEACHER
STAFF = User.Role.ADMINISTRATOR

# Rows a card lists; the counts stay exact beyond them.
SHOWN = 8
# Rows read at most for a list card (all pupils or classes together).
READ_AT_MOST = 200
# Marks the "Dernières notes" card shows per pupil.
LATEST_MARKS = 5

TIMETABLE_KINDS = ("timetable.occurrence", "timetable.feed")


@dataclass(frozen=True)
class Card:
    """A registered card: its name, who sees it, what refreshes it."""

    name: str
    build: Callable
    roles: tuple[str, ...]
    kinds: tuple[str, ...]
    per_pupil: bool

    @property
    def template(self) -> str:
        return f"frontend/cards/{self.name}.html"

    def event_kinds(self) -> list[str]:
        """The kinds after which the page refetches it ("notifying": every
        kind that notifies)."""
        kinds = [k for k in self.kinds if k != "notifying"]
        if "notifying" in self.kinds:
            kinds += notifying_kinds()
        return sorted(set(kinds))


CARDS: dict[str, Card] = {}


def card(
    name: str,
    *,
    roles: tuple[str, ...],
    kinds: tuple[str, ...] = (),
    per_pupil: bool = False,
):
    """Register the decorated function as the card ``name`` (in registration order)."""

    def register(build: Callable) -> Callable:
        CARDS[name] = Card(name, build, tuple(roles), tuple(kinds), per_pupil)
        return build

    return register


def cards_for(user: User) -> list[Card]:
    """Return the cards ``user``'s role sees, in registration order."""
    return [c for c in CARDS.values() if user.role in c.roles]


def pupils_for(user: User) -> list[User]:
    """The pupils the pupil cards are about: oneself, or one's children."""
    if user.role == STUDENT:
        return [user]
    if user.role == GUARDIAN:
        return list(children_of(user))
    return []


@dataclass
class Section:
    """One group of cards: about a pupil (``pupil`` set) or about the user."""

    pupil: User | None
    cards: list[dict]
    classes: tuple = ()


def build_home(user: User, today: dt.date) -> list[Section]:
    """Return the sections of ``user``'s home: per pupil first, then the user's own.

    A pupil's own cards and their user cards share one section.
    """
    cards = cards_for(user)
    pupils = pupils_for(user)
    built = {c.name: build_card(c, user, today, pupils) for c in cards}
    classes: dict[int, list] = {}
    for enrollment in (
        Enrollment.objects.filter(user__in=pupils, role=Enrollment.Role.STUDENT)
        .select_related("school_class__org")
        .order_by("school_class__class_type", "school_class__title")
    ):
        classes.setdefault(enrollment.user_id, []).append(enrollment.school_class)
    sections = [
        Section(
            pupil,
            [built[c.name][pupil.pk] for c in cards if c.per_pupil],
            tuple(classes.get(pupil.pk, ())),
        )
        for pupil in pupils
    ]
    own = [built[c.name][""] for c in cards if not c.per_pupil]
    if user.role == STUDENT and sections:
        sections[0].cards += own
        sections[0].pupil = None
    elif own:
        sections.append(Section(None, own))
    return sections


def build_card(card: Card, user: User, today: dt.date, pupils=None) -> dict:
    """Return ``{part: context}`` for ``card``: a part per pupil, or ``""``.

    Each context has ``card`` (the name), ``part``, ``template`` and ``kinds``.
    """
    if card.per_pupil:
        pupils = pupils_for(user) if pupils is None else pupils
        contexts = card.build(user, today, pupils) if pupils else {}
        parts = {p.pk: {**contexts.get(p.pk, {}), "pupil": p} for p in pupils}
    else:
        parts = {"": card.build(user, today)}
    for part, context in parts.items():
        context.update(
            card=card.name,
            part=part,
            template=card.template,
            kinds=card.event_kinds(),
        )
    return parts


# Time helpers -------------------------------------------------------------


def now() -> dt.datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


def day_bounds(day: dt.date, zone: ZoneInfo | None = None):
    """Return the aware start and end (next midnight) of ``day``."""
    zone = zone or timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, zone)


def lesson_days(occurrences, today: dt.date) -> list[dict]:
    """Group ``occurrences`` into today's (the rest of it) and tomorrow's.

    Returns ``[{"day", "is_today", "lessons"}]``; each lesson gets
    ``is_cancelled``, ``is_moved``, ``is_room_changed``.
    """
    days = {
        today: {"day": today, "is_today": True, "lessons": []},
        today + dt.timedelta(days=1): {
            "day": today + dt.timedelta(days=1),
            "is_today": False,
            "lessons": [],
        },
    }
    for occurrence in occurrences:
        local = timezone.localtime(occurrence.start).date()
        if local not in days:
            continue
        occurrence.is_cancelled = occurrence.status == Occurrence.Status.CANCELLED
        occurrence.is_moved = bool(
            occurrence.previous_start and occurrence.previous_start != occurrence.start
        )
        occurrence.is_room_changed = bool(
            occurrence.previous_room and occurrence.previous_room != occurrence.room
        )
        days[local]["lessons"].append(occurrence)
    return list(days.values())


def upcoming(occurrences, moment: dt.datetime):
    """Keep lessons not yet over (all of tomorrow's)."""
    return [o for o in occurrences if o.end > moment]


# Pupils and guardians ---------------------------------------------------------


@card("lessons", roles=(STUDENT, GUARDIAN), per_pupil=True, kinds=TIMETABLE_KINDS)
def pupil_lessons(user: User, today: dt.date, pupils: list[User]) -> dict:
    """The rest of today's and tomorrow's lessons of each pupil, changes shown
    (cancelled, moved, room changed): two queries for any number of pupils."""
    enrolled: dict[int, set[int]] = {}
    for student_id, class_id in Enrollment.objects.filter(
        user__in=pupils, role=Enrollment.Role.STUDENT
    ).values_list("user_id", "school_class_id"):
        enrolled.setdefault(class_id, set()).add(student_id)
    start, _end = day_bounds(today)
    _start, end = day_bounds(today + dt.timedelta(days=1))
    occurrences = upcoming(
        Occurrence.objects.filter(
            school_class_id__in=enrolled, start__gte=start, start__lt=end
        )
        .select_related("school_class__org")
        .order_by("start", "pk"),
        now(),
    )
    contexts = {}
    for pupil in pupils:
        mine = [o for o in occurrences if pupil.pk in enrolled[o.school_class_id]]
        contexts[pupil.pk] = {"days": lesson_days(mine, today)}
    return contexts


@card(
    "homework_due",
    roles=(STUDENT, GUARDIAN),
    per_pupil=True,
    kinds=("homework.item", "homework.done", "homework.handin"),
)
def homework_due(user: User, today: dt.date, pupils: list[User]) -> dict:
    """Each pupil's homework due tomorrow, with "fait" and the hand-in state:
    four queries for any number of pupils."""
    tomorrow = today + dt.timedelta(days=1)
    due = homework.due_for_pupils(pupils, tomorrow, tomorrow)
    contexts = {}
    for pupil in pupils:
        items = due[pupil.pk]
        contexts[pupil.pk] = {
            "items": items[:SHOWN],
            "count": len(items),
            "day": tomorrow,
        }
    return contexts


@card("latest_marks", roles=(STUDENT, GUARDIAN), per_pupil=True, kinds=("grades.mark",))
def latest_marks(user: User, today: dt.date, pupils: list[User]) -> dict:
    """Each pupil's latest published marks ("Dernières notes"): one query
    for any number of pupils."""
    found = grades.latest_marks(pupils, LATEST_MARKS)
    return {
        pupil.pk: {
            "marks": [
                (mark, grades_actions.cell(mark.value, mark.status))
                for mark in found[pupil.pk]
            ]
        }
        for pupil in pupils
    }


def awaiting_excuse(user: User, pupils: list[User]):
    """The absences and latenesses of ``pupils`` ``user`` may see with no
    excuse pending or accepted (the newest excuse decides, as the absences
    page's "Excuse" link does)."""
    latest = Excuse.objects.filter(record=OuterRef("pk")).order_by("-submitted_at")
    return (
        attendance.visible_records(user)
        .filter(student__in=pupils)
        .annotate(excuse_status=Subquery(latest.values("status")[:1]))
        .filter(Q(excuse_status__isnull=True) | Q(excuse_status=Excuse.Status.REFUSED))
        .prefetch_related(None)
    )


@card(
    "to_excuse",
    roles=(GUARDIAN,),
    per_pupil=True,
    kinds=("attendance.record", "attendance.excuse"),
)
def to_excuse(user: User, today: dt.date, pupils: list[User]) -> dict:
    """Each child's absences still waiting for an excuse: newest first."""
    records = awaiting_excuse(user, pupils)
    counts = dict(
        records.order_by()
        .values("student_id")
        .annotate(n=Count("pk"))
        .values_list("student_id", "n")
    )
    rows = list(records[:READ_AT_MOST])
    return {
        p.pk: {
            "records": [r for r in rows if r.student_id == p.pk][:SHOWN],
            "count": counts.get(p.pk, 0),
        }
        for p in pupils
    }


# Teachers -----------------------------------------------------------------


@card("my_lessons", roles=(TEACHER,), kinds=TIMETABLE_KINDS)
def my_lessons(user: User, today: dt.date) -> dict:
    """The rest of today's and tomorrow's lessons the teacher teaches, across
    all their classes, with the changes and whether the roll call is taken."""
    start, _end = day_bounds(today)
    _start, end = day_bounds(today + dt.timedelta(days=1))
    lessons = upcoming(
        attendance.taught_by(user)
        .filter(start__gte=start, start__lt=end)
        .annotate(
            roll_call_taken=Exists(RollCall.objects.filter(occurrence=OuterRef("pk")))
        )
        .select_related("school_class__org")
        .order_by("start", "pk"),
        now(),
    )
    return {"days": lesson_days(lessons, today)}


@card(
    "roll_calls",
    roles=(TEACHER,),
    kinds=("timetable.occurrence", "timetable.feed", "attendance.roll_call"),
)
def roll_calls(user: User, today: dt.date) -> dict:
    """Today's lessons whose roll call the teacher has still to take."""
    lessons = list(
        attendance.lessons_to_call(user, today)
        .filter(roll_call_taken=False)
        .select_related("school_class")[:READ_AT_MOST]
    )
    moment = now()
    for lesson in lessons:
        lesson.has_started = lesson.start <= moment
    return {"lessons": lessons[:SHOWN], "count": len(lessons)}


@card("handins", roles=(TEACHER,), kinds=("homework.handin",))
def handins(user: User, today: dt.date) -> dict:
    """The hand-ins the teacher has still to return, oldest first."""
    waiting = list(homework.handins_to_review(user)[:READ_AT_MOST])
    homework_actions.log_handins_listed(user, waiting[:SHOWN])
    return {"handins": waiting[:SHOWN], "count": len(waiting)}


# School-life staff --------------------------------------------------------------


def _log_read(user: User, org_ids, target_type: str) -> None:
    """Staff reading pupils' data from the home leave a trace in each school
    whose pupils were shown (nothing shown, nothing logged)."""
    if org_ids:
        audit.record_read(
            actor=user,
            action="attendance.viewed",
            target_type=target_type,
            target_id=0,
            org_ids=org_ids,
        )


@card("absences_today", roles=(STAFF,), kinds=("attendance.record",))
def absences_today(user: User, today: dt.date) -> dict:
    """Today's absences and latenesses, by class, in the staff's orgs."""
    start, end = day_bounds(today)
    records = list(
        attendance.visible_records(user)
        .filter(
            roll_call__occurrence__start__gte=start,
            roll_call__occurrence__start__lt=end,
        )
        .select_related("roll_call__occurrence__school_class__org")
        .prefetch_related(None)
        .order_by(
            "roll_call__occurrence__school_class__title",
            "student__last_name",
            "student__first_name",
            "roll_call__occurrence__start",
        )[:READ_AT_MOST]
    )
    classes: dict[int, dict] = {}
    for record in records:
        school_class = record.roll_call.occurrence.school_class
        row = classes.setdefault(
            school_class.pk,
            {"school_class": school_class, "absent": 0, "late": 0, "records": []},
        )
        row["absent" if record.status == "absent" else "late"] += 1
        row["records"].append(record)
    _log_read(
        user, {r.roll_call.occurrence.school_class.org_id for r in records}, "home"
    )
    return {"classes": list(classes.values()), "count": len(records)}


@card("excuses", roles=(STAFF,), kinds=("attendance.excuse",))
def excuses(user: User, today: dt.date) -> dict:
    """The excuses waiting for the staff's review, oldest first."""
    queue = attendance.excuse_queue(user)
    rows = list(queue[:SHOWN])
    _log_read(
        user,
        {e.record.roll_call.occurrence.school_class.org_id for e in rows},
        "excuse_queue",
    )
    return {"excuses": rows, "count": queue.count()}


@card(
    "missing_roll_calls",
    roles=(STAFF,),
    kinds=("attendance.roll_call", "attendance.record"),
)
def missing_roll_calls(user: User, today: dt.date) -> dict:
    """Today's lessons flagged without a roll call, in the staff's orgs."""
    lessons = list(attendance.missing_roll_calls(user, today)[:READ_AT_MOST])
    return {"lessons": lessons[:SHOWN], "count": len(lessons)}


# Everyone -----------------------------------------------------------------


@card(
    "messages",
    roles=(STUDENT, GUARDIAN, TEACHER, STAFF),
    kinds=("messaging.message", "messaging.read"),
)
def messages(user: User, today: dt.date) -> dict:
    """How many conversations and messages are unread."""
    conversations, count = unread_totals(user)
    return {"conversations": conversations, "count": count}


@card(
    "agenda",
    roles=(STUDENT, GUARDIAN, TEACHER, STAFF),
    kinds=("agenda.entry", "agenda.booking"),
)
def agenda_next(user: User, today: dt.date) -> dict:
    """The next agenda entries and booked meetings for the user (``core.agenda.access``)."""
    moment = now()
    items = [
        {"start": entry.start, "entry": entry}
        for entry in agenda.entries_for(user, since=moment)
        if not entry.cancelled_at
    ] + [
        {"start": booking.slot.start, "booking": booking}
        for booking in agenda.bookings_for(user).filter(
            cancelled_at__isnull=True, slot__start__gte=moment
        )[:SHOWN]
    ]
    items.sort(key=lambda item: item["start"])
    return {"items": items[:SHOWN], "count": len(items)}


@card("notifications", roles=(STUDENT, GUARDIAN, TEACHER, STAFF), kinds=("notifying",))
def notifications(user: User, today: dt.date) -> dict:
    """How many notifications are unread."""
    return {"count": inbox.unread_count(user)}


@card(
    "notices",
    roles=(STUDENT, GUARDIAN, TEACHER),
    kinds=("schoollife.notice", "schoollife.reminder"),
)
def notices(user: User, today: dt.date) -> dict:
    """The school's notices addressed to ``user`` still to acknowledge."""
    from core.schoollife import access as schoollife

    waiting = schoollife.waiting_for(user)
    return {"notices": waiting[:SHOWN], "count": len(waiting)}
