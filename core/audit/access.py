"""Who may read which audit entries: the one definition, for the page and the admin.

Reading the log takes school-life staff holding the explicit permission
``audit.view_auditentry`` (never implied by ``is_staff`` or a role alone),
and shows only the entries of their own schools
(:func:`core.roster.access.staff_orgs`): an entry of one of them, or an
entry with no school (a login, a change of one's settings) about a member
of one of them. A superuser reads every entry. Everyone else reads none:
the page answers 404, the admin hides the list.
"""

from django.db.models import Q, QuerySet

from core.audit.models import AuditEntry
from core.roster.access import members_of_orgs, staff_orgs
from core.roster.models import User

PERMISSION = "audit.view_auditentry"


def may_read_log(user) -> bool:
    """Whether ``user`` may open the audit log at all."""
    return staff_orgs(user, PERMISSION).exists()


def audit_org_ids(user) -> list[int] | None:
    """The orgs whose entries ``user`` may read (``None``: all, a superuser)."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return None
    return list(staff_orgs(user, PERMISSION).values_list("pk", flat=True))


def visible_entries(user) -> QuerySet[AuditEntry]:
    """The audit entries ``user`` may read, newest first."""
    org_ids = audit_org_ids(user)
    if org_ids is None:
        return AuditEntry.objects.all()
    if not org_ids:
        return AuditEntry.objects.none()
    members = members_of_orgs(org_ids).values("pk")
    return AuditEntry.objects.filter(
        Q(org_id__in=org_ids)
        | Q(org_id__isnull=True, subject_id__in=members)
        | Q(org_id__isnull=True, target_type="user", target_id__in=members)
    )


def pupils_matching(user, query: str, limit: int = 50) -> list[int]:
    """Ids of the pupils (and other members) of ``user``'s orgs matching ``query``."""
    org_ids = audit_org_ids(user)
    people = User.objects.all() if org_ids is None else members_of_orgs(org_ids)
    for word in query.split()[:4]:
        people = people.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(username__icontains=word)
        )
    return list(people.values_list("pk", flat=True).distinct()[:limit])
