"""Grades and skills: evaluations of a class, each pupil's result.

- ``Period``: a grading period of a school year (trimestre or semestre),
  per school. Averages and report cards are per period; an evaluation
  belongs to the period its ``date`` falls in (chosen by the teacher,
  defaulted from the date).
- ``GradesPolicy``: what a school shows families (class average, min and
  max), whether "n.r." (not handed in) counts as 0, and the threshold under
  which teachers see a pupil flagged. A school without a row gets the
  defaults (:func:`core.grades.averages.policy`).
- ``Skill``: a component of the "socle commun de connaissances, de
  compétences et de culture" (D1.1 … D5, seeded by migration), or a skill a
  school adds (``org`` set).
- ``Evaluation``: an assessment of a class (a homeroom or a group) in a
  subject: title, date, period, kind, coefficient, and either a mark out of
  ``out_of`` (converted to /20 for averages), skills (``skills``, assessed
  on the four-level scale), or both. A draft until ``published_at``:
  publication is what families see and what sends events. ``deleted_at``
  marks a removal after publication.
- ``Mark``: one pupil's result: a ``value`` out of the evaluation's
  ``out_of``, or a ``status`` (absent, exempt, not handed in), and the
  teacher's comment (encrypted at rest: minors' data).
- ``SkillLevel``: one pupil's level on one skill of an evaluation.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core import crypto
from core.roster.models import AcademicSession, Org, SchoolClass


class Period(models.Model):
    class Kind(models.TextChoices):
        TRIMESTER = "trimester", _("trimester")
        SEMESTER = "semester", _("semester")

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="periods")
    session = models.ForeignKey(
        AcademicSession, on_delete=models.CASCADE, related_name="periods"
    )
    kind = models.CharField(
        _("kind"), max_length=20, choices=Kind.choices, default=Kind.TRIMESTER
    )
    title = models.CharField(_("title"), max_length=100)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))

    class Meta:
        ordering = ["org", "start_date"]
        verbose_name = _("grading period")
        verbose_name_plural = _("grading periods")
        constraints = [
            models.UniqueConstraint(
                fields=["org", "session", "title"], name="unique_period_title"
            ),
            models.CheckConstraint(
                condition=models.Q(start_date__lte=models.F("end_date")),
                name="period_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class GradesPolicy(models.Model):
    org = models.OneToOneField(
        Org, on_delete=models.CASCADE, related_name="grades_policy"
    )
    show_class_average = models.BooleanField(
        _("show the class average to families"), default=True
    )
    show_min_max = models.BooleanField(
        _("show the lowest and highest marks to families"), default=True
    )
    not_submitted_counts_zero = models.BooleanField(
        _("a work not handed in counts as 0"), default=True
    )
    alert_below = models.DecimalField(
        _("flag pupils below (out of 20)"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("8"),
        validators=[MinValueValidator(0), MaxValueValidator(20)],
    )

    class Meta:
        verbose_name = _("grades policy")
        verbose_name_plural = _("grades policies")

    def __str__(self) -> str:
        return str(self.org)


class Skill(models.Model):
    org = models.ForeignKey(
        Org, on_delete=models.CASCADE, null=True, blank=True, related_name="skills"
    )
    code = models.CharField(_("code"), max_length=20)
    title = models.CharField(_("title"), max_length=300)

    class Meta:
        ordering = ["code"]
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        constraints = [
            models.UniqueConstraint(
                fields=["org", "code"],
                name="unique_skill_code",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class Evaluation(models.Model):
    class Kind(models.TextChoices):
        TEST = "test", _("test")
        HOMEWORK = "homework", pgettext_lazy("evaluation kind", "homework")
        ORAL = "oral", _("oral")
        PRACTICAL = "practical", _("practical work")
        OTHER = "other", _("other")

    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.CASCADE, related_name="evaluations"
    )
    subject = models.CharField(_("subject"), max_length=300)
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="evaluations",
        verbose_name=_("teacher"),
    )
    period = models.ForeignKey(
        Period, on_delete=models.PROTECT, related_name="evaluations"
    )
    title = models.CharField(_("title"), max_length=200)
    date = models.DateField(_("date"))
    kind = models.CharField(
        _("kind"), max_length=20, choices=Kind.choices, default=Kind.TEST
    )
    coefficient = models.DecimalField(
        _("coefficient"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(20)],
    )
    # None: a skills assessment only (no mark).
    out_of = models.DecimalField(
        _("out of"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("20"),
        validators=[MinValueValidator(1), MaxValueValidator(200)],
    )
    skills = models.ManyToManyField(
        Skill, blank=True, related_name="evaluations", verbose_name=_("skills")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-date", "subject", "pk"]
        verbose_name = _("evaluation")
        verbose_name_plural = _("evaluations")
        indexes = [models.Index(fields=["school_class", "period"])]

    def __str__(self) -> str:
        return f"{self.subject}: {self.title} ({self.date})"

    @property
    def graded(self) -> bool:
        """Whether it carries a mark (not only skills)."""
        return self.out_of is not None


class Mark(models.Model):
    class Status(models.TextChoices):
        GRADED = "", _("graded")
        ABSENT = "absent", _("absent")
        EXEMPT = "exempt", _("exempt")
        NOT_SUBMITTED = "not_submitted", _("not handed in")

    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.CASCADE, related_name="marks"
    )
    # PROTECT: a pupil is erased (core.privacy), not deleted.
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="marks"
    )
    value = models.DecimalField(
        _("mark"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default="", blank=True
    )
    comment = crypto.EncryptedTextField(pgettext_lazy("mark", "comment"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("mark")
        verbose_name_plural = _("marks")
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "student"], name="one_mark_per_pupil"
            ),
            # A value only when graded; a status never with a value.
            models.CheckConstraint(
                condition=models.Q(status="") | models.Q(value__isnull=True),
                name="mark_value_or_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} {self.evaluation_id}: {self.value or self.status}"


class SkillLevel(models.Model):
    class Level(models.IntegerChoices):
        INSUFFICIENT = 1, _("insufficient mastery")
        FRAGILE = 2, _("fragile mastery")
        SATISFACTORY = 3, _("satisfactory mastery")
        VERY_GOOD = 4, _("very good mastery")

    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.CASCADE, related_name="skill_levels"
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)

    class Meta:
        verbose_name = _("skill level")
        verbose_name_plural = _("skill levels")
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "student", "skill"],
                name="one_level_per_pupil_and_skill",
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id} {self.skill_id}: {self.level}"
