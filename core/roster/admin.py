"""Django admin for the roster: staff manage schools, classes, people, links."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from core.roster.models import (
    AcademicSession,
    Course,
    Enrollment,
    GuardianLink,
    Org,
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
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "last_name", "first_name", "role", "is_active"]
    list_filter = ["role", "is_active", "orgs"]
    search_fields = ["username", "first_name", "last_name", "email"]
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("School"), {"fields": ["role", "orgs", "timetable_code"]}),
    )
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        (_("School"), {"fields": ["role", "first_name", "last_name", "email"]}),
    )
    filter_horizontal = ["orgs", "groups", "user_permissions"]
    inlines = [EnrollmentInline, ChildrenInline]


@admin.register(Org)
class OrgAdmin(admin.ModelAdmin):
    list_display = ["name", "uai", "time_zone"]
    search_fields = ["name", "uai"]


@admin.register(AcademicSession)
class AcademicSessionAdmin(admin.ModelAdmin):
    list_display = ["title", "org", "type", "start_date", "end_date"]
    list_filter = ["org", "type"]


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["title", "code", "org"]
    search_fields = ["title", "code"]


@admin.register(SchoolClass)
class SchoolClassAdmin(admin.ModelAdmin):
    list_display = ["title", "org", "session", "class_type"]
    list_filter = ["org", "session", "class_type"]
    search_fields = ["title"]
    inlines = [EnrollmentInline]


@admin.register(GuardianLink)
class GuardianLinkAdmin(admin.ModelAdmin):
    list_display = ["guardian", "student", "relationship"]
    search_fields = ["guardian__last_name", "student__last_name"]
    autocomplete_fields = ["guardian", "student"]
