"""The homework notebook ("cahier de textes") of a class.

- ``SessionContent``: what was done in one lesson (one timetable
  ``Occurrence``), written by its teacher ("contenu de la séance").
- ``Homework``: work to do ("travail à faire") for a class (a homeroom or a
  group: both are ``SchoolClass`` rows) in a subject, due on ``due_date``
  (by default the day of the next scheduled lesson of that class and subject,
  ``due_occurrence``). Its ``kind`` says what it is (exercise, lesson to
  learn, test, other) so the workload view can warn of two tests on one day.
  The text is plain (shown escaped, URLs made links); ``links`` are extra
  http(s) URLs; ``Attachment`` rows are the teacher's files.
  ``publish_at`` plans it ahead: until then (and until ``published`` is set,
  by the action or by the periodic job) pupils and guardians do not see it
  and no event is sent. ``edited_at`` is set by a change after publication
  (shown "modifié le …"); ``deleted_at`` marks a removal (soft: the row
  stays so pages that showed it can say "supprimé").
- A hand-in is asked for with ``handin_required``, before
  ``handin_deadline``; with ``late_allowed`` a later hand-in is accepted and
  marked late, without it refused.
- ``DoneMark``: a pupil ticked "fait" (one row per pupil per homework).
- ``HandIn``: a pupil's file (encrypted at rest: minors' data), replaced by a
  new hand-in until the teacher returns it with a comment (encrypted too).
- ``Reminder``: the evening reminder of one class for one due day was sent
  (so the periodic job sends it once).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core import crypto, files
from core.roster.models import SchoolClass
from core.timetable.models import Occurrence


class SessionContent(models.Model):
    occurrence = models.OneToOneField(
        Occurrence, on_delete=models.CASCADE, related_name="session_content"
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField(_("lesson content"), max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("lesson content")
        verbose_name_plural = _("lesson contents")

    def __str__(self) -> str:
        return f"{self.occurrence}"


class Homework(models.Model):
    class Kind(models.TextChoices):
        EXERCISE = "exercise", _("exercises")
        LEARN = "learn", _("lesson to learn")
        TEST = "test", _("test")
        OTHER = "other", _("other")

    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.CASCADE, related_name="homework"
    )
    subject = models.CharField(_("subject"), max_length=300)
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="homework_set",
        verbose_name=_("teacher"),
    )
    set_in = models.ForeignKey(
        Occurrence,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="homework_given",
    )
    due_occurrence = models.ForeignKey(
        Occurrence,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="homework_due",
    )
    due_date = models.DateField(_("due date"), db_index=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=Kind.choices, default=Kind.EXERCISE
    )
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("instructions"), max_length=5000, blank=True)
    links = models.JSONField(_("links"), default=list, blank=True)
    handin_required = models.BooleanField(_("to hand in online"), default=False)
    handin_deadline = models.DateTimeField(_("hand-in deadline"), null=True, blank=True)
    late_allowed = models.BooleanField(_("late hand-ins accepted"), default=True)
    publish_at = models.DateTimeField(_("visible from"))
    published = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "subject", "pk"]
        verbose_name = _("homework")
        verbose_name_plural = _("homework items")
        indexes = [models.Index(fields=["school_class", "due_date"])]

    def __str__(self) -> str:
        return f"{self.subject}: {self.title} ({self.due_date})"


class Attachment(models.Model):
    """A teacher's file for a homework (a worksheet): random stored name,
    type from the content (``core.files``)."""

    homework = models.ForeignKey(
        Homework, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=files.RandomName("homework"))
    name = models.CharField(max_length=200)
    mime = models.CharField(max_length=100)
    size = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class DoneMark(models.Model):
    homework = models.ForeignKey(
        Homework, on_delete=models.CASCADE, related_name="done_marks"
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    done_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("done mark")
        verbose_name_plural = _("done marks")
        constraints = [
            models.UniqueConstraint(
                fields=["homework", "student"], name="one_done_mark_per_pupil"
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id} did {self.homework_id}"


class HandIn(models.Model):
    homework = models.ForeignKey(
        Homework, on_delete=models.CASCADE, related_name="handins"
    )
    # PROTECT: a pupil is erased (core.privacy), not deleted.
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="handins",
        verbose_name=_("pupil"),
    )
    # Fernet token of the file; its type is found in the content.
    file = models.FileField(upload_to=files.RandomName("handins"))
    name = crypto.EncryptedTextField(_("file name"))
    mime = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    submitted_at = models.DateTimeField(_("handed in at"))
    late = models.BooleanField(_("late"), default=False)
    comment = crypto.EncryptedTextField(_("teacher's comment"))
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("hand-in")
        verbose_name_plural = _("hand-ins")
        constraints = [
            models.UniqueConstraint(
                fields=["homework", "student"], name="one_handin_per_pupil"
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id} → {self.homework_id}"


class Reminder(models.Model):
    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.CASCADE, related_name="+"
    )
    due_date = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("homework reminder")
        verbose_name_plural = _("homework reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["school_class", "due_date"], name="one_reminder_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.school_class_id} {self.due_date}"


crypto.register_file_field(HandIn, "file")
