"""The agenda of the demo school (``core.demo.school`` calls :func:`seed_demo`):
a few entries and a parent–teacher evening of 4e B with the teacher's slots."""

import datetime as dt

from django.utils import timezone

from core.agenda import actions
from core.agenda.models import AgendaEntry, MeetingEvening
from core.roster.audience import Audience
from core.roster.models import SchoolClass, User


def _weekday_after(now: dt.datetime, days: int) -> dt.date:
    day = timezone.localdate(now) + dt.timedelta(days=days)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(
        day, dt.time(hour, minute), timezone.get_current_timezone()
    )


def seed_demo(school_class: SchoolClass, teacher: User, staff: User) -> MeetingEvening:
    """Entries for 4e B and the whole school, and an evening for 4e B whose
    booking is open now, with ``teacher``'s slots from 17:00 to 19:00."""
    org = school_class.org
    now = timezone.now()
    council = _weekday_after(now, 10)
    actions.create_entry(
        actor=staff,
        org=org,
        kind=AgendaEntry.Kind.CLASS_COUNCIL,
        title=f"Conseil de classe de {school_class.title}",
        location="Salle du conseil",
        start=_at(council, 17, 30),
        end=_at(council, 19),
        audience=Audience(
            org_id=org.pk,
            roles=frozenset({User.Role.TEACHER, User.Role.ADMINISTRATOR}),
            class_ids=frozenset({school_class.pk}),
        ),
    )
    outing = _weekday_after(now, 5)
    actions.create_entry(
        actor=staff,
        org=org,
        kind=AgendaEntry.Kind.OUTING,
        title="Sortie au musée Unterlinden",
        description="Départ 8 h 15 devant le collège, retour vers 16 h 30.",
        location="Colmar",
        start=_at(outing, 8, 15),
        end=_at(outing, 16, 30),
        audience=Audience(org_id=org.pk, class_ids=frozenset({school_class.pk})),
    )
    exams = _weekday_after(now, 20)
    actions.create_entry(
        actor=staff,
        org=org,
        kind=AgendaEntry.Kind.MOCK_EXAM,
        title="Brevet blanc",
        all_day=True,
        start=exams,
        end=exams + dt.timedelta(days=1),
        audience=Audience(org_id=org.pk, levels=frozenset({"3e"})),
    )
    day = _weekday_after(now, 8)
    evening = actions.create_evening(
        actor=staff,
        org=org,
        title=f"Rencontres parents-professeurs – {school_class.title}",
        date=day,
        class_ids=[school_class.pk],
        booking_opens=now - dt.timedelta(hours=1),
        booking_closes=_at(day - dt.timedelta(days=1), 12),
    )
    actions.open_slots(
        teacher=teacher,
        evening=evening,
        start=dt.time(17),
        end=dt.time(19),
        minutes=10,
        room="B12",
    )
    return evening
