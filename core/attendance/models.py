"""Attendance: the roll call of an occurrence, one record per pupil, excuses.

A ``RollCall`` exists once the teacher has taken it. Each ``AttendanceRecord``
says present, absent or late (with minutes). A guardian's ``Excuse`` for an
absence or late arrival carries a reason from a fixed list, free text and an
optional document; school-life staff accept or refuse it. ``MissingRollCall``
marks an occurrence whose roll call was not taken 15 minutes after its start,
so the flag is sent once.

An excuse's free text (the guardian's ``comment``, the reviewer's
``review_note``) and its document (often a medical certificate) are
encrypted at rest with ``core.crypto`` (same keys and rotation as message
bodies); the document is stored under a random name and leaves storage with
its row (``core.files``).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core import crypto, files
from core.timetable.models import Occurrence


class RollCall(models.Model):
    occurrence = models.OneToOneField(
        Occurrence,
        on_delete=models.CASCADE,
        related_name="roll_call",
        verbose_name=_("occurrence"),
    )
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, verbose_name=_("taken by")
    )
    taken_at = models.DateTimeField(auto_now_add=True, verbose_name=_("taken at"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("roll call")
        verbose_name_plural = _("roll calls")

    def __str__(self) -> str:
        return f"{self.occurrence}"


class AttendanceRecord(models.Model):
    class Status(models.TextChoices):
        PRESENT = "present", _("present")
        ABSENT = "absent", _("absent")
        LATE = "late", _("late")

    roll_call = models.ForeignKey(
        RollCall, on_delete=models.CASCADE, related_name="records"
    )
    # PROTECT: the school keeps a pupil's absences; a person is erased
    # (core.privacy), not deleted.
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="attendance",
        verbose_name=_("pupil"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    minutes_late = models.PositiveSmallIntegerField(
        _("minutes late"), null=True, blank=True
    )
    recorded_at = models.DateTimeField(auto_now=True, verbose_name=_("recorded at"))

    class Meta:
        verbose_name = _("attendance record")
        verbose_name_plural = _("attendance records")
        constraints = [
            models.UniqueConstraint(
                fields=["roll_call", "student"], name="one_record_per_pupil"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student}: {self.status}"


class Excuse(models.Model):
    class Reason(models.TextChoices):
        ILLNESS = "illness", _("illness")
        MEDICAL = "medical", _("medical appointment")
        FAMILY = "family", _("family reason")
        TRANSPORT = "transport", _("transport problem")
        EXAM = "exam", _("exam or official summons")
        OTHER = "other", _("other")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        ACCEPTED = "accepted", _("accepted")
        REFUSED = "refused", _("refused")

    record = models.ForeignKey(
        AttendanceRecord,
        on_delete=models.CASCADE,
        related_name="excuses",
        verbose_name=_("absence or lateness"),
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    submitted_at = models.DateTimeField(_("submitted at"), auto_now_add=True)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    comment = crypto.EncryptedTextField(_("comment"))
    # Fernet token of the file; its type is found in the content on download.
    document = models.FileField(
        _("document"), upload_to=files.RandomName("excuses"), blank=True
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = crypto.EncryptedTextField(_("note"))

    class Meta:
        ordering = ["-submitted_at"]
        verbose_name = _("excuse")
        verbose_name_plural = _("excuses")
        constraints = [
            models.UniqueConstraint(
                fields=["record"],
                condition=models.Q(status="pending"),
                name="one_pending_excuse_per_record",
            )
        ]

    def __str__(self) -> str:
        return f"{self.record} ({self.status})"


class MissingRollCall(models.Model):
    occurrence = models.OneToOneField(
        Occurrence, on_delete=models.CASCADE, related_name="+", verbose_name=_("lesson")
    )
    flagged_at = models.DateTimeField(_("flagged at"), auto_now_add=True)

    class Meta:
        verbose_name = _("missing roll call")
        verbose_name_plural = _("missing roll calls")

    def __str__(self) -> str:
        return f"{self.occurrence_id} flagged at {self.flagged_at}"


crypto.register_file_field(Excuse, "document")
