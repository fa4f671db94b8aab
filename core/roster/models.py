"""The roster in OneRoster 1.2 terms: org, academic session, course, class,
enrollment, and users with one role each (student, teacher, guardian,
administrator). A guardian is linked to one or more students, who may be in
different orgs.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Sourced(models.Model):
    """A row that may come from a roster import (``core.roster.sync``).

    ``source`` is the format it came from (``aaf``, ``siecle``,
    ``oneroster``; empty for rows made by hand or by the demo) and
    ``sourced_id`` its identifier there (AAF ``ENTPersonJointure``, SIECLE
    ``ELEVE_ID``, OneRoster ``sourcedId``), so a re-import updates the row
    instead of making a second one.
    """

    class Source(models.TextChoices):
        AAF = "aaf", "AAF"
        SIECLE = "siecle", "SIECLE"
        ONEROSTER = "oneroster", "OneRoster"

    source = models.CharField(
        _("source"), max_length=20, choices=Source.choices, blank=True
    )
    sourced_id = models.CharField(_("source identifier"), max_length=255, blank=True)

    class Meta:
        abstract = True


def unique_source_id(model_name: str) -> models.UniqueConstraint:
    """One row per source identifier (rows made by hand have none)."""
    return models.UniqueConstraint(
        fields=["source", "sourced_id"],
        condition=~Q(sourced_id=""),
        name=f"unique_{model_name}_source_id",
    )


class Org(Sourced):
    """A school (OneRoster ``org`` of type ``school``) identified by its UAI.

    ``academy`` and ``holiday_zone`` place it in the ministry's school
    calendar (``fr-en-calendrier-scolaire``): its school holidays are those
    of its zone ("Zone A", "Zone B", "Zone C", "Corse", …), or of its
    academy where the calendar lists the academy alone.
    """

    name = models.CharField(_("name"), max_length=200)
    uai = models.CharField(
        _("UAI code"), max_length=8, unique=True, help_text=_("e.g. 0350001A")
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Paris")
    academy = models.CharField(
        _("academy"), max_length=100, blank=True, help_text=_("e.g. Rennes")
    )
    holiday_zone = models.CharField(
        _("school holiday zone"), max_length=50, blank=True, help_text=_("e.g. Zone B")
    )

    class Meta:
        verbose_name = _("school")
        verbose_name_plural = _("schools")
        ordering = ["name"]
        constraints = [unique_source_id("org")]

    def __str__(self) -> str:
        return f"{self.name} ({self.uai})"


class AcademicSession(Sourced):
    """A school year or term (OneRoster ``academicSession``); dates inclusive."""

    class Type(models.TextChoices):
        SCHOOL_YEAR = "schoolYear", _("school year")
        TERM = "term", _("term")

    org = models.ForeignKey(
        Org, on_delete=models.CASCADE, related_name="sessions", verbose_name=_("org")
    )
    title = models.CharField(_("title"), max_length=100)
    type = models.CharField(
        max_length=20, choices=Type.choices, default=Type.SCHOOL_YEAR
    )
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))

    class Meta:
        verbose_name = _("academic session")
        verbose_name_plural = _("academic sessions")
        constraints = [unique_source_id("session")]

    def __str__(self) -> str:
        return self.title


class Course(Sourced):
    """A subject as taught in an org (OneRoster ``course``), e.g. "Allemand LV2"."""

    org = models.ForeignKey(
        Org, on_delete=models.CASCADE, related_name="courses", verbose_name=_("org")
    )
    title = models.CharField(_("title"), max_length=200)
    code = models.CharField(_("code"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("course")
        verbose_name_plural = _("courses")
        constraints = [unique_source_id("course")]

    def __str__(self) -> str:
        return self.title


class User(Sourced, AbstractUser):
    """An account with one OneRoster role.

    ``orgs`` are the schools of staff and teachers; students belong to orgs
    through their classes, guardians through their children.
    ``timetable_code`` is the short name timetable exports use for a teacher
    (flop!EDT initials such as ``OM``), so imported lessons find their teacher.
    """

    class Role(models.TextChoices):
        STUDENT = "student", _("student")
        TEACHER = "teacher", _("teacher")
        GUARDIAN = "guardian", _("guardian")
        ADMINISTRATOR = "administrator", _("school-life staff")

    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    orgs = models.ManyToManyField(
        Org, blank=True, related_name="staff", verbose_name=_("schools")
    )
    timetable_code = models.CharField(_("timetable code"), max_length=32, blank=True)
    national_id = models.CharField(
        _("national student id (INE)"), max_length=20, blank=True
    )
    children = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        through="GuardianLink",
        related_name="guardians",
        verbose_name=_("children"),
    )
    # Not a column: core.roster.streams.readers_of sets it on the users it returns.
    children_here: list[str]

    class Meta(AbstractUser.Meta):
        # The stubs type AbstractUser.Meta's names as str; lazy text is right.
        verbose_name = _("user")  # type: ignore[assignment]
        verbose_name_plural = _("users")  # type: ignore[assignment]
        constraints = [unique_source_id("user")]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class GuardianLink(Sourced):
    """A guardian's legal responsibility for a student (OneRoster ``agents``)."""

    guardian = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="+", verbose_name=_("guardian")
    )
    student = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="+", verbose_name=_("student")
    )
    relationship = models.CharField(_("relationship"), max_length=30, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["guardian", "student"], name="unique_guardian_link"
            ),
            unique_source_id("guardian_link"),
        ]
        verbose_name = _("guardian link")
        verbose_name_plural = _("guardian links")

    def __str__(self) -> str:
        return f"{self.guardian} → {self.student}"


class SchoolClass(Sourced):
    """A OneRoster ``class``: a homeroom ("4e B") or a scheduled group
    ("4e B Allemand")."""

    class Type(models.TextChoices):
        HOMEROOM = "homeroom", _("homeroom")
        SCHEDULED = "scheduled", _("scheduled group")

    org = models.ForeignKey(
        Org, on_delete=models.CASCADE, related_name="classes", verbose_name=_("org")
    )
    session = models.ForeignKey(
        AcademicSession, on_delete=models.PROTECT, related_name="classes"
    )
    course = models.ForeignKey(
        Course, on_delete=models.SET_NULL, null=True, blank=True, related_name="classes"
    )
    title = models.CharField(_("title"), max_length=200)
    class_type = models.CharField(
        max_length=20,
        choices=Type.choices,
        default=Type.HOMEROOM,
        verbose_name=_("class type"),
    )

    class Meta:
        verbose_name = _("class")
        verbose_name_plural = _("classes")
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "session", "title"], name="unique_class_title"
            ),
            unique_source_id("class"),
        ]

    def __str__(self) -> str:
        return self.title


class Enrollment(Sourced):
    """A user's membership of a class with a role (OneRoster ``enrollment``)."""

    class Role(models.TextChoices):
        STUDENT = "student", _("student")
        TEACHER = "teacher", _("teacher")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrollments")
    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.CASCADE, related_name="enrollments"
    )
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "school_class", "role"], name="unique_enrollment"
            ),
            unique_source_id("enrollment"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ∈ {self.school_class} ({self.role})"


class EndedMembership(models.Model):
    """An enrollment or guardian link that has ended, kept for the school's
    records (decision 0006).

    ``Enrollment`` and ``GuardianLink`` rows are the current memberships that
    every access rule reads; when one ends (a pupil who left, a guardian
    link the academy's file no longer has) its row moves here, so no rule
    can forget to leave it out, and nothing about it is lost: who, which
    class or which child, the role, the source identifier, when it ended
    and by which import.
    """

    class Kind(models.TextChoices):
        ENROLLMENT = "enrollment", _("enrollment")
        GUARDIAN_LINK = "guardian_link", _("guardian link")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        related_name="ended_memberships",
        help_text=_("the member of the class, or the guardian"),
    )
    school_class = models.ForeignKey(
        SchoolClass, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    student = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    role = models.CharField(max_length=20, blank=True)
    relationship = models.CharField(max_length=30, blank=True)
    source = models.CharField(max_length=20, blank=True)
    sourced_id = models.CharField(max_length=255, blank=True)
    ended_at = models.DateTimeField(_("ended at"))
    roster_import = models.ForeignKey(
        "RosterImport", on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["-ended_at"]
        verbose_name = _("ended membership")
        verbose_name_plural = _("ended memberships")

    def __str__(self) -> str:
        other = self.school_class or self.student
        return f"{self.user} / {other} ({self.kind}, {self.ended_at:%Y-%m-%d})"


class RosterImport(models.Model):
    """One run of a roster import: its files, its progress and its report.

    Made by the admin's upload page (run as a background task) and by
    ``manage.py import_roster``. ``report`` is the JSON report of
    :mod:`core.roster.report`; ``progress`` counts records handled out of
    ``total``.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", pgettext_lazy("import status", "done")
        FAILED = "failed", _("failed")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    source = models.CharField(
        _("format"), max_length=20, choices=Sourced.Source.choices, blank=True
    )
    file_names = models.JSONField(_("files"), default=list)
    dry_run = models.BooleanField(_("dry run"), default=False)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    report = models.JSONField(_("report"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("roster import")
        verbose_name_plural = _("roster imports")

    def __str__(self) -> str:
        return f"{self.get_source_display() or '?'} {self.created_at:%Y-%m-%d %H:%M}"
