"""Who may read which audit entries: the one definition, for the page and the admin.

Reading the log takes the explicit permission ``audit.view_auditentry``
(given to a school's CPE or head, never implied by ``is_staff`` or a role)
and shows only the entries of the reader's own schools (``user.orgs``): an
entry of one of them, or an entry with no school (a login, a change of
one's settings) about a member of one of them. A superuser reads every
entry. Everyone else reads none: the page answers 404, the admin hides the
list. (Issue 13's ``core/roster/access.staff_orgs(user, perm)`` will take
over the org check once it lands.)
"""

from django.db.models import Q, QuerySet

from core.audit.models import AuditEntry
from core.roster.models import User

PERMISSION = "audit.view_auditentry"


def may_read_log(user) -> bool:
    """Whether ``user`` may open the audit log at all."""
    return bool(user.is_authenticated and user.is_active and user.has_perm(PERMISSION))


def audit_org_ids(user) -> list[int] | None:
    """The orgs whose entries ``user`` may read (``None``: all, a superuser)."""
    if not may_read_log(user):
        return []
    if user.is_superuser:
        return None
    return list(user.orgs.values_list("pk", flat=True))


def members_of(org_ids: list[int]) -> QuerySet[User]:
    """The people of these orgs: their staff and teachers, the pupils of their
    classes and those pupils' guardians."""
    return User.objects.filter(
        Q(orgs__in=org_ids)
        | Q(enrollments__school_class__org__in=org_ids)
        | Q(children__enrollments__school_class__org__in=org_ids)
    )


def visible_entries(user) -> QuerySet[AuditEntry]:
    """The audit entries ``user`` may read, newest first."""
    org_ids = audit_org_ids(user)
    if org_ids is None:
        return AuditEntry.objects.all()
    if not org_ids:
        return AuditEntry.objects.none()
    members = members_of(org_ids).values("pk")
    return AuditEntry.objects.filter(
        Q(org_id__in=org_ids)
        | Q(org_id__isnull=True, subject_id__in=members)
        | Q(org_id__isnull=True, target_type="user", target_id__in=members)
    )


def pupils_matching(user, query: str, limit: int = 50) -> list[int]:
    """Ids of the pupils (and other members) of ``user``'s orgs matching ``query``."""
    org_ids = audit_org_ids(user)
    people = User.objects.all() if org_ids is None else members_of(org_ids)
    for word in query.split()[:4]:
        people = people.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(username__icontains=word)
        )
    return list(people.values_list("pk", flat=True).distinct()[:limit])
