"""Who may read and write the homework notebook: the one definition, used by
pages, JSON endpoints and actions.

Reading follows the roster (:func:`readable_classes`): the pupils of
the class (a homeroom or a group), their guardians, its teachers and the
school-life staff of its org holding :data:`STAFF_PERMISSION`
(``core.roster.access.staff_orgs``; the "Vie scolaire" group has it). Pupils, guardians and staff see a homework
once published (``published``) and not removed; the teachers who may
manage it see it planned too. A guardian reads per child: the homework of
that child's classes, with that child's "fait" and hand-in state.

Writing follows the roster too: :func:`teaches_subject` — an active teacher
with a current teacher ``Enrollment`` in the class and, among those, the one
named on a lesson of that class in that subject; when the timetable names no
teacher for that subject in that class (or has no such lesson), any teacher
enrolled in the class. Being named on lessons only narrows which enrolled
teacher teaches the subject: once the enrollment ends, managing the homework
and reading the hand-ins end at once, whatever lessons named them (past,
cancelled). A teacher of another subject in the same class reads the class's
homework (the workload view) but may not change it nor see its hand-ins.

A substitute (named on a lesson, not enrolled in the class) gets nothing of
the notebook beyond what that lesson gives (as its roll call,
``core.attendance.access.teaches``): writing that lesson's content
(:func:`get_occurrence_to_write`). No homework, no hand-ins, no class page.

"Not found" and "not allowed" raise the same ``Http404``.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from core.homework.models import DoneMark, HandIn, Homework
from core.roster.access import children_of, classes_of, staff_orgs
from core.roster.models import Enrollment, SchoolClass, User
from core.timetable.models import Occurrence

# What school-life staff need to read the notebook of their orgs' classes.
STAFF_PERMISSION = "homework.view_homework"
# How far ahead a pupil's list of homework reads by default (pages and API).
HORIZON = dt.timedelta(weeks=8)


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def readable_classes(user: User) -> QuerySet[SchoolClass]:
    """Return the classes whose notebook ``user`` reads.

    Staff (``User.Role.ADMINISTRATOR``): the classes of the orgs where they
    hold :data:`STAFF_PERMISSION` (``staff_orgs``), not every class of
    every org they are linked to. Others: ``classes_of`` (enrollments,
    children's classes).
    """
    if not _active(user):
        return SchoolClass.objects.none()
    if user.role == User.Role.ADMINISTRATOR:
        return SchoolClass.objects.filter(org__in=staff_orgs(user, STAFF_PERMISSION))
    return classes_of(user)


def teaches_subject(user: User, school_class: SchoolClass, subject: str) -> bool:
    """Return whether ``user`` may set homework in ``subject`` for ``school_class``."""
    return (school_class.pk, subject) in pairs_taught(
        user, {(school_class.pk, subject)}
    )


def pairs_taught(user: User, pairs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Return the ``(class id, subject)`` of ``pairs`` ``user`` may set homework in.

    The rule of the module docstring, for any number of pairs in two
    queries: the classes ``user`` is enrolled in as a teacher (nothing
    without one), then the subjects of those classes' timetables with the
    teachers their lessons name. A class with a timetable takes homework
    only in its timetable's subjects ("maths" is not "Mathématiques": the
    subject is chosen from :func:`subjects_taught`); a class with none
    takes any subject from its enrolled teachers.
    """
    pairs = {(class_id, subject) for class_id, subject in pairs if subject}
    if not pairs or not _active(user) or user.role != User.Role.TEACHER:
        return set()
    enrolled = set(
        Enrollment.objects.filter(
            user=user,
            school_class_id__in={class_id for class_id, _subject in pairs},
            role=Enrollment.Role.TEACHER,
        ).values_list("school_class_id", flat=True)
    )
    pairs = {pair for pair in pairs if pair[0] in enrolled}
    if not pairs:
        return set()
    named, staffed, known = set(), set(), set()
    for class_id, subject, teacher_id in (
        Occurrence.objects.filter(
            school_class_id__in={class_id for class_id, _subject in pairs}
        )
        .values_list("school_class_id", "subject", "teachers")
        .distinct()
    ):
        known.add((class_id, subject))
        if teacher_id is not None:
            staffed.add((class_id, subject))
        if teacher_id == user.pk:
            named.add((class_id, subject))
    timetabled = {class_id for class_id, _subject in known}
    return {
        pair
        for pair in pairs
        if pair in named
        or (pair not in staffed and (pair in known or pair[0] not in timetabled))
    }


def subjects_taught(user: User, school_class: SchoolClass) -> list[str]:
    """Return the subjects of the class's timetable ``user`` may set homework in."""
    subjects = set(
        Occurrence.objects.filter(school_class=school_class)
        .values_list("subject", flat=True)
        .distinct()
    )
    taught = pairs_taught(user, {(school_class.pk, s) for s in subjects})
    return sorted(subject for _class_id, subject in taught)


def writable_classes(user: User) -> QuerySet[SchoolClass]:
    """Return the classes ``user`` teaches: a current teacher enrollment (being
    named on a lesson of a class is not enough)."""
    if not _active(user) or user.role != User.Role.TEACHER:
        return SchoolClass.objects.none()
    return (
        SchoolClass.objects.filter(
            enrollments__user=user, enrollments__role=Enrollment.Role.TEACHER
        )
        .distinct()
        .order_by("title")
    )


def get_writable_class(user: User, class_id: int) -> SchoolClass:
    """Return a class ``user`` teaches, or raise Http404."""
    school_class = (
        writable_classes(user).select_related("org").filter(pk=class_id).first()
    )
    if school_class is None:
        raise Http404("no such class")
    return school_class


def may_manage(user: User, homework: Homework) -> bool:
    """Whether ``user`` may change, remove or review hand-ins of ``homework``."""
    return teaches_subject(user, homework.school_class, homework.subject)


def _with_items(queryset: QuerySet[Homework]) -> QuerySet[Homework]:
    return queryset.select_related("school_class", "teacher").prefetch_related(
        "attachments"
    )


def visible(user: User, now: dt.datetime | None = None) -> QuerySet[Homework]:
    """Return the live (not removed) homework ``user`` may read.

    Published ones of :func:`readable_classes`; for a teacher, also the
    planned ones they set.
    """
    if not _active(user):
        return Homework.objects.none()
    classes = readable_classes(user)
    shown = Homework.objects.filter(school_class__in=classes, deleted_at__isnull=True)
    if user.role == User.Role.TEACHER:
        return _with_items(shown.filter(Q(published=True) | Q(teacher=user)))
    return _with_items(shown.filter(published=True))


def get_homework_to_manage(user: User, homework_id: int) -> Homework:
    """Return a live homework ``user`` may manage, or raise Http404."""
    homework = (
        _with_items(Homework.objects.filter(pk=homework_id, deleted_at__isnull=True))
        .select_related("school_class__org")
        .first()
    )
    if homework is None or not may_manage(user, homework):
        raise Http404("no such homework")
    return homework


def pupils_of_user(user: User) -> list[User]:
    """The pupils whose notebook ``user`` reads: themselves, or their children."""
    if not _active(user):
        return []
    if user.role == User.Role.STUDENT:
        return [user]
    if user.role == User.Role.GUARDIAN:
        return list(children_of(user))
    return []


def get_pupil(user: User, pupil_id: int | None) -> User:
    """Return the pupil ``user`` reads for (``pupil_id`` for a guardian), or 404."""
    pupils = pupils_of_user(user)
    if pupil_id is None and pupils:
        return pupils[0]
    for pupil in pupils:
        if pupil.pk == pupil_id:
            return pupil
    raise Http404("no such pupil")


def for_pupil(student: User) -> QuerySet[Homework]:
    """The published, live homework of ``student``'s classes (as a student)."""
    classes = Enrollment.objects.filter(
        user=student, role=Enrollment.Role.STUDENT
    ).values("school_class_id")
    return Homework.objects.filter(
        school_class_id__in=classes, published=True, deleted_at__isnull=True
    )


@dataclass
class PupilItem:
    """A homework as one pupil sees it: the row, "fait", the hand-in."""

    homework: Homework
    done: bool = False
    handin: HandIn | None = field(default=None)


def due_between(
    student: User, first_day: dt.date, last_day: dt.date
) -> list[PupilItem]:
    """Return the homework visible to ``student`` due in [first_day, last_day],
    by due date, each with the pupil's "fait" and hand-in state.

    A constant number of queries whatever the number of items.
    """
    return due_for_pupils([student], first_day, last_day)[student.pk]


def due_for_pupils(
    students: list[User], first_day: dt.date, last_day: dt.date
) -> dict[int, list[PupilItem]]:
    """Return :func:`due_between` for each of ``students`` (by pupil id).

    Four queries whatever the number of pupils and items (a guardian's home
    reads all their children at once): the pupils' classes, the homework, the
    "fait" marks and the hand-ins.
    """
    ids = [student.pk for student in students]
    classes_of_pupil: dict[int, set[int]] = {pk: set() for pk in ids}
    for student_id, class_id in Enrollment.objects.filter(
        user_id__in=ids, role=Enrollment.Role.STUDENT
    ).values_list("user_id", "school_class_id"):
        classes_of_pupil[student_id].add(class_id)
    class_ids = set().union(*classes_of_pupil.values()) if ids else set()
    rows = list(
        _with_items(
            Homework.objects.filter(
                school_class_id__in=class_ids,
                published=True,
                deleted_at__isnull=True,
                due_date__gte=first_day,
                due_date__lte=last_day,
            )
        ).order_by("due_date", "subject", "pk")
    )
    done = set(
        DoneMark.objects.filter(student_id__in=ids, homework__in=rows).values_list(
            "student_id", "homework_id"
        )
    )
    handins = {
        (h.student_id, h.homework_id): h
        for h in HandIn.objects.filter(student_id__in=ids, homework__in=rows)
    }
    return {
        pk: [
            PupilItem(
                homework=hw,
                done=(pk, hw.pk) in done,
                handin=handins.get((pk, hw.pk)),
            )
            for hw in rows
            if hw.school_class_id in classes_of_pupil[pk]
        ]
        for pk in ids
    }


def handins_to_review(teacher: User) -> QuerySet[HandIn]:
    """Return the hand-ins of homework ``teacher`` set (or manages: same class and
    subject) that are not returned yet, oldest first."""
    if not _active(teacher) or teacher.role != User.Role.TEACHER:
        return HandIn.objects.none()
    pairs = _managed_pairs(teacher)
    if not pairs:
        return HandIn.objects.none()
    scope = Q()
    for class_id, subject in pairs:
        scope |= Q(homework__school_class_id=class_id, homework__subject=subject)
    return (
        HandIn.objects.filter(scope, returned_at__isnull=True)
        .filter(homework__deleted_at__isnull=True)
        .select_related("homework__school_class", "student")
        .order_by("submitted_at")
    )


def _managed_pairs(teacher: User) -> set[tuple[int, str]]:
    """The (class id, subject) pairs of homework ``teacher`` may manage."""
    pairs = set(
        Homework.objects.filter(
            school_class__in=writable_classes(teacher), handin_required=True
        )
        .values_list("school_class_id", "subject")
        .distinct()
    )
    return pairs_taught(teacher, pairs)


def get_handin_for_teacher(user: User, handin_id: int) -> HandIn:
    """Return a hand-in ``user`` may read as its teacher, or raise Http404."""
    handin = (
        HandIn.objects.filter(pk=handin_id, homework__deleted_at__isnull=True)
        .select_related("homework__school_class__org", "student")
        .first()
    )
    if handin is None or not may_manage(user, handin.homework):
        raise Http404("no such hand-in")
    return handin


def get_handin_for_family(user: User, handin_id: int) -> HandIn:
    """Return a hand-in of ``user`` (pupil) or of their child (guardian), or 404."""
    pupils = [p.pk for p in pupils_of_user(user)]
    handin = (
        HandIn.objects.filter(pk=handin_id, student_id__in=pupils)
        .select_related("homework__school_class__org", "student")
        .first()
    )
    if handin is None or handin.homework not in for_pupil(handin.student):
        raise Http404("no such hand-in")
    return handin


def get_pupil_homework(user: User, homework_id: int) -> Homework:
    """Return a homework the pupil ``user`` may tick or hand in, or raise Http404."""
    if not _active(user) or user.role != User.Role.STUDENT:
        raise Http404("no such homework")
    homework = (
        for_pupil(user)
        .select_related("school_class__org", "teacher")
        .filter(pk=homework_id)
        .first()
    )
    if homework is None:
        raise Http404("no such homework")
    return homework


def get_class_for_reader(user: User, class_id: int) -> SchoolClass:
    """Return a class ``user`` may read (:func:`readable_classes`), or 404."""
    school_class = (
        readable_classes(user).select_related("org").filter(pk=class_id).first()
    )
    if school_class is None:
        raise Http404("no such class")
    return school_class


def get_class_for_team(user: User, class_id: int) -> SchoolClass:
    """Return a class whose notebook ``user`` reads as one of its teachers or
    school-life staff (the class page), or raise Http404. Pupils and
    guardians read theirs per pupil (:func:`get_pupil`), not per class."""
    school_class = get_class_for_reader(user, class_id)
    if user.role in (User.Role.STUDENT, User.Role.GUARDIAN):
        raise Http404("no such class")
    return school_class


def session_lessons(school_class: SchoolClass) -> list[Occurrence]:
    """The class's scheduled lessons of the last three weeks up to 12 hours
    ahead, newest first, each with its "contenu de la séance" (the session
    log). The caller checked the reader (:func:`get_class_for_reader`)."""
    now = timezone.now()
    return list(
        Occurrence.objects.filter(
            school_class=school_class,
            start__lte=now + dt.timedelta(hours=12),
            start__gte=now - dt.timedelta(weeks=3),
            status=Occurrence.Status.SCHEDULED,
        )
        .select_related("session_content__teacher")
        .order_by("-start")
    )


def lessons_named_on(user: User, occurrences) -> set[int]:
    """The ids of ``occurrences`` (scheduled) that name ``user`` as teacher."""
    if not _active(user) or user.role != User.Role.TEACHER:
        return set()
    return set(
        Occurrence.objects.filter(
            pk__in=[o.pk for o in occurrences],
            teachers=user,
            status=Occurrence.Status.SCHEDULED,
        ).values_list("pk", flat=True)
    )


def get_occurrence_to_write(user: User, occurrence_id: int) -> Occurrence:
    """Return a lesson whose content ``user`` may write, or raise Http404.

    Its subject's teacher in the class (:func:`teaches_subject`, enrolled),
    or a teacher named on this very lesson (scheduled, not cancelled): a
    substitute writes what they did in the lesson they took, nothing else.
    """
    occurrence = (
        Occurrence.objects.select_related("school_class__org")
        .filter(pk=occurrence_id)
        .first()
    )
    if occurrence is None or not (
        lessons_named_on(user, [occurrence])
        or teaches_subject(user, occurrence.school_class, occurrence.subject)
    ):
        raise Http404("no such lesson")
    return occurrence
