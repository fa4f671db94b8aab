"""Who belongs where: the reads every permission check is built on."""

from django.db.models import QuerySet

from core.roster.models import Enrollment, Org, SchoolClass, User


def children_of(user: User) -> QuerySet[User]:
    """Return the students ``user`` is guardian of (empty for other roles)."""
    return User.objects.filter(guardians=user).order_by("first_name", "last_name")


def classes_of(user: User) -> QuerySet[SchoolClass]:
    """Return the classes ``user`` may read.

    Students and teachers: their enrollments. Guardians: their children's
    classes. School-life staff: every class of their orgs.
    """
    if user.role == User.Role.GUARDIAN:
        return SchoolClass.objects.filter(enrollments__user__guardians=user).distinct()
    if user.role == User.Role.ADMINISTRATOR:
        return SchoolClass.objects.filter(org__in=user.orgs.all())
    return SchoolClass.objects.filter(enrollments__user=user).distinct()


def orgs_of(user: User) -> QuerySet[Org]:
    """Return the orgs ``user`` belongs to (through staff links or classes)."""
    return Org.objects.filter(
        pk__in=list(user.orgs.values_list("pk", flat=True))
        + list(classes_of(user).values_list("org_id", flat=True))
    )


def students_of_class(school_class: SchoolClass) -> QuerySet[User]:
    """Return the students enrolled in ``school_class``, by name."""
    return User.objects.filter(
        enrollments__school_class=school_class,
        enrollments__role=Enrollment.Role.STUDENT,
    ).order_by("last_name", "first_name")


def school_life_staff(org_id: int) -> QuerySet[User]:
    """Return the school-life staff (CPE) of the org ``org_id``."""
    return User.objects.filter(
        role=User.Role.ADMINISTRATOR, orgs=org_id, is_active=True
    )
