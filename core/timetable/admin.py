"""Admin of the timetable: feeds, lessons, occurrences, their change log."""

from django import forms
from django.contrib import admin
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from core.roster.admin_scope import OrgScopedAdmin, member_lookups
from core.timetable.actions import change_occurrence
from core.timetable.models import (
    Feed,
    FeedToken,
    Holiday,
    Lesson,
    Occurrence,
    OccurrenceChange,
    SchoolHoliday,
)


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "name", "zone"]
    list_filter = ["zone"]
    search_fields = ["name"]
    date_hierarchy = "date"


@admin.register(SchoolHoliday)
class SchoolHolidayAdmin(admin.ModelAdmin):
    """Loaded by ``manage.py load_school_calendar``; correctable by hand."""

    list_display = [
        "name",
        "school_year",
        "zone",
        "academy",
        "start_date",
        "end_date",
        "lessons_resume",
    ]
    list_filter = ["zone", "school_year"]
    search_fields = ["name", "academy", "zone"]
    date_hierarchy = "start_date"


@admin.register(FeedToken)
class FeedTokenAdmin(OrgScopedAdmin, admin.ModelAdmin):
    """Who has a calendar link; staff may delete one (its URL stops working)."""

    org_lookups = member_lookups("user__")

    list_display = ["user", "created_at"]
    search_fields = ["user__username", "user__last_name"]
    fields = ["user", "created_at"]
    readonly_fields = ["user", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(Feed)
class FeedAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookups = ("school_class__org",)
    list_display = ["school_class", "name", "time_zone", "imported_at"]
    list_select_related = ["school_class"]
    search_fields = ["name", "school_class__title"]
    readonly_fields = ["imported_at"]


@admin.register(Lesson)
class LessonAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookups = ("school_class__org",)
    list_display = ["subject", "school_class", "room", "teacher_names", "rrule"]
    list_filter = ["school_class"]
    list_select_related = ["school_class"]
    search_fields = ["subject", "uid", "teacher_names"]
    raw_id_fields = ["feed"]


class OccurrenceChangeForm(forms.ModelForm):
    """Edit one lesson's time, room, teachers or status, with a reason."""

    reason = forms.CharField(
        label=_("Reason shown to families"), max_length=300, required=True
    )

    class Meta:
        model = Occurrence
        fields = ["start", "end", "room", "teacher_names", "status"]


@admin.register(Occurrence)
class OccurrenceAdmin(OrgScopedAdmin, admin.ModelAdmin):
    """Staff change one lesson here; the change goes out live like an import's.

    Saving calls :func:`core.timetable.actions.change_occurrence`, so the
    change is recorded (``OccurrenceChange``) and every open timetable of the
    class is told. Lessons are created by importing a timetable, not here.
    """

    org_lookups = ("school_class__org",)

    form = OccurrenceChangeForm
    list_display = [
        "subject",
        "school_class",
        "local_start",
        "room",
        "teacher_names",
        "status",
    ]
    list_filter = ["school_class", "status"]
    list_select_related = ["school_class"]
    search_fields = ["subject", "room", "teacher_names"]
    date_hierarchy = "start"

    @admin.display(description=_("start"), ordering="start")
    def local_start(self, obj: Occurrence) -> str:
        return formats.localize(timezone.localtime(obj.start))

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        change_occurrence(
            occurrence=obj,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            cancelled=obj.status == Occurrence.Status.CANCELLED,
            start=obj.start,
            end=obj.end,
            room=obj.room,
            teacher_names=obj.teacher_names,
        )


@admin.register(OccurrenceChange)
class OccurrenceChangeAdmin(OrgScopedAdmin, admin.ModelAdmin):
    """The change log is an audit trail (P6): readable, never edited."""

    org_lookups = ("occurrence__school_class__org",)

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
