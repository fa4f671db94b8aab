"""Django admin for attendance: staff can look records up, not edit them.

Every change of a mark or an excuse must reach the family and the CPE, so it
goes through the absences pages (whose actions emit the events); the admin
only shows what is there.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.attendance.models import AttendanceRecord, Excuse, MissingRollCall, RollCall
from core.roster.admin_scope import OrgScopedAdmin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RecordInline(admin.TabularInline):
    model = AttendanceRecord
    extra = 0
    fields = ["student", "status", "minutes_late", "recorded_at"]
    readonly_fields = fields  # type: ignore[assignment]  # plain names, no fieldsets
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RollCall)
class RollCallAdmin(OrgScopedAdmin, ReadOnlyAdmin):
    org_lookups = ("occurrence__school_class__org",)
    list_display = ["occurrence", "taken_by", "taken_at"]
    list_select_related = ["occurrence", "taken_by"]
    inlines = [RecordInline]


@admin.register(Excuse)
class ExcuseAdmin(OrgScopedAdmin, ReadOnlyAdmin):
    org_lookups = ("record__roll_call__occurrence__school_class__org",)
    list_display = ["record", "reason", "status", "submitted_at", "reviewed_by"]
    list_filter = ["status", "reason"]
    list_select_related = ["record__student", "reviewed_by"]
    exclude = ["document"]
    readonly_fields = ["document_link"]

    @admin.display(description=_("document"))
    def document_link(self, obj: Excuse) -> str:
        if not obj.document:
            return "—"
        url = reverse("attendance:document", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("download"))


@admin.register(MissingRollCall)
class MissingRollCallAdmin(OrgScopedAdmin, ReadOnlyAdmin):
    org_lookups = ("occurrence__school_class__org",)
    list_display = ["occurrence", "flagged_at"]
    list_select_related = ["occurrence"]
