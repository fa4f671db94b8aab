"""Django admin of delivery: read-only views of what was sent to whom.

Notifications (with their deliveries inline), push subscriptions and the
e-mail ledger are written by the delivery workers only; the admin lists them
for support ("why didn't this parent get it?"), filtered by status and
channel and searched by username. Nothing can be added or edited here:
preferences are the user's own, through the settings page.
"""

from django.contrib import admin

from core.roster.admin_scope import OrgScopedAdmin, member_lookups
from hub.delivery.models import Delivery, EmailSend, Notification, PushSubscription


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin that shows rows and changes none (deleting stays possible
    for a subscription, so a lost phone can be cut off)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = [
        "channel",
        "subscription",
        "status",
        "reason",
        "attempts",
        "next_attempt_at",
        "created_at",
        "sent_at",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # plain names, no fieldsets
    ordering = ["created_at", "pk"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(OrgScopedAdmin, ReadOnlyAdmin):
    org_lookups = ("org",)
    list_display = ["created_at", "user", "category", "title", "urgent", "seen_at"]
    list_filter = ["category", "urgent", "deliveries__status", "deliveries__channel"]
    list_select_related = ["user"]
    # Titles are encrypted at rest: searched by user only.
    search_fields = ["user__username", "user__last_name"]
    date_hierarchy = "created_at"
    inlines = [DeliveryInline]
    readonly_fields = [
        "user",
        "event",
        "category",
        "urgent",
        "title",
        "body",
        "url",
        "tag",
        "child_name",
        "org_name",
        "created_at",
        "seen_at",
    ]

    def get_queryset(self, request):
        # The filters on deliveries join them: one row per notification.
        return super().get_queryset(request).distinct()


@admin.register(Delivery)
class DeliveryAdmin(OrgScopedAdmin, ReadOnlyAdmin):
    org_lookups = ("notification__org",)
    list_display = [
        "created_at",
        "user",
        "channel",
        "status",
        "reason",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "channel"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__last_name"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "notification",
        "user",
        "channel",
        "subscription",
        "status",
        "reason",
        "attempts",
        "next_attempt_at",
        "email",
        "created_at",
        "updated_at",
        "sent_at",
    ]


@admin.register(PushSubscription)
class PushSubscriptionAdmin(OrgScopedAdmin, ReadOnlyAdmin):
    org_lookups = member_lookups("user__")
    list_display = ["user", "user_agent", "created_at", "last_success_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__last_name"]
    readonly_fields = [
        "user",
        "endpoint",
        "p256dh",
        "auth",
        "vapid_public_key",
        "user_agent",
        "created_at",
        "last_success_at",
    ]

    def has_delete_permission(self, request, obj=None) -> bool:
        # A lost phone: support can cut it off (the user can too, in settings).
        return request.user.has_perm(
            "delivery.delete_pushsubscription"
        ) and self._allowed(request, obj, "delete")


@admin.register(EmailSend)
class EmailSendAdmin(OrgScopedAdmin, ReadOnlyAdmin):
    org_lookups = member_lookups("user__")
    list_display = ["created_at", "user", "period", "state", "attempts", "sent_at"]
    list_filter = ["state"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__last_name", "period", "message_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "user",
        "period",
        "state",
        "worker",
        "lease_until",
        "attempts",
        "next_attempt_at",
        "message_id",
        "error",
        "created_at",
        "sent_at",
    ]
