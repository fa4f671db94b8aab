"""Who reads and who writes course documents: the one definition.

Pages, downloads, JSON and events all ask here; the roster decides
(``core.roster.access``), so when an enrollment or a guardian link ends
(its row is deleted) the access it gave ends at once.

A **class space** is read by

- the class's pupils (a student ``Enrollment``);
- the guardians of those pupils, for the items and folders whose
  ``guardians_may_see`` is set (the teacher's choice);
- the class's teachers (a teacher ``Enrollment``);
- the school-life staff of the class's school: ``User.Role.ADMINISTRATOR``
  linked to the org and holding :data:`VIEW_PERMISSION` (the "Vie scolaire"
  group has it), ``core.roster.access.staff_orgs``. A staff account with
  no such permission reads nothing.

A **course space** (a subject of one school) is read by the teachers
enrolled in a class of that course: "shared between the teachers of a
subject". Pupils, guardians and staff have no course space.

**Writing** (adding folders, files and links, uploading a new version,
showing to or hiding from guardians, deleting) is for the teachers who read the space as teachers: any teacher of
the class (or of the course), not only the one who uploaded, so a colleague
can fix or replace a document; a teacher who left the class can no longer.

"Not found" and "not allowed" raise the same ``Http404``.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from django.db.models import Q, QuerySet
from django.http import Http404

from core.documents.models import DocumentVersion, Folder, Item
from core.roster.access import staff_orgs
from core.roster.models import Course, Enrollment, SchoolClass, User

CLASS: Literal["class"] = "class"
COURSE: Literal["course"] = "course"
# What school-life staff need to read a class's documents.
VIEW_PERMISSION = "documents.view_item"


@dataclass(frozen=True)
class Space:
    """A class's or a course's documents, as seen by one user."""

    kind: Literal["class", "course"]  # CLASS or COURSE
    obj: SchoolClass | Course
    can_write: bool
    guardian_only: bool  # the user reads it only as a guardian

    @property
    def id(self) -> int:
        return self.obj.pk

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.obj.pk}"

    @property
    def org_id(self) -> int:
        return self.obj.org_id

    @property
    def title(self) -> str:
        return self.obj.title

    @property
    def subject(self) -> str:
        """The subject taught: a class's course title, or the course's own."""
        if self.kind == COURSE:
            return self.obj.title
        assert isinstance(self.obj, SchoolClass)  # kind CLASS
        course = self.obj.course
        return course.title if course else ""

    def filter(self) -> dict:
        """Lookup of this space's folders and items."""
        return (
            {"school_class": self.obj} if self.kind == CLASS else {"course": self.obj}
        )


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def taught_classes(user: User) -> QuerySet[SchoolClass]:
    """Return the classes ``user`` teaches (teacher enrollments)."""
    return SchoolClass.objects.filter(
        enrollments__user=user, enrollments__role=Enrollment.Role.TEACHER
    ).distinct()


def taught_courses(user: User) -> QuerySet[Course]:
    """Return the courses whose space ``user`` shares: those of the classes
    they teach."""
    if user.role != User.Role.TEACHER:
        return Course.objects.none()
    return Course.objects.filter(
        classes__enrollments__user=user,
        classes__enrollments__role=Enrollment.Role.TEACHER,
    ).distinct()


def _member_classes(user: User) -> Q:
    """The class spaces ``user`` reads in full (not as a guardian)."""
    if user.role == User.Role.ADMINISTRATOR:
        return Q(school_class__org__in=staff_orgs(user, VIEW_PERMISSION))
    if user.role in (User.Role.STUDENT, User.Role.TEACHER):
        return Q(
            school_class__in=Enrollment.objects.filter(user=user).values(
                "school_class_id"
            )
        )
    return Q(pk__in=[])


def _guardian_classes(user: User) -> Q:
    """The class spaces ``user`` reads as a guardian (their children's)."""
    if user.role != User.Role.GUARDIAN:
        return Q(pk__in=[])
    return Q(
        school_class__in=Enrollment.objects.filter(
            user__guardians=user, role=Enrollment.Role.STUDENT
        ).values("school_class_id")
    )


def _courses(user: User) -> Q:
    if user.role != User.Role.TEACHER:
        return Q(pk__in=[])
    return Q(course__in=taught_courses(user).values("pk"))


def _readable(user: User, model) -> QuerySet:
    if not _active(user):
        return model.objects.none()
    return model.objects.filter(
        _member_classes(user)
        | (_guardian_classes(user) & Q(guardians_may_see=True))
        | _courses(user)
    )


def readable_items(user: User) -> QuerySet[Item]:
    """Return every item ``user`` may read (see the module docstring)."""
    return _readable(user, Item)


def readable_folders(user: User) -> QuerySet[Folder]:
    """Return every folder ``user`` may see in a space's tree."""
    return _readable(user, Folder)


def get_space(user: User, kind: str, space_id: int, *, write: bool = False) -> Space:
    """Return the space ``kind`` (``class``/``course``) ``space_id`` as
    ``user`` sees it (``write``: one ``user`` may add to), or raise Http404."""
    space = _space(user, kind, space_id)
    if write and not space.can_write:
        raise Http404("no such space")
    return space


def _space(user: User, kind: str, space_id: int) -> Space:
    if not _active(user):
        raise Http404("no such space")
    if kind == CLASS:
        school_class = (
            SchoolClass.objects.select_related("course").filter(pk=space_id).first()
        )
        if school_class is None:
            raise Http404("no such space")
        members = Enrollment.objects.filter(user=user, school_class=school_class)
        if user.role == User.Role.ADMINISTRATOR:
            orgs = staff_orgs(user, VIEW_PERMISSION)
            if orgs.filter(pk=school_class.org_id).exists():
                return Space(CLASS, school_class, False, False)
        elif user.role in (User.Role.STUDENT, User.Role.TEACHER):
            roles = set(members.values_list("role", flat=True))
            if roles:
                return Space(
                    CLASS, school_class, Enrollment.Role.TEACHER in roles, False
                )
        elif user.role == User.Role.GUARDIAN:
            if Enrollment.objects.filter(
                school_class=school_class,
                role=Enrollment.Role.STUDENT,
                user__guardians=user,
            ).exists():
                return Space(CLASS, school_class, False, True)
        raise Http404("no such space")
    if kind == COURSE:
        course = taught_courses(user).filter(pk=space_id).first()
        if course is None:
            raise Http404("no such space")
        return Space(COURSE, course, True, False)
    raise Http404("no such space")


def space_of(row: Item | Folder) -> tuple[str, int]:
    """Return ``(kind, id)`` of the space of a folder or an item."""
    if row.school_class_id:
        return CLASS, row.school_class_id
    assert row.course_id is not None  # in a class or a course
    return COURSE, row.course_id


def get_item(user: User, item_id: int, *, write: bool = False) -> tuple[Item, Space]:
    """Return an item ``user`` may read (``write``: change) and its space,
    or raise Http404."""
    item = readable_items(user).filter(pk=item_id).first()
    if item is None:
        raise Http404("no such document")
    space = get_space(user, *space_of(item))
    if write and not space.can_write:
        raise Http404("no such document")
    return item, space


def get_folder(user: User, space: Space, folder_id: int | None) -> Folder | None:
    """Return the folder ``folder_id`` of ``space`` that ``user`` sees
    (``None`` for the top), or raise Http404."""
    if folder_id is None:
        return None
    folder = readable_folders(user).filter(pk=folder_id, **space.filter()).first()
    if folder is None:
        raise Http404("no such folder")
    return folder


def get_version(user: User, version_id: int) -> DocumentVersion:
    """Return a version whose file ``user`` may download, or raise Http404."""
    version = (
        DocumentVersion.objects.select_related("item")
        .filter(pk=version_id, item__in=readable_items(user))
        .first()
    )
    if version is None:
        raise Http404("no such file")
    return version


def space_items(user: User, space: Space, folder: Folder | None) -> QuerySet[Item]:
    """Return the items of ``folder`` (the top if ``None``) of ``space`` that
    ``user`` reads, newest first, each with its versions prefetched."""
    return (
        readable_items(user)
        .filter(folder=folder, **space.filter())
        .select_related("created_by")
        .prefetch_related("versions")
    )


def subfolders(user: User, space: Space, folder: Folder | None) -> QuerySet[Folder]:
    """Return the folders right under ``folder`` that ``user`` sees."""
    return readable_folders(user).filter(parent=folder, **space.filter())


def recent_documents(user: User, since: dt.datetime, limit: int) -> list[Item]:
    """Return up to ``limit`` items ``user`` may read, added or given a new
    version since ``since``, newest first (for home pages).

    Each has ``school_class`` and ``course`` loaded and ``latest`` (its newest
    version or ``None``): two queries whatever the number.
    """
    items = list(
        readable_items(user)
        .filter(updated_at__gte=since)
        .select_related("school_class", "course", "school_class__course")
        .order_by("-updated_at", "-pk")[:limit]
    )
    latest: dict[int, DocumentVersion] = {}
    for version in DocumentVersion.objects.filter(item__in=items).order_by(
        "item_id", "-created_at", "-pk"
    ):
        latest.setdefault(version.item_id, version)
    for item in items:
        item.latest = latest.get(item.pk)  # type: ignore[attr-defined]  # for the page
    return items


def spaces_of(user: User, child: User | None = None) -> list[Space]:
    """Return the spaces ``user`` may open, classes by title then courses.

    A guardian's are their children's classes (``child``: that child's
    only); a teacher's, the classes they teach and their courses.
    """
    if not _active(user):
        return []
    if user.role == User.Role.GUARDIAN:
        pupils = Enrollment.objects.filter(
            role=Enrollment.Role.STUDENT, user__guardians=user
        )
        if child is not None:
            pupils = pupils.filter(user=child)
        classes = SchoolClass.objects.filter(
            pk__in=pupils.values("school_class_id")
        ).select_related("course")
        return [Space(CLASS, c, False, True) for c in classes.order_by("title")]
    if user.role == User.Role.ADMINISTRATOR:
        classes = SchoolClass.objects.filter(org__in=staff_orgs(user, VIEW_PERMISSION))
        return [
            Space(CLASS, c, False, False)
            for c in classes.select_related("course").order_by("title")
        ]
    rows = Enrollment.objects.filter(user=user).select_related("school_class__course")
    teaching = {r.school_class_id for r in rows if r.role == Enrollment.Role.TEACHER}
    classes = {r.school_class_id: r.school_class for r in rows}
    spaces = [
        Space(CLASS, c, c.pk in teaching, False)
        for c in sorted(classes.values(), key=lambda c: c.title)
    ]
    spaces += [
        Space(COURSE, course, True, False)
        for course in taught_courses(user).order_by("title")
    ]
    return spaces
