"""Who may write, publish, read and download report cards: the one
definition, used by pages, downloads, actions and events.

- **Subject appraisals**: a teacher writes those of the subjects they teach
  in a class (a homeroom or a group): :func:`core.homework.access.pairs_taught`
  (a current teacher enrollment in the class, and the teacher the timetable
  names for that subject there when it names one). The subjects offered are
  those of the class's timetable and of its published evaluations of the
  period. The enrollment ending ends the writing at once.
- **Head teacher's appraisal and publication**: the roster has no
  "professeur principal" (OneRoster knows no such role, and the imports
  bring none), so the head teacher's appraisal is written, and the period
  published for a homeroom, by school-life staff holding
  :data:`PUBLISH_PERMISSION` in the class's school
  (``core.roster.access.staff_orgs``; the "Vie scolaire" group has it).
- **Download of a PDF**: the pupil's *current* guardians, once the period
  is published for the card's class and the PDF exists (a guardian link that
  ended gives nothing, at once); school-life staff holding
  :data:`VIEW_PERMISSION` in the card's school (audited by the view). The
  pupil does not download it (guardians only, as the issue asks), nor does
  any teacher.

"Not found" and "not allowed" raise the same ``Http404``.
"""

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from core.grades.models import Evaluation, Period
from core.homework import access as homework_access
from core.reportcards.models import Publication, ReportCard
from core.roster.access import children_of, staff_orgs
from core.roster.models import SchoolClass, User
from core.timetable.models import Occurrence

VIEW_PERMISSION = "reportcards.view_reportcard"
PUBLISH_PERMISSION = "reportcards.add_publication"


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


# Teachers ---------------------------------------------------------------


def class_subjects(school_class: SchoolClass, period: Period) -> list[str]:
    """The subjects of a class for a period: its timetable's and those of
    its published evaluations of the period."""
    subjects = set(
        Occurrence.objects.filter(school_class=school_class)
        .values_list("subject", flat=True)
        .distinct()
    )
    subjects |= set(
        Evaluation.objects.filter(
            school_class=school_class,
            period=period,
            published_at__isnull=False,
            deleted_at__isnull=True,
        )
        .values_list("subject", flat=True)
        .distinct()
    )
    return sorted(s for s in subjects if s)


def subjects_to_appraise(
    user: User, school_class: SchoolClass, period: Period
) -> list[str]:
    """The subjects of :func:`class_subjects` ``user`` may appraise."""
    pairs = {(school_class.pk, s) for s in class_subjects(school_class, period)}
    taught = homework_access.pairs_taught(user, pairs)
    return sorted(subject for _class_id, subject in taught)


def teacher_classes(user: User) -> QuerySet[SchoolClass]:
    """The classes ``user`` teaches now (a current teacher enrollment)."""
    return homework_access.writable_classes(user).select_related("org")


def get_teacher_class(user: User, class_id: int) -> SchoolClass:
    """Return a class ``user`` teaches, or raise Http404."""
    return homework_access.get_writable_class(user, class_id)


# Periods ----------------------------------------------------------------


def periods_of(school_class: SchoolClass) -> QuerySet[Period]:
    """The grading periods of the class's school and school year."""
    return Period.objects.filter(
        org_id=school_class.org_id, session_id=school_class.session_id
    ).order_by("start_date")


def get_period(school_class: SchoolClass, period_id: int | None) -> Period:
    """Return a period of the class's school year, or raise Http404."""
    period = periods_of(school_class).filter(pk=period_id).first()  # type: ignore[misc]  # None: 404
    if period is None:
        raise Http404("no such period")
    return period


# School-life staff -------------------------------------------------------


def staff_classes(user: User) -> QuerySet[SchoolClass]:
    """The homerooms of the orgs where ``user`` may publish report cards."""
    if not _active(user):
        return SchoolClass.objects.none()
    return (
        SchoolClass.objects.filter(
            org__in=staff_orgs(user, PUBLISH_PERMISSION),
            class_type=SchoolClass.Type.HOMEROOM,
        )
        .select_related("org")
        .order_by("org__name", "title")
    )


def get_staff_class(user: User, class_id: int) -> SchoolClass:
    """Return a homeroom whose cards ``user`` may publish, or raise Http404."""
    school_class = staff_classes(user).filter(pk=class_id).first()
    if school_class is None:
        raise Http404("no such class")
    return school_class


def publication_of(school_class: SchoolClass, period: Period) -> Publication | None:
    return Publication.objects.filter(school_class=school_class, period=period).first()


# Families ----------------------------------------------------------------


def _published() -> Exists:
    return Exists(
        Publication.objects.filter(
            school_class=OuterRef("school_class"), period=OuterRef("period")
        )
    )


def published_cards() -> QuerySet[ReportCard]:
    """Report cards whose period is published for their class and whose PDF
    exists (a correction being made keeps the previous PDF readable)."""
    return (
        ReportCard.objects.filter(_published())
        .exclude(file="")
        .select_related("period", "school_class__org", "student")
    )


def cards_for_guardian(user: User) -> dict[User, list[ReportCard]]:
    """``{child: [published cards]}`` of ``user``'s current children (none
    for other roles), each child's cards by period."""
    if not _active(user) or user.role != User.Role.GUARDIAN:
        return {}
    children = list(children_of(user))
    found: dict[int, list[ReportCard]] = {child.pk: [] for child in children}
    for card in (
        published_cards()
        .filter(student__in=children)
        .order_by("period__start_date", "pk")
    ):
        found[card.student_id].append(card)
    return {child: found[child.pk] for child in children}


def get_card_to_download(user: User, card_id: int) -> tuple[ReportCard, bool]:
    """Return ``(card, as_staff)`` for a PDF ``user`` may download, or 404.

    A current guardian of the pupil (published card), or school-life staff
    of the card's school holding :data:`VIEW_PERMISSION` (any generated
    card; the caller audits the read).
    """
    if not _active(user):
        raise Http404("no such report card")
    if user.role == User.Role.GUARDIAN:
        card = (
            published_cards()
            .filter(pk=card_id, student__in=children_of(user).values("pk"))
            .first()
        )
        if card is not None:
            return card, False
    elif user.role == User.Role.ADMINISTRATOR:
        card = (
            ReportCard.objects.filter(
                pk=card_id, school_class__org__in=staff_orgs(user, VIEW_PERMISSION)
            )
            .exclude(file="")
            .select_related("period", "school_class__org", "student")
            .first()
        )
        if card is not None:
            return card, True
    raise Http404("no such report card")
