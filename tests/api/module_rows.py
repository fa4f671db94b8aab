"""One row of each module router that Karim's token reaches, for the
schema test (``tests/api/test_schema.py``): its path ids, by name."""

import datetime as dt

from django.utils import timezone

from core.agenda import actions as agenda
from core.documents import access as documents_access
from core.documents import actions as documents
from core.grades.models import Period
from core.homework.actions import set_homework
from core.reportcards import actions as reportcards
from core.reportcards import generation
from core.reportcards.models import ReportCard
from core.schoollife.actions import publish_notice
from tests.messaging.helpers import upload


def module_ids(world) -> dict:
    """``{path parameter: id}``; ``card_id`` is a callable (making a PDF
    takes a while: only the report card operations call it)."""
    s = world.school
    now = timezone.now()
    homework = set_homework(
        teacher=s.teacher,
        school_class=s.class_4b,
        subject="Mathématiques",
        title="Exercices",
        due_date=timezone.localdate() + dt.timedelta(days=2),
    )
    space = documents_access.get_space(s.teacher, "class", s.class_4b.pk)
    item = documents.add_file(space=space, actor=s.teacher, upload=upload("cours.pdf"))
    notice = publish_notice(
        author=s.cpe,
        org=s.org,
        title="Sortie",
        audience={"roles": ["guardian"], "classes": [s.class_4b.pk]},
        requires_ack=True,
        reply_kind="yes_no",
    )
    evening = agenda.create_evening(
        actor=s.cpe,
        org=s.org,
        title="Rencontres 4e",
        date=timezone.localdate() + dt.timedelta(days=10),
        class_ids=[s.class_4b.pk],
        booking_opens=now - dt.timedelta(days=1),
        booking_closes=now + dt.timedelta(days=3),
    )
    booked, free = agenda.open_slots(
        teacher=s.teacher,
        evening=evening,
        start=dt.time(17, 0),
        end=dt.time(17, 20),
        minutes=10,
    )
    booking = agenda.book(guardian=s.parent, slot=booked, student=s.pupil)
    return {
        "homework_id": homework.pk,
        "space_id": s.class_4b.pk,
        "version_id": item.versions.get().pk,
        "notice_id": notice.pk,
        "evening_id": evening.pk,
        "slot_id": free.pk,
        "booking_id": booking.pk,
        "card_id": lambda: _card(world),
    }


def _card(world) -> int:
    """Léa's report card of a published period, its PDF made."""
    s = world.school
    today = timezone.localdate()
    period = Period.objects.create(
        org=s.org,
        session=s.class_4b.session,
        title="Trimestre 1",
        start_date=today - dt.timedelta(days=60),
        end_date=today - dt.timedelta(days=1),
    )
    publication = reportcards.publish(
        staff=s.cpe, school_class=s.class_4b, period=period
    )
    generation.generate(publication.pk, publication.generation)
    return ReportCard.objects.get(student=s.pupil, period=period).pk
