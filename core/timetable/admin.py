"""Admin of the timetable: feeds, lessons, occurrences, their change log."""

from django.contrib import admin

from core.timetable.models import Feed, Holiday, Lesson, Occurrence, OccurrenceChange


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "name", "zone"]
    list_filter = ["zone"]
    search_fields = ["name"]
    date_hierarchy = "date"


@admin.register(Feed)
class FeedAdmin(admin.ModelAdmin):
    list_display = ["school_class", "name", "time_zone", "imported_at"]
    list_select_related = ["school_class"]
    search_fields = ["name", "school_class__title"]
    readonly_fields = ["imported_at"]


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ["subject", "school_class", "room", "teacher_names", "rrule"]
    list_filter = ["school_class"]
    list_select_related = ["school_class"]
    search_fields = ["subject", "uid", "teacher_names"]
    raw_id_fields = ["feed"]


@admin.register(Occurrence)
class OccurrenceAdmin(admin.ModelAdmin):
    list_display = [
        "subject",
        "school_class",
        "start",
        "end",
        "room",
        "teacher_names",
        "status",
    ]
    list_filter = ["school_class", "status"]
    list_select_related = ["school_class"]
    search_fields = ["subject", "room", "teacher_names"]
    date_hierarchy = "start"
    raw_id_fields = ["lesson"]
    filter_horizontal = ["teachers"]


@admin.register(OccurrenceChange)
class OccurrenceChangeAdmin(admin.ModelAdmin):
    """The change log is an audit trail (P6): readable, never edited."""

    list_display = ["occurrence", "kinds", "reason", "changed_by", "created_at"]
    list_select_related = ["occurrence", "changed_by"]
    search_fields = ["occurrence__subject", "reason"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
