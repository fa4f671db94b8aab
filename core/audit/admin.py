"""Staff search the audit log here: filters by action, school and date."""

from django.contrib import admin

from core.audit.models import AuditEntry
from core.roster.admin_scope import OrgScopedAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookups = ("org_id",)
    list_display = ["at", "actor_name", "action", "target_type", "target_id", "ip"]
    list_filter = ["action", "org_id", "target_type"]
    search_fields = ["actor_name", "=target_id", "ip"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
