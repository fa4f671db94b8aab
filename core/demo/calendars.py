"""The demo collège's timetables, written as RFC 5545 calendars (``icalendar``).

Each class has weekly lessons (``RRULE:FREQ=WEEKLY;UNTIL=`` the end of its
school year) at floating local times with ``X-WR-TIMEZONE:Europe/Paris``, the
teacher's full name in ``ORGANIZER;CN=`` as Google, Thunderbird or Exchange
write it (the importer links a teacher by "Prénom NOM"). They go through the
same importer as a school's real export; the tests of the importer keep
using real exports (``tests/data/ical``).

3e A's calendar has a later version, :func:`class_3a_after` (``make
demo-after``): in the week of :data:`DEMO_WEEK`, one lesson cancelled
(``STATUS:CANCELLED``) and six moved or re-roomed, each an override with
``RECURRENCE-ID`` (RFC 5545 §3.8.4.4), as a timetabling tool re-exports.
"""

import datetime as dt
from dataclasses import dataclass

from django.utils.text import slugify
from icalendar import Calendar, Event, vCalAddress

# The week 3e A's timetable opens on, and that `make demo-after` changes.
DEMO_WEEK = dt.date(2026, 1, 19)
PRODID = "-//Hub ENT//Collège des Tilleuls (démonstration)//FR"


@dataclass(frozen=True)
class WeeklyLesson:
    """One lesson a week: weekday (0 = Monday), local start, length, who, where."""

    weekday: int
    start: str
    minutes: int
    subject: str
    room: str
    teacher: str = ""


@dataclass(frozen=True)
class Change:
    """How one lesson of :data:`DEMO_WEEK` changes in the later version.

    ``lesson`` indexes the class's weekly lessons; ``day``/``start`` move it
    (weekday of the same week, local time), ``room`` re-rooms it.
    """

    lesson: int
    cancelled: bool = False
    day: int | None = None
    start: str | None = None
    room: str | None = None


FRANCAIS = ("Français", "B21", "Isabelle Roux")
MATHS = ("Mathématiques", "B22", "Antoine Girard")
HISTOIRE = ("Histoire-géographie", "B23", "Olivier Marchal")
ANGLAIS = ("Anglais", "C04", "Sarah Lemoine")
ALLEMAND = ("Allemand", "C05", "Katrin Weber")
PHYSIQUE = ("Physique-chimie", "Labo 1", "Thomas Villard")
SVT = ("Sciences de la vie et de la Terre", "Labo 2", "Hélène Dubois")
TECHNO = ("Technologie", "Atelier", "Patrick Lefèvre")
EPS = ("Éducation physique et sportive", "Gymnase", "Julien Perrin")
ARTS = ("Arts plastiques", "Salle d'arts", "Anne Mercier")
MUSIQUE = ("Éducation musicale", "Salle de musique", "Yves Caron")


def _week(*slots) -> list[WeeklyLesson]:
    return [
        WeeklyLesson(day, start, minutes, *lesson)
        for day, start, minutes, lesson in slots
    ]


WEEK_3A = _week(
    (0, "08:00", 55, FRANCAIS),
    (0, "09:00", 55, MATHS),
    (0, "10:05", 55, HISTOIRE),
    (0, "11:05", 55, ANGLAIS),
    (0, "13:30", 110, EPS),
    (1, "08:00", 55, PHYSIQUE),
    (1, "09:00", 55, FRANCAIS),
    (1, "10:05", 55, MATHS),
    (1, "11:05", 55, ALLEMAND),
    (1, "13:30", 55, TECHNO),
    (1, "14:30", 55, HISTOIRE),
    (2, "08:00", 55, MATHS),
    (2, "09:00", 55, ANGLAIS),
    (2, "10:05", 55, SVT),
    (2, "11:05", 55, FRANCAIS),
    (3, "08:00", 55, HISTOIRE),
    (3, "09:00", 55, ARTS),
    (3, "10:05", 55, ALLEMAND),
    (3, "11:05", 55, MATHS),
    (3, "13:30", 55, SVT),
    (3, "14:30", 55, MUSIQUE),
    (4, "08:00", 55, FRANCAIS),
    (4, "09:00", 55, ANGLAIS),
    (4, "10:05", 55, TECHNO),
    (4, "11:05", 55, PHYSIQUE),
    (4, "13:30", 55, EPS),
    (4, "14:30", 55, ALLEMAND),
)
# `make demo-after`: M. Marchal's Tuesday lesson is cancelled; three lessons
# move, three change rooms (7 changes, one notification for the families).
CHANGES_3A = (
    Change(10, cancelled=True),
    Change(18, day=3, start="15:35"),
    Change(24, day=0, start="15:35"),
    Change(9, day=4, start="15:35"),
    Change(3, room="CDI"),
    Change(13, room="Labo 3"),
    Change(25, room="Stade"),
)

FONTAINE = "Claire Fontaine"
WEEK_4B = [
    WeeklyLesson(0, "08:00", 55, "Mathématiques", "B12", FONTAINE),
    WeeklyLesson(0, "10:05", 55, "Français", "B14", "Isabelle Roux"),
    WeeklyLesson(1, "09:00", 55, "Mathématiques", "B12", FONTAINE),
    WeeklyLesson(1, "14:00", 110, SVT[0], "Labo 2", "Hélène Dubois"),
    WeeklyLesson(2, "08:00", 55, "Allemand", "C03", "Katrin Weber"),
    WeeklyLesson(3, "10:05", 55, "Mathématiques", "B12", FONTAINE),
    WeeklyLesson(3, "13:30", 55, "Histoire-géographie", "B10", "Olivier Marchal"),
    WeeklyLesson(4, "08:00", 55, "Mathématiques", "B12", FONTAINE),
    WeeklyLesson(4, "15:00", 55, EPS[0], "Gymnase", "Julien Perrin"),
]
WEEK_5C = [
    WeeklyLesson(0, "09:00", 55, "Mathématiques", "B12", FONTAINE),
    WeeklyLesson(2, "10:05", 55, "Mathématiques", "B12", FONTAINE),
    WeeklyLesson(3, "08:00", 55, "Anglais", "C01", "Sarah Lemoine"),
    WeeklyLesson(4, "11:00", 55, "Mathématiques", "B12", FONTAINE),
]


def weekly_calendar(
    slug: str,
    lessons: list[WeeklyLesson],
    first_day: dt.date,
    last_day: dt.date,
    changes: tuple[Change, ...] = (),
) -> bytes:
    """Return the calendar of ``lessons`` every week from ``first_day`` to
    ``last_day``, with ``changes`` applied to the week of :data:`DEMO_WEEK`.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-timezone", "Europe/Paris")
    monday = first_day - dt.timedelta(days=first_day.weekday())
    until = dt.datetime.combine(last_day, dt.time(23, 59, 59))
    for index, lesson in enumerate(lessons):
        day = monday + dt.timedelta(days=lesson.weekday)
        if day < first_day:
            day += dt.timedelta(days=7)
        master = _event(f"{slug}-{index}@demo.hub-ent", lesson, day)
        master.add("rrule", {"freq": "weekly", "until": until})
        calendar.add_component(master)
    for change in changes:
        lesson = lessons[change.lesson]
        day = DEMO_WEEK + dt.timedelta(days=lesson.weekday)
        moved = WeeklyLesson(
            lesson.weekday if change.day is None else change.day,
            change.start or lesson.start,
            lesson.minutes,
            lesson.subject,
            change.room or lesson.room,
            lesson.teacher,
        )
        override = _event(
            f"{slug}-{change.lesson}@demo.hub-ent",
            moved,
            DEMO_WEEK + dt.timedelta(days=moved.weekday),
        )
        override.add("recurrence-id", _at(day, lesson.start))
        if change.cancelled:
            override.add("status", "CANCELLED")
        calendar.add_component(override)
    return calendar.to_ical()


def class_3a_before(first_day: dt.date, last_day: dt.date) -> bytes:
    """Return 3e A's calendar as `make run` imports it."""
    return weekly_calendar("3ea", WEEK_3A, first_day, last_day)


def class_3a_after(first_day: dt.date, last_day: dt.date) -> bytes:
    """Return 3e A's later calendar: :data:`CHANGES_3A` in :data:`DEMO_WEEK`."""
    return weekly_calendar("3ea", WEEK_3A, first_day, last_day, CHANGES_3A)


def _at(day: dt.date, start: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(start))


def _event(uid: str, lesson: WeeklyLesson, day: dt.date) -> Event:
    begin = _at(day, lesson.start)
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", dt.datetime(2025, 8, 1, tzinfo=dt.UTC))
    event.add("dtstart", begin)
    event.add("dtend", begin + dt.timedelta(minutes=lesson.minutes))
    event.add("summary", lesson.subject)
    event.add("location", lesson.room)
    if lesson.teacher:
        organizer = vCalAddress(f"mailto:{slugify(lesson.teacher)}@demo.invalid")
        organizer.params["cn"] = lesson.teacher
        event.add("organizer", organizer)
    return event
