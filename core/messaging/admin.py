"""Django admin of messaging: the per-school policy, moderation, suspensions.

An administrator changes who may write to whom in "Messaging policies" (one
row per school; a school without a row has the defaults). Conversations are
listed read-only without any message text: text is encrypted and read only
by participants (and by moderators, from the moderation queue). Hiding a
reported message and suspending a writer go through the actions, so they
are audited and reach the participants live.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.audit.ip import client_ip
from core.messaging import actions
from core.messaging.models import (
    Conversation,
    MessagingPolicy,
    Report,
    WriteSuspension,
)
from core.roster.admin_scope import OrgScopedAdmin


@admin.register(MessagingPolicy)
class MessagingPolicyAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookups = ("org",)
    list_display = [
        "org",
        "guardians_may_write_teachers",
        "guardians_may_write_staff",
        "pupils_may_write_teachers",
        "read_receipts",
    ]
    list_editable = [
        "guardians_may_write_teachers",
        "guardians_may_write_staff",
        "pupils_may_write_teachers",
        "read_receipts",
    ]
    list_select_related = ["org"]
    search_fields = ["org__name", "org__uai"]


@admin.register(Report)
class ReportAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookups = ("message__conversation__org",)
    list_display = [
        "created_at",
        "message_id",
        "conversation_subject",
        "sender",
        "reporter",
        "reason",
        "status",
        "handled_by",
    ]
    list_filter = ["status", "message__conversation__org", "created_at"]
    list_select_related = [
        "message__conversation",
        "message__sender",
        "reporter",
        "handled_by",
    ]
    # Reasons are encrypted: the database cannot search them.
    search_fields = ["reporter__username", "message__sender__username"]
    date_hierarchy = "created_at"
    actions = ["hide_messages", "dismiss_reports"]
    fields = [
        "message",
        "reporter",
        "reason",
        "status",
        "created_at",
        "handled_by",
        "handled_at",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # plain names, no fieldsets

    @admin.display(description=_("conversation"))
    def conversation_subject(self, report: Report) -> str:
        return report.message.conversation.subject

    @admin.display(description=_("sender"))
    def sender(self, report: Report) -> str:
        return str(report.message.sender)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Hide the reported messages for everyone"))
    def hide_messages(self, request, queryset):
        self._moderate(request, queryset, hide=True)

    @admin.action(description=_("Dismiss the reports"))
    def dismiss_reports(self, request, queryset):
        self._moderate(request, queryset, hide=False)

    def _moderate(self, request, queryset, *, hide: bool) -> None:
        done = 0
        for report in queryset.filter(status=Report.Status.OPEN).select_related(
            "message__conversation", "message__sender"
        ):
            actions.moderate_report(
                report=report, moderator=request.user, hide=hide, ip=client_ip(request)
            )
            done += 1
        self.message_user(
            request,
            ngettext("%d report handled.", "%d reports handled.", done) % done,
            messages.SUCCESS,
        )


@admin.register(WriteSuspension)
class WriteSuspensionAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookups = ("org",)
    list_display = ["user", "org", "until", "reason", "created_by", "created_at"]
    list_filter = ["org"]
    list_select_related = ["user", "org", "created_by"]
    search_fields = ["user__username", "user__last_name"]
    autocomplete_fields = ["user"]
    fields = ["user", "org", "until", "reason"]

    def save_model(self, request, obj, form, change):
        """Create through :func:`actions.suspend_writer` (audited)."""
        if change:
            super().save_model(request, obj, form, change)
            return
        saved = actions.suspend_writer(
            user=obj.user,
            org=obj.org,
            moderator=request.user,
            until=obj.until,
            reason=obj.reason,
            ip=client_ip(request),
        )
        obj.pk = saved.pk
        obj.created_by = saved.created_by
        obj.created_at = saved.created_at


@admin.register(Conversation)
class ConversationAdmin(OrgScopedAdmin, admin.ModelAdmin):
    """Who talked, where and when; never what (no message text here)."""

    org_lookups = ("org",)

    list_display = [
        "subject",
        "org",
        "created_by",
        "reply_policy",
        "created_at",
        "last_message_at",
    ]
    list_filter = ["org", "reply_policy", "created_at"]
    list_select_related = ["org", "created_by"]
    # Subjects are encrypted: the database cannot search them.
    search_fields = ["created_by__username", "created_by__last_name"]
    date_hierarchy = "created_at"
    fields = [
        "subject",
        "org",
        "created_by",
        "reply_policy",
        "created_at",
        "last_message_at",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # plain names, no fieldsets

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
