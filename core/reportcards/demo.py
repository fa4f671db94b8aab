"""Report cards of the demo school (``core.demo.school`` calls
:func:`seed_demo` after the grades' demo): the period of the demo's
published marks is published for 4e B, with a subject and a head teacher's
appraisal for its first pupil, and the PDFs are made at once (what the
background task does), so the guardians have a card to download."""

from core.grades.models import Evaluation
from core.reportcards import actions, generation
from core.reportcards.models import Publication
from core.roster.access import students_of_class
from core.roster.models import SchoolClass, User


def seed_demo(
    school_class: SchoolClass, teacher: User, staff: User
) -> Publication | None:
    evaluation = (
        Evaluation.objects.filter(
            school_class=school_class,
            published_at__isnull=False,
            deleted_at__isnull=True,
        )
        .select_related("period")
        .order_by("date")
        .first()
    )
    pupils = list(students_of_class(school_class))
    if evaluation is None or not pupils:
        return None
    period = evaluation.period
    first = pupils[0].pk
    actions.save_subject_appraisals(
        teacher=teacher,
        school_class=school_class,
        period=period,
        subject=evaluation.subject,
        texts={first: "Un travail régulier et soigné ; continuez ainsi."},
    )
    actions.save_head_appraisals(
        staff=staff,
        school_class=school_class,
        period=period,
        texts={first: "Bon trimestre, des efforts à poursuivre à l’oral."},
    )
    publication = actions.publish(staff=staff, school_class=school_class, period=period)
    generation.generate(publication.pk, publication.generation)
    return publication
