"""The admin's audit list: read-only, for the same readers and entries as /audit/."""

from django.contrib import admin

from core.audit import access
from core.audit import log as audit
from core.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = [
        "at",
        "actor_name",
        "action",
        "target_type",
        "target_id",
        "subject_id",
        "ip",
    ]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_name", "=target_id", "=subject_id", "ip"]
    date_hierarchy = "at"

    def get_queryset(self, request):
        return access.visible_entries(request.user)

    def has_view_permission(self, request, obj=None):
        return access.may_read_log(request.user)

    def has_module_permission(self, request):
        return access.may_read_log(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if access.may_read_log(request.user) and response.status_code == 200:
            audit.record_read(
                actor=request.user,
                action="audit_log.viewed",
                target_type="audit_log",
                target_id=0,
                org_ids=request.user.orgs.values_list("pk", flat=True),
                detail={"admin": True, "query": request.GET.urlencode()[:500]},
            )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if access.may_read_log(request.user) and response.status_code == 200:
            audit.record_read(
                actor=request.user,
                action="audit_log.viewed",
                target_type="audit_entry",
                target_id=int(object_id) if str(object_id).isdigit() else 0,
                org_ids=request.user.orgs.values_list("pk", flat=True),
                detail={"admin": True},
            )
        return response
