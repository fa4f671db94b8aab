"""Who belongs where: the reads every permission check is built on."""

from django.db.models import Q, QuerySet

from core.roster.grants import SCHOOL_LIFE_GROUP  # noqa: F401 (re-exported)
from core.roster.models import Enrollment, GuardianLink, Org, SchoolClass, User


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


def orgs_of_users(users: list[User]) -> dict[int, list[Org]]:
    """Return :func:`orgs_of` of each of ``users`` in one query.

    ``{user id: [orgs]}`` (users without an org are left out), each list in
    the order of ``Org``'s name, then id, as the database collates names.
    The rule is :func:`orgs_of`'s: everyone's staff links (``user.orgs``),
    then the orgs of :func:`classes_of`: students and teachers through their
    enrollments, guardians through their children's enrollments, and
    school-life staff through the classes of their orgs (their staff links
    again, so nothing more is read for them).
    """
    ids = [user.pk for user in users]
    guardians = [user.pk for user in users if user.role == User.Role.GUARDIAN]
    enrolled = [
        user.pk
        for user in users
        if user.role not in (User.Role.GUARDIAN, User.Role.ADMINISTRATOR)
    ]
    fields = [field.attname for field in Org._meta.concrete_fields]

    def columns(prefix: str) -> list[str]:
        return [f"{prefix}__{name}" for name in fields]

    links = User.orgs.through.objects.filter(user_id__in=ids).values_list(
        "user_id", *columns("org")
    )
    own = Enrollment.objects.filter(user_id__in=enrolled).values_list(
        "user_id", *columns("school_class__org")
    )
    children = GuardianLink.objects.filter(
        guardian_id__in=guardians, student__enrollments__isnull=False
    ).values_list("guardian_id", *columns("student__enrollments__school_class__org"))
    rows = links.union(own, children, all=True).order_by("org__name", "org__id")
    orgs: dict[int, dict[int, Org]] = {}
    for user_id, *values in rows:
        org = Org.from_db(rows.db, fields, values)
        orgs.setdefault(user_id, {}).setdefault(org.pk, org)
    return {user_id: list(found.values()) for user_id, found in orgs.items()}


def families(student_ids) -> dict[int, list[int]]:
    """Return each pupil's family: the pupil's id, then the ids of the
    pupil's active guardians (who hear of the pupil's own news: a homework
    ticked or handed in, an absence, an excuse). One query."""
    found: dict[int, list[int]] = {pk: [pk] for pk in student_ids}
    for guardian_id, student_id in GuardianLink.objects.filter(
        student_id__in=list(found), guardian__is_active=True
    ).values_list("guardian_id", "student_id"):
        found[student_id].append(guardian_id)
    return found


def students_of_class(school_class: SchoolClass) -> QuerySet[User]:
    """Return the students enrolled in ``school_class``, by name."""
    return User.objects.filter(
        enrollments__school_class=school_class,
        enrollments__role=Enrollment.Role.STUDENT,
    ).order_by("last_name", "first_name")


def school_life_staff(org_id: int, perm: str) -> QuerySet[User]:
    """Return the school-life staff of the org ``org_id`` holding ``perm``.

    The same rule as :func:`staff_orgs`, seen from the org: active staff of
    the org (``User.Role.ADMINISTRATOR``, linked by ``orgs``) holding the
    Django permission ``perm`` (a group such as "Vie scolaire", or
    directly). Who is told of an absence is who may read it on the pages.
    """
    holders = User.objects.with_perm(
        perm, backend="django.contrib.auth.backends.ModelBackend"
    )
    return holders.filter(role=User.Role.ADMINISTRATOR, orgs=org_id, is_active=True)


# School-life staff: one definition of "staff of which orgs, for what" ---------

# The permissions the "Vie scolaire" group holds (migration
# ``roster.0003_school_life_staff_group``, then each app's own data migration
# for a permission added later, e.g. ``homework.0002``): what school-life
# staff do.
SCHOOL_LIFE_PERMISSIONS = (
    "attendance.view_attendancerecord",
    "attendance.view_rollcall",
    "attendance.view_excuse",
    "attendance.change_excuse",
    "attendance.view_missingrollcall",
    "delivery.view_notification",
    "delivery.view_delivery",
    "messaging.view_report",
    "messaging.change_report",
    "documents.view_item",
    "homework.view_homework",
    "schoollife.add_notice",
    "grades.view_evaluation",
    "grades.change_period",
    "reportcards.view_reportcard",
    "reportcards.add_publication",
    "agenda.add_agendaentry",
)


def staff_orgs(user, perm: str) -> QuerySet[Org]:
    """Return the orgs where ``user`` acts as staff holding ``perm``.

    Superusers: every org. Others: the orgs of their staff links
    (``user.orgs``) when they are school-life staff
    (``User.Role.ADMINISTRATOR``), active, and hold the Django permission
    ``perm`` (``"app_label.codename"``, through a group such as
    :data:`SCHOOL_LIFE_GROUP` or directly). ``is_staff`` alone grants
    nothing: it only opens the admin site. Every staff view and every
    admin of school data scopes its reads with this.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Org.objects.none()
    if user.is_superuser:
        return Org.objects.all()
    if user.role != User.Role.ADMINISTRATOR or not user.has_perm(perm):
        return Org.objects.none()
    return Org.objects.filter(staff=user)


def is_staff_for(user, perm: str, org_id: int | None = None) -> bool:
    """Return whether ``user`` holds ``perm`` as staff of ``org_id`` (any org if None)."""
    orgs = staff_orgs(user, perm)
    if org_id is not None:
        orgs = orgs.filter(pk=org_id)
    return orgs.exists()


def members_of_orgs(org_ids) -> QuerySet[User]:
    """Return the people of the orgs ``org_ids``: their staff and teachers,
    the pupils of their classes and those pupils' guardians (not distinct)."""
    return User.objects.filter(
        Q(orgs__in=org_ids)
        | Q(enrollments__school_class__org__in=org_ids)
        | Q(children__enrollments__school_class__org__in=org_ids)
    )
