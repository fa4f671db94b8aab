"""The timetable in RFC 5545 terms.

A ``Feed`` is one iCalendar source imported into a class. Each VEVENT master is
a ``Lesson`` (UID, RRULE, subject, room, teachers); each dated instance is an
``Occurrence``, identified within its lesson by its RECURRENCE-ID
(``recurrence_key``: the original start in UTC, ISO 8601, or ``""`` for a
non-recurring event). A change to one occurrence (cancelled, moved, room
changed, teacher replaced) is recorded as an ``OccurrenceChange`` with a reason,
and the occurrence keeps its previous time and room so pages can show them.
``Holiday`` rows are public holidays: no lesson takes place on them.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.roster.models import SchoolClass


class Holiday(models.Model):
    """A public holiday (Etalab "Jours fériés en France"); one row per date."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=100)
    zone = models.CharField(max_length=50, default="Métropole")

    class Meta:
        ordering = ["date"]
        verbose_name = _("public holiday")
        verbose_name_plural = _("public holidays")

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class Feed(models.Model):
    """An iCalendar source for one class, re-imported when a newer export comes."""

    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.CASCADE, related_name="feeds"
    )
    name = models.CharField(
        max_length=200, help_text=_("file name or URL of the export")
    )
    time_zone = models.CharField(max_length=64, default="Europe/Paris")
    imported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("timetable feed")
        verbose_name_plural = _("timetable feeds")
        constraints = [
            models.UniqueConstraint(fields=["school_class"], name="one_feed_per_class")
        ]

    def __str__(self) -> str:
        return f"{self.school_class}: {self.name}"


class Lesson(models.Model):
    """A VEVENT master: a recurring (RRULE) or single lesson of a class."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="lessons")
    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.CASCADE, related_name="lessons"
    )
    uid = models.CharField(max_length=500)
    subject = models.CharField(_("subject"), max_length=300)
    room = models.CharField(_("room"), max_length=300, blank=True)
    teacher_names = models.CharField(_("teachers"), max_length=300, blank=True)
    rrule = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("lesson")
        verbose_name_plural = _("lessons")
        constraints = [
            models.UniqueConstraint(fields=["feed", "uid"], name="unique_lesson_uid")
        ]

    def __str__(self) -> str:
        return self.subject


class Occurrence(models.Model):
    """One dated lesson. Times are aware datetimes (stored in UTC)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        CANCELLED = "cancelled", _("cancelled")

    lesson = models.ForeignKey(
        Lesson, on_delete=models.CASCADE, related_name="occurrences"
    )
    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.CASCADE, related_name="occurrences"
    )
    recurrence_key = models.CharField(max_length=40, blank=True)
    start = models.DateTimeField(_("start"), db_index=True)
    end = models.DateTimeField(_("end"))
    subject = models.CharField(_("subject"), max_length=300)
    room = models.CharField(_("room"), max_length=300, blank=True)
    teacher_names = models.CharField(_("teachers"), max_length=300, blank=True)
    teachers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="taught_occurrences"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.SCHEDULED
    )
    previous_start = models.DateTimeField(null=True, blank=True)
    previous_end = models.DateTimeField(null=True, blank=True)
    previous_room = models.CharField(max_length=300, blank=True)
    previous_teacher_names = models.CharField(max_length=300, blank=True)
    change_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["start"]
        verbose_name = _("dated lesson")
        verbose_name_plural = _("dated lessons")
        constraints = [
            models.UniqueConstraint(
                fields=["lesson", "recurrence_key"], name="unique_occurrence_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} {timezone.localtime(self.start):%Y-%m-%d %H:%M}"


class OccurrenceChange(models.Model):
    """A recorded change to one occurrence: what, before, after, why, by whom."""

    class Kind(models.TextChoices):
        ADDED = "added", _("added")
        CANCELLED = "cancelled", _("cancelled")
        RESTORED = "restored", _("restored")
        MOVED = "moved", _("moved")
        ROOM_CHANGED = "room_changed", _("room changed")
        TEACHER_CHANGED = "teacher_changed", _("teacher replaced")

    occurrence = models.ForeignKey(
        Occurrence, on_delete=models.CASCADE, related_name="changes"
    )
    kinds = models.JSONField(help_text=_("list of change kinds"))
    before = models.JSONField()
    after = models.JSONField()
    reason = models.CharField(max_length=300, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("lesson change")
        verbose_name_plural = _("lesson changes")

    def __str__(self) -> str:
        return f"{self.occurrence_id}: {', '.join(self.kinds or [])}"
