"""Who may manage evaluations and read marks: the one definition, used by
pages, the CSV export, actions and events.

- **Managing** an evaluation (create, enter marks, publish, change, remove)
  follows the homework rule (``core.homework.access.teaches_subject``): an
  active teacher with a current teacher enrollment in the class who teaches
  the subject there (the timetable narrows which enrolled teacher does).
  Those teachers read every mark of the evaluations they manage, drafts
  too. The enrollment ends: managing and reading end at once.
- **A pupil** reads their own marks of published, live evaluations of the
  schools they are currently enrolled in as a student, whatever class the
  evaluation was given in (a pupil who changed class keeps the marks of the
  period): the same marks the averages and the report card count.
- **A guardian** reads the same, per child, for their current children
  (``GuardianLink`` rows read at request time: a link removed ends it).
  Never another pupil's mark: every family read goes through
  :func:`published_marks` of one pupil.
- **School-life staff** with :data:`STAFF_PERMISSION` read the published
  evaluations and averages of the classes of their orgs
  (``core.roster.access.staff_orgs``); the views log each read
  (``audit.record_read``).
- **Periods**: staff with :data:`PERIOD_PERMISSION` define the periods of
  their orgs.
- **The CSV export** of a class: its teachers (a current teacher
  enrollment) and the staff of its org.

"Not found" and "not allowed" raise the same ``Http404``.
"""

from django.db.models import Exists, F, OuterRef, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import Http404

from core.grades.models import Evaluation, Mark, Period
from core.homework import access as homework_access
from core.roster.access import staff_orgs
from core.roster.models import Enrollment, Org, SchoolClass, User

# What school-life staff need to read the grades of their orgs' classes.
STAFF_PERMISSION = "grades.view_evaluation"
# What staff need to define their orgs' grading periods.
PERIOD_PERMISSION = "grades.change_period"

# One definition with the homework notebook: enrolled teachers, per subject.
pupils_of_user = homework_access.pupils_of_user
get_pupil = homework_access.get_pupil
teaching_classes = homework_access.writable_classes
get_class_to_manage = homework_access.get_writable_class
subjects_taught = homework_access.subjects_taught


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def may_manage(user: User, evaluation: Evaluation) -> bool:
    """Whether ``user`` may enter marks of, publish, change or remove it."""
    return homework_access.teaches_subject(
        user, evaluation.school_class, evaluation.subject
    )


def managed(user: User, evaluations) -> list[Evaluation]:
    """The evaluations of ``evaluations`` ``user`` may manage (two queries)."""
    evaluations = list(evaluations)
    pairs = homework_access.pairs_taught(
        user, {(e.school_class_id, e.subject) for e in evaluations}
    )
    return [e for e in evaluations if (e.school_class_id, e.subject) in pairs]


def get_evaluation_to_manage(user: User, evaluation_id: int) -> Evaluation:
    """Return a live evaluation ``user`` may manage, or raise Http404."""
    evaluation = (
        Evaluation.objects.filter(pk=evaluation_id, deleted_at__isnull=True)
        .select_related("school_class__org", "period", "teacher")
        .first()
    )
    if evaluation is None or not may_manage(user, evaluation):
        raise Http404("no such evaluation")
    return evaluation


def student_classes(student: User) -> QuerySet[SchoolClass]:
    """The classes ``student`` is currently enrolled in as a student."""
    return SchoolClass.objects.filter(
        enrollments__user=student, enrollments__role=Enrollment.Role.STUDENT
    )


def published_evaluations(classes) -> QuerySet[Evaluation]:
    """The published, live evaluations of ``classes``."""
    return Evaluation.objects.filter(
        school_class__in=classes,
        published_at__isnull=False,
        deleted_at__isnull=True,
    )


def published_marks(student: User) -> QuerySet[Mark]:
    """``student``'s own marks that their family may read: of published,
    live evaluations of the schools where the pupil is enrolled now, in any
    class (the marks :func:`core.grades.averages.subject_averages` counts
    for a period, which belongs to one school). The caller checked the
    reader is the pupil or a current guardian (:func:`get_pupil`)."""
    return Mark.objects.filter(
        student=student,
        evaluation__school_class__org__in=Org.objects.filter(
            classes__in=student_classes(student)
        ),
        evaluation__published_at__isnull=False,
        evaluation__deleted_at__isnull=True,
    )


def staff_classes(user: User) -> QuerySet[SchoolClass]:
    """The classes of the orgs where ``user`` reads grades as staff."""
    return SchoolClass.objects.filter(org__in=staff_orgs(user, STAFF_PERMISSION))


def get_class_for_staff(user: User, class_id: int) -> SchoolClass:
    """Return a class whose grades ``user`` reads as staff, or raise Http404."""
    school_class = staff_classes(user).select_related("org").filter(pk=class_id).first()
    if school_class is None:
        raise Http404("no such class")
    return school_class


def get_class_for_export(user: User, class_id: int) -> SchoolClass:
    """Return a class whose CSV ``user`` may export (a current teacher of
    the class, or staff of its org), or raise Http404."""
    if _active(user) and user.role == User.Role.TEACHER:
        return get_class_to_manage(user, class_id)
    return get_class_for_staff(user, class_id)


def period_orgs(user: User) -> QuerySet[Org]:
    """The orgs whose periods ``user`` may define."""
    return staff_orgs(user, PERIOD_PERMISSION)


def get_period_to_manage(user: User, period_id: int) -> Period:
    """Return a period ``user`` may change, or raise Http404."""
    period = Period.objects.filter(pk=period_id, org__in=period_orgs(user)).first()
    if period is None:
        raise Http404("no such period")
    return period


def latest_marks(pupils, limit: int) -> dict[int, list[Mark]]:
    """Each pupil's most recently published marks (at most ``limit`` each,
    counted per pupil: a child with many new marks leaves the others'
    theirs), as :func:`published_marks` gives them: one query for any
    number of pupils (the home's card). The caller checked the reader."""
    ids = [pupil.pk for pupil in pupils]
    found: dict[int, list[Mark]] = {pk: [] for pk in ids}
    if not ids:
        return found
    newest = ["-evaluation__published_at", "-evaluation__date", "-pk"]
    in_school_now = Enrollment.objects.filter(
        user=OuterRef("student"),
        school_class__org=OuterRef("evaluation__school_class__org"),
        role=Enrollment.Role.STUDENT,
    )
    rows = (
        Mark.objects.filter(
            Exists(in_school_now),
            student_id__in=ids,
            evaluation__published_at__isnull=False,
            evaluation__deleted_at__isnull=True,
        )
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("student_id")], order_by=newest)
        )
        .filter(rank__lte=limit)
        .select_related("evaluation")
        .defer("comment")
        .order_by("student_id", *newest)
    )
    for mark in rows:
        found[mark.student_id].append(mark)
    return found
