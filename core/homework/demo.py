"""Homework of the demo school (``core.demo.school`` calls :func:`seed_demo`)."""

import datetime as dt

from django.utils import timezone

from core.homework import actions
from core.homework.models import Homework
from core.roster.models import SchoolClass, User


def seed_demo(school_class: SchoolClass, teacher: User) -> list[Homework]:
    """Set a few homework in ``school_class`` in the subjects ``teacher``
    teaches there (due on their next lessons), one with a hand-in and one
    planned for tomorrow morning."""
    subject = "Mathématiques"
    now = timezone.now()
    made = [
        actions.set_homework(
            teacher=teacher,
            school_class=school_class,
            subject=subject,
            title="Exercices 3 et 4 page 52",
            text="Rédiger les calculs. Aide : https://fr.khanacademy.org/math",
            kind=Homework.Kind.EXERCISE,
        ),
        actions.set_homework(
            teacher=teacher,
            school_class=school_class,
            subject=subject,
            title="Contrôle : théorème de Pythagore",
            text="Revoir le chapitre 4 et les exercices corrigés.",
            kind=Homework.Kind.TEST,
            due_date=_weekday_after(now, 7),
        ),
        actions.set_homework(
            teacher=teacher,
            school_class=school_class,
            subject=subject,
            title="Devoir maison n° 3",
            text="À rendre en PDF ou en photo.",
            kind=Homework.Kind.EXERCISE,
            due_date=_weekday_after(now, 4),
            handin_required=True,
        ),
        actions.set_homework(
            teacher=teacher,
            school_class=school_class,
            subject=subject,
            title="Apprendre les définitions du chapitre 5",
            kind=Homework.Kind.LEARN,
            due_date=_weekday_after(now, 9),
            publish_at=now + dt.timedelta(days=1),
        ),
    ]
    return made


def _weekday_after(now: dt.datetime, days: int) -> dt.date:
    day = timezone.localdate(now) + dt.timedelta(days=days)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day
