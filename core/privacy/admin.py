"""Admin: the erasure of a person, instead of deleting their row.

- "Effacer / anonymiser" (*Erase / anonymise*) is added to the users'
  admin (``core.roster.admin`` registers it first: ``core.privacy`` comes
  after ``core.roster`` in ``INSTALLED_APPS``). A confirmation page lists
  what stays and what goes; :func:`core.privacy.actions.erase_person`
  does it, for the people the staff member may erase.
- Deleting a user who has school data (absences, excuses, messages…) is
  refused, on the change page and in "delete selected": Django's own
  confirmation page lists them as protected, with the reason, and the
  erasure is the way.
- Data exports are listed read-only (never their files).
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.privacy import actions
from core.privacy.models import DataExport
from core.roster.admin_scope import OrgScopedAdmin, member_lookups
from core.roster.models import User


@admin.register(DataExport)
class DataExportAdmin(OrgScopedAdmin, admin.ModelAdmin):
    # Who asked, in the staff member's own schools only.
    org_lookups = member_lookups("user__")
    list_display = ["user", "status", "requested_at", "ready_at", "expires_at"]
    list_filter = ["status"]
    fields = list_display + ["size"]  # type: ignore[assignment]  # names only
    readonly_fields = fields  # type: ignore[assignment]  # plain names, no fieldsets

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def _may_use(request) -> bool:
    return request.user.is_superuser or request.user.has_perm("privacy.erase_person")


@admin.action(description=gettext_lazy("Erase / anonymise"))
def erase_people(modeladmin, request, queryset):
    if not _may_use(request):
        raise PermissionDenied
    people = list(queryset.order_by("last_name", "first_name", "pk"))
    allowed = [p for p in people if actions.may_erase(request.user, p)]
    refused = [p for p in people if p not in allowed]
    if request.POST.get("confirmed") != "yes":
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": _("Erase and anonymise"),
            "people": allowed,
            "refused": refused,
            "queryset": queryset,
            "opts": modeladmin.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "privacy/admin/confirm_erase.html", context)
    for person in allowed:
        actions.erase_person(person, request.user)
    if allowed:
        modeladmin.message_user(
            request,
            _("%(count)d people erased and anonymised.") % {"count": len(allowed)},
            messages.SUCCESS,
        )
    if refused:
        modeladmin.message_user(
            request,
            _("Not erased (outside your schools, or yourself): %(names)s")
            % {"names": ", ".join(str(p) for p in refused)},
            messages.WARNING,
        )
    return None


_user_admin = admin.site.get_model_admin(User)
_user_admin.actions = [*(_user_admin.actions or []), erase_people]
_get_deleted_objects = _user_admin.get_deleted_objects


def get_deleted_objects(objs, request):
    """Django's list of what a deletion takes, with the users who have
    school data added to the protected objects (the deletion is refused)."""
    to_delete, counts, perms_needed, protected = _get_deleted_objects(objs, request)
    kept = [
        _(
            "%(person)s: the school must keep their records; use "
            "“Erase / anonymise” in the list of users instead."
        )
        % {"person": person}
        for person in objs
        if isinstance(person, User) and actions.has_school_data(person)
    ]
    if kept:
        # Shown first by Django's page (before missing permissions).
        return to_delete, counts, set(), [*kept, *protected]
    return to_delete, counts, perms_needed, protected


_user_admin.get_deleted_objects = get_deleted_objects  # type: ignore[method-assign]  # on purpose
