"""The timetable in RFC 5545 terms.

A ``Feed`` is one iCalendar source imported into a class. Each VEVENT master is
a ``Lesson`` (UID, RRULE, subject, room, teachers); each dated instance is an
``Occurrence``, identified within its lesson by its RECURRENCE-ID
(``recurrence_key``: the original start in UTC, ISO 8601, or ``""`` for a
non-recurring event). A change to one occurrence (cancelled, moved, room
changed, teacher replaced) is recorded as an ``OccurrenceChange`` with a reason,
and the occurrence keeps its previous time and room so pages can show them.
``Holiday`` rows are public holidays and ``SchoolHoliday`` rows the school
holidays of each zone and academy: no lesson takes place on them. A
``FeedToken`` is the secret of a user's iCalendar subscription URL.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.roster.models import SchoolClass


class Holiday(models.Model):
    """A public holiday (Etalab "Jours fériés en France"); one row per date."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=100, verbose_name=_("name"))
    zone = models.CharField(max_length=50, default="Métropole")

    class Meta:
        ordering = ["date"]
        verbose_name = _("public holiday")
        verbose_name_plural = _("public holidays")

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class SchoolHoliday(models.Model):
    """A school holiday of one academy (the ministry's ``fr-en-calendrier-scolaire``).

    ``start_date`` to ``end_date`` (inclusive) are the days without lessons.
    The ministry gives the day lessons stop (holidays begin "après la classe"
    of that day) and the day they resume, kept as ``lessons_stop`` and
    ``lessons_resume``: "Toussaint 2019-10-19 to 2019-11-04" has no lessons
    from the 20th to the 3rd (``core.timetable.school_calendar``).
    """

    name = models.CharField(_("name"), max_length=100)
    zone = models.CharField(_("zone"), max_length=50, help_text=_("e.g. Zone B"))
    academy = models.CharField(_("academy"), max_length=100)
    school_year = models.CharField(_("school year"), max_length=20)
    population = models.CharField(_("population"), max_length=50, blank=True)
    start_date = models.DateField(_("first day without lessons"))
    end_date = models.DateField(_("last day without lessons"))
    lessons_stop = models.DateField(_("lessons stop after"))
    lessons_resume = models.DateField(_("lessons resume on"))

    class Meta:
        ordering = ["start_date", "zone", "academy"]
        verbose_name = _("school holiday")
        verbose_name_plural = _("school holidays")
        constraints = [
            models.UniqueConstraint(
                fields=["zone", "academy", "name", "school_year"],
                name="unique_school_holiday",
            )
        ]
        indexes = [models.Index(fields=["end_date", "start_date"])]

    def __str__(self) -> str:
        return f"{self.name} {self.school_year} ({self.academy}, {self.zone})"


class FeedToken(models.Model):
    """The secret of one user's iCalendar subscription URL.

    The token is never stored: it is ``HMAC(SECRET_KEY, user id + salt)``
    (:func:`core.timetable.feed.token_of`), so the page can show the URL
    again, and only its SHA-256 ``digest`` is looked up. Rotating draws a
    new ``salt``: the old URL stops working at once.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="calendar_feed_token",
        verbose_name=_("user"),
    )
    salt = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("calendar subscription link")
        verbose_name_plural = _("calendar subscription links")

    def __str__(self) -> str:
        return f"{self.user} ({self.created_at:%Y-%m-%d})"


class Feed(models.Model):
    """An iCalendar source for one class, re-imported when a newer export comes."""

    school_class = models.ForeignKey(
        SchoolClass,
        on_delete=models.CASCADE,
        related_name="feeds",
        verbose_name=_("school class"),
    )
    name = models.CharField(
        max_length=200,
        help_text=_("file name or URL of the export"),
        verbose_name=_("name"),
    )
    time_zone = models.CharField(
        max_length=64, default="Europe/Paris", verbose_name=_("time zone")
    )
    imported_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("imported at")
    )

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
        SchoolClass,
        on_delete=models.CASCADE,
        related_name="lessons",
        verbose_name=_("school class"),
    )
    uid = models.CharField(max_length=500)
    subject = models.CharField(_("subject"), max_length=300)
    room = models.CharField(_("room"), max_length=300, blank=True)
    teacher_names = models.CharField(_("teachers"), max_length=300, blank=True)
    rrule = models.CharField(max_length=500, blank=True, verbose_name=_("rrule"))

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
        SchoolClass,
        on_delete=models.CASCADE,
        related_name="occurrences",
        verbose_name=_("school class"),
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
        max_length=20,
        choices=Status.choices,
        default=Status.SCHEDULED,
        verbose_name=_("status"),
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
        Occurrence,
        on_delete=models.CASCADE,
        related_name="changes",
        verbose_name=_("occurrence"),
    )
    kinds = models.JSONField(
        help_text=_("list of change kinds"), verbose_name=_("kinds")
    )
    before = models.JSONField()
    after = models.JSONField()
    reason = models.CharField(max_length=300, blank=True, verbose_name=_("reason"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("changed by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("lesson change")
        verbose_name_plural = _("lesson changes")

    def __str__(self) -> str:
        return f"{self.occurrence_id}: {', '.join(self.kinds or [])}"
