"""Django admin for the roster: staff manage schools, classes, people, links."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.shortcuts import redirect
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from core.roster.admin_scope import OrgScopedAdmin, member_lookups
from core.roster.models import (
    AcademicSession,
    Course,
    Enrollment,
    GuardianLink,
    Org,
    RosterImport,
    SchoolClass,
    User,
)


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    extra = 0
    autocomplete_fields = ["user", "school_class"]


class ChildrenInline(admin.TabularInline):
    model = GuardianLink
    fk_name = "guardian"
    extra = 0
    autocomplete_fields = ["student"]
    verbose_name = _("child")
    verbose_name_plural = _("children")


@admin.register(User)
class UserAdmin(OrgScopedAdmin, BaseUserAdmin):
    org_lookups = member_lookups()
    list_display = ["username", "last_name", "first_name", "role", "is_active"]
    list_filter = ["role", "is_active", "orgs"]
    search_fields = ["username", "first_name", "last_name", "email"]
    fieldsets = BaseUserAdmin.fieldsets + (  # type: ignore[operator]  # a tuple
        (_("School"), {"fields": ["role", "orgs", "timetable_code"]}),
    )
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        (_("School"), {"fields": ["role", "first_name", "last_name", "email"]}),
    )
    filter_horizontal = ["orgs", "groups", "user_permissions"]
    inlines = [EnrollmentInline, ChildrenInline]

    def get_readonly_fields(self, request, obj=None):
        """Only superusers grant rights or move people between schools."""
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "is_staff", "groups", "user_permissions"]
            fields += ["orgs"]
        return fields


@admin.register(Org)
class OrgAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookups = ("pk",)
    list_display = ["name", "uai", "time_zone"]
    search_fields = ["name", "uai"]


@admin.register(AcademicSession)
class AcademicSessionAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookups = ("org",)
    list_display = ["title", "org", "type", "start_date", "end_date"]
    list_filter = ["org", "type"]


@admin.register(Course)
class CourseAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookups = ("org",)
    list_display = ["title", "code", "org"]
    search_fields = ["title", "code"]


@admin.register(SchoolClass)
class SchoolClassAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookups = ("org",)
    list_display = ["title", "org", "session", "class_type"]
    list_filter = ["org", "session", "class_type"]
    search_fields = ["title"]
    inlines = [EnrollmentInline]


@admin.register(GuardianLink)
class GuardianLinkAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookups = member_lookups("student__")
    list_display = ["guardian", "student", "relationship"]
    search_fields = ["guardian__last_name", "student__last_name"]
    autocomplete_fields = ["guardian", "student"]


@admin.register(RosterImport)
class RosterImportAdmin(admin.ModelAdmin):
    """Past roster imports, and the way to the upload page.

    Imports are not edited here: "add" is the upload page and an import's
    "change" page is its live report (both in :mod:`core.roster.views`,
    mounted by :meth:`get_urls`). Staff who may add imports see the list of
    their own; superusers and staff with ``view_rosterimport`` see every
    import (:func:`core.roster.views.visible_imports`).
    """

    change_list_template = "roster/rosterimport_change_list.html"
    list_display = ["started", "started_by", "status", "dry_run", "source", "files"]
    list_filter = ["status", "dry_run", "source"]
    date_hierarchy = "created_at"

    def get_urls(self):
        from core.roster.urls import admin_urlpatterns

        return admin_urlpatterns(self.admin_site) + super().get_urls()

    @admin.display(description=_("Started at"), ordering="created_at")
    def started(self, obj: RosterImport) -> str:
        return date_format(localtime(obj.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=_("Started by"), ordering="created_by__last_name")
    def started_by(self, obj: RosterImport) -> str:
        return str(obj.created_by or "—")

    @admin.display(description=_("files"))
    def files(self, obj: RosterImport) -> str:
        names = obj.file_names or []
        shown = ", ".join(names[:3])
        return shown + (f" (+{len(names) - 3})" if len(names) > 3 else "")

    def get_queryset(self, request):
        from core.roster.views import visible_imports

        return visible_imports(request.user)

    def has_view_permission(self, request, obj=None):
        from core.roster.views import can_upload

        if super().has_view_permission(request, obj):
            return True
        return can_upload(request.user) and (
            obj is None or obj.created_by_id == request.user.pk
        )

    def has_change_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:roster_rosterimport_upload")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        try:
            import_id = int(object_id)
        except ValueError:
            import_id = 0
        return redirect("admin:roster_rosterimport_detail", import_id=import_id)


# The admin's home page offers the upload to those who may use it.
admin.site.index_template = "roster/admin_index.html"
