"""The Django admin of school data, limited to the staff member's own orgs.

:class:`OrgScopedAdmin` is mixed into every ``ModelAdmin`` of school data
(users, classes, enrollments, guardian links, roll calls, excuses,
conversations, reports, notifications...). For superusers nothing changes.
For anyone else, each row belongs to the orgs its ``org_lookups`` reach,
and the admin answers with :func:`core.roster.access.staff_orgs`:

- ``get_queryset``: the rows of the orgs where the user may view (or
  change) the model; other rows are "not found";
- ``has_view/change/delete_permission(obj)``: the model permission *and*
  the object in one of the orgs where the user holds that very permission;
- ``has_add_permission`` / ``has_module_permission``: the permission in at
  least one org;
- choice lists of foreign keys and many-to-many fields to orgs, classes
  and users offer only the user's orgs and their members;
- every list and every object page shown is an ``admin.viewed`` entry of
  the audit log (staff reading school data), in the orgs the reader
  may see it for.

``is_staff`` only opens the admin site; the role (school-life staff), the
permission (the "Vie scolaire" group or an explicit one) and the org links
decide what is in it.
"""

from typing import TYPE_CHECKING

from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.db.models import Q, QuerySet

from core.roster.access import staff_orgs
from core.roster.models import Org, SchoolClass, User


def member_lookups(prefix: str = "") -> tuple[str, ...]:
    """Return the paths from a user (at ``prefix``) to the orgs they belong to.

    Staff and teachers through ``orgs``, pupils through their classes,
    guardians through their children's classes (the membership of
    :func:`hub.delivery.access.members_for_staff`).
    """
    return (
        f"{prefix}orgs",
        f"{prefix}enrollments__school_class__org",
        f"{prefix}children__enrollments__school_class__org",
    )


def in_orgs(lookups: tuple[str, ...], orgs: QuerySet[Org]) -> Q:
    """Return the condition "reaches one of ``orgs`` through any of ``lookups``"."""
    ids = orgs.values("pk")
    condition = Q(pk__in=[])
    for path in lookups:
        condition |= Q(**{f"{path}__in": ids})
    return condition


# A mixin for ModelAdmin: mypy checks its super() calls against it.
if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin
else:
    _AdminBase = object


class OrgScopedAdmin(_AdminBase):
    """``ModelAdmin`` mixin: non-superusers see and touch their orgs' rows only.

    ``org_lookups``: the paths from the model to :class:`Org` (``"org"``,
    ``"school_class__org"``, ``"pk"`` for ``Org`` itself...); a row is in
    scope when any of them reaches one of the user's orgs.
    """

    org_lookups: tuple[str, ...] = ()

    def _perm(self, action: str) -> str:
        opts = self.opts
        return f"{opts.app_label}.{get_permission_codename(action, opts)}"

    def _orgs(self, request, *actions: str) -> QuerySet[Org]:
        orgs = Org.objects.none()
        for action in actions:
            orgs = orgs | staff_orgs(request.user, self._perm(action))
        return orgs

    def _scope(self, request, queryset: QuerySet, *actions: str) -> QuerySet:
        if request.user.is_superuser:
            return queryset
        matching = queryset.model._default_manager.filter(
            in_orgs(self.org_lookups, self._orgs(request, *actions))
        )
        return queryset.filter(pk__in=matching.values("pk"))

    def _allowed(self, request, obj, action: str) -> bool:
        if request.user.is_superuser:
            return True
        if obj is None:
            return self._orgs(request, action).exists()
        return (
            self._scope(request, self.model._default_manager.all(), action)
            .filter(pk=obj.pk)
            .exists()
        )

    def get_queryset(self, request):
        return self._scope(request, super().get_queryset(request), "view", "change")

    def get_sortable_by(self, request):
        # A column encrypted at rest sorts by its token, not its text.
        from core.crypto import EncryptedTextField

        encrypted = {
            f.name for f in self.opts.get_fields() if isinstance(f, EncryptedTextField)
        }
        return [
            name for name in super().get_sortable_by(request) if name not in encrypted
        ]

    # Reads of school data leave a trace (issue 13: every staff read of a
    # minor's data is in the audit log).

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        self._record_read(
            request, response, 0, {"query": request.GET.urlencode()[:500]}
        )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        target = int(object_id) if str(object_id).isdecimal() else 0
        self._record_read(request, response, target, {})
        return response

    def _record_read(self, request, response, target_id: int, detail: dict) -> None:
        if request.method != "GET" or response.status_code != 200:
            return
        from core.audit import log as audit

        orgs = (
            Org.objects.all()
            if request.user.is_superuser
            else self._orgs(request, "view", "change")
        )
        audit.record_read(
            actor=request.user,
            action="admin.viewed",
            target_type=self.opts.label_lower,
            target_id=target_id,
            org_ids=[]
            if request.user.is_superuser
            else orgs.values_list("pk", flat=True),
            detail={"admin": True, **detail},
        )

    def has_module_permission(self, request):
        if not super().has_module_permission(request):
            return False
        return (
            request.user.is_superuser
            or self._orgs(request, "view", "change", "add", "delete").exists()
        )

    def has_view_permission(self, request, obj=None):
        if not super().has_view_permission(request, obj):
            return False
        return self._allowed(request, obj, "view") or self._allowed(
            request, obj, "change"
        )

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._allowed(
            request, obj, "change"
        )

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._allowed(
            request, obj, "delete"
        )

    def has_add_permission(self, request, *args):
        return super().has_add_permission(request, *args) and self._allowed(
            request, None, "add"
        )

    # Choices offered in forms: the user's orgs, their classes, their members.

    def _limit_choices(self, request, queryset: QuerySet | None) -> QuerySet | None:
        if request.user.is_superuser or queryset is None:
            return queryset
        orgs = self._orgs(request, "view", "change", "add")
        if queryset.model is Org:
            return queryset.filter(pk__in=orgs.values("pk"))
        if queryset.model is SchoolClass:
            return queryset.filter(org__in=orgs.values("pk"))
        if queryset.model is User:
            members = User.objects.filter(in_orgs(member_lookups(), orgs))
            return queryset.filter(pk__in=members.values("pk"))
        return queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = self._limit_choices(request, field.queryset)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = self._limit_choices(request, field.queryset)
        return field
