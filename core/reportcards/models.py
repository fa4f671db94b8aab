"""Report cards ("bulletins"): one per pupil and grading period.

- ``SubjectAppraisal``: a teacher's appraisal of one pupil in one subject for
  a period ("appréciation"), written for the class (a homeroom or a group)
  where the teacher teaches that subject. Encrypted at rest: comments about
  minors.
- ``ReportCard``: a pupil's card for a period: the homeroom it was made for
  (``school_class``, the pupil's homeroom when it was generated), the head
  teacher's appraisal (encrypted), the generated PDF (encrypted at rest like
  homework hand-ins, random stored name) and where its generation stands.
- ``Publication``: the school published a period's cards for a homeroom.
  Each publication (the first, then each correction) bumps ``generation``;
  the background task that makes the PDFs of that generation announces them
  once (``notified_generation``).

The averages on a card are not stored: they are computed when the PDF is
made, by :mod:`core.grades.averages` (the one rule).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core import crypto, files
from core.grades.models import Period
from core.roster.models import SchoolClass

# A bulletin's appraisal is a few lines (the PDF's table wraps it).
MAX_APPRAISAL = 1000


class SubjectAppraisal(models.Model):
    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.PROTECT, related_name="+"
    )
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(_("subject"), max_length=300)
    # PROTECT: a pupil is erased (core.privacy), not deleted; the card is the
    # school's record.
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    text = crypto.EncryptedTextField(_("appraisal"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("subject appraisal")
        verbose_name_plural = _("subject appraisals")
        constraints = [
            models.UniqueConstraint(
                fields=["school_class", "period", "subject", "student"],
                name="one_appraisal_per_pupil_and_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id} {self.subject} ({self.period_id})"


class ReportCard(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("report card", "not generated")
        PENDING = "pending", pgettext_lazy("report card", "being generated")
        READY = "ready", pgettext_lazy("report card", "generated")
        FAILED = "failed", pgettext_lazy("report card", "generation failed")

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="report_cards",
        verbose_name=_("pupil"),
    )
    period = models.ForeignKey(
        Period, on_delete=models.PROTECT, related_name="report_cards"
    )
    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.PROTECT, related_name="report_cards"
    )
    head_appraisal = crypto.EncryptedTextField(_("head teacher's appraisal"))
    head_appraisal_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Fernet token of the PDF (core.files.encrypted), under a random name.
    file = models.FileField(upload_to=files.RandomName("reportcards"), blank=True)
    generated_at = models.DateTimeField(_("generated at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )

    class Meta:
        ordering = ["period__start_date", "pk"]
        verbose_name = _("report card")
        verbose_name_plural = _("report cards")
        constraints = [
            models.UniqueConstraint(
                fields=["student", "period"], name="one_report_card_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id} {self.period}"


class Publication(models.Model):
    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.PROTECT, related_name="+"
    )
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField(_("published at"))
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    generation = models.PositiveIntegerField(default=0)
    notified_generation = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("report card publication")
        verbose_name_plural = _("report card publications")
        constraints = [
            models.UniqueConstraint(
                fields=["school_class", "period"], name="one_publication_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.school_class} {self.period}"


crypto.register_file_field(ReportCard, "file")
