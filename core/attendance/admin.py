"""Django admin for attendance: staff can look up and correct records."""

from django.contrib import admin

from core.attendance.models import AttendanceRecord, Excuse, MissingRollCall, RollCall


class RecordInline(admin.TabularInline):
    model = AttendanceRecord
    extra = 0
    raw_id_fields = ["student"]


@admin.register(RollCall)
class RollCallAdmin(admin.ModelAdmin):
    list_display = ["occurrence", "taken_by", "taken_at"]
    raw_id_fields = ["occurrence", "taken_by"]
    inlines = [RecordInline]


@admin.register(Excuse)
class ExcuseAdmin(admin.ModelAdmin):
    list_display = ["record", "reason", "status", "submitted_at", "reviewed_by"]
    list_filter = ["status", "reason"]
    raw_id_fields = ["record", "submitted_by", "reviewed_by"]


@admin.register(MissingRollCall)
class MissingRollCallAdmin(admin.ModelAdmin):
    list_display = ["occurrence", "flagged_at"]
    raw_id_fields = ["occurrence"]
