"""The school agenda and parent–teacher meetings.

- ``AgendaEntry``: something on the school's calendar (a conseil de classe,
  a réunion parents-professeurs, an outing, a mock exam…) for an audience
  (``core.roster.audience.Audience``, stored as its JSON): its members now
  see it. ``all_day`` entries run from ``start`` (local midnight of the
  first day) to ``end`` (local midnight after the last day). ``sequence``
  counts changes after publication (the iCalendar SEQUENCE); a cancelled
  entry keeps its row (``cancelled_at``) so calendars show it cancelled.
- ``MeetingEvening``: a parent–teacher evening of an org for the classes of
  its audience, with the booking window (``booking_opens`` to
  ``booking_closes``).
- ``MeetingSlot``: one teacher's time slot of an evening (a room, a length).
- ``Booking``: a guardian booked a slot for a child. A cancelled booking
  keeps its row (``cancelled_at``); at most one live booking per slot and
  per (evening, teacher, child), enforced by partial unique constraints.
  ``reminded_at`` makes the reminder once.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.roster.models import Org


class AgendaEntry(models.Model):
    class Kind(models.TextChoices):
        CLASS_COUNCIL = "class_council", _("class council")
        PARENT_MEETING = "parent_meeting", _("parent–teacher meeting")
        OUTING = "outing", _("outing")
        MOCK_EXAM = "mock_exam", _("mock exam")
        OTHER = "other", _("other")

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), max_length=5000, blank=True)
    location = models.CharField(_("location"), max_length=200, blank=True)
    start = models.DateTimeField(_("start"), db_index=True)
    end = models.DateTimeField(_("end"))
    all_day = models.BooleanField(_("all day"), default=False)
    audience = models.JSONField(_("audience"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    sequence = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["start", "pk"]
        verbose_name = _("agenda entry")
        verbose_name_plural = _("agenda entries")
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gte=models.F("start")), name="agenda_entry_ends_after"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.start:%Y-%m-%d})"


class MeetingEvening(models.Model):
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("title"), max_length=200)
    date = models.DateField(_("date"))
    audience = models.JSONField(_("classes concerned"))
    booking_opens = models.DateTimeField(_("booking opens"))
    booking_closes = models.DateTimeField(_("booking closes"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "pk"]
        verbose_name = _("parent–teacher evening")
        verbose_name_plural = _("parent–teacher evenings")

    def __str__(self) -> str:
        return f"{self.title} ({self.date})"

    def booking_is_open(self, now: dt.datetime) -> bool:
        """Whether guardians may book at ``now``: from ``booking_opens`` to
        just before ``booking_closes`` (the page, the API and booking agree)."""
        return self.booking_opens <= now < self.booking_closes


class MeetingSlot(models.Model):
    evening = models.ForeignKey(
        MeetingEvening, on_delete=models.CASCADE, related_name="slots"
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    start = models.DateTimeField(_("start"))
    minutes = models.PositiveSmallIntegerField(_("length (minutes)"))
    room = models.CharField(_("room"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("meeting slot")
        verbose_name_plural = _("meeting slots")
        ordering = ["start", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["teacher", "start"], name="one_slot_per_teacher_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.teacher_id} {self.start:%H:%M}"


class Booking(models.Model):
    slot = models.ForeignKey(MeetingSlot, on_delete=models.CASCADE, related_name="+")
    # Copied from the slot so the database enforces one per teacher per child.
    evening = models.ForeignKey(
        MeetingEvening, on_delete=models.CASCADE, related_name="+"
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    guardian = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["slot__start", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(cancelled_at__isnull=True),
                name="one_booking_per_slot",
            ),
            models.UniqueConstraint(
                fields=["evening", "teacher", "student"],
                condition=Q(cancelled_at__isnull=True),
                name="one_booking_per_teacher_per_child",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.slot_id} ← {self.guardian_id} ({self.student_id})"

    @property
    def sequence(self) -> int:
        return 1 if self.cancelled_at else 0
