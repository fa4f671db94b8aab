"""The roster in OneRoster 1.2 terms: org, academic session, course, class,
enrollment, and users with one role each (student, teacher, guardian,
administrator). A guardian is linked to one or more students, who may be in
different orgs.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Org(models.Model):
    """A school (OneRoster ``org`` of type ``school``) identified by its UAI."""

    name = models.CharField(_("name"), max_length=200)
    uai = models.CharField(
        _("UAI code"), max_length=8, unique=True, help_text=_("e.g. 0350001A")
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Paris")

    class Meta:
        verbose_name = _("school")
        verbose_name_plural = _("schools")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.uai})"


class AcademicSession(models.Model):
    """A school year or term (OneRoster ``academicSession``); dates inclusive."""

    class Type(models.TextChoices):
        SCHOOL_YEAR = "schoolYear", _("school year")
        TERM = "term", _("term")

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="sessions")
    title = models.CharField(_("title"), max_length=100)
    type = models.CharField(
        max_length=20, choices=Type.choices, default=Type.SCHOOL_YEAR
    )
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))

    class Meta:
        verbose_name = _("academic session")
        verbose_name_plural = _("academic sessions")

    def __str__(self) -> str:
        return self.title


class Course(models.Model):
    """A subject as taught in an org (OneRoster ``course``), e.g. "Allemand LV2"."""

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="courses")
    title = models.CharField(_("title"), max_length=200)
    code = models.CharField(_("code"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("course")
        verbose_name_plural = _("courses")

    def __str__(self) -> str:
        return self.title


class User(AbstractUser):
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
    children = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        through="GuardianLink",
        related_name="guardians",
        verbose_name=_("children"),
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class GuardianLink(models.Model):
    """A guardian's legal responsibility for a student (OneRoster ``agents``)."""

    guardian = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    relationship = models.CharField(_("relationship"), max_length=30, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["guardian", "student"], name="unique_guardian_link"
            )
        ]
        verbose_name = _("guardian link")
        verbose_name_plural = _("guardian links")

    def __str__(self) -> str:
        return f"{self.guardian} → {self.student}"


class SchoolClass(models.Model):
    """A OneRoster ``class``: a homeroom ("4e B") or a scheduled group
    ("4e B Allemand")."""

    class Type(models.TextChoices):
        HOMEROOM = "homeroom", _("homeroom")
        SCHEDULED = "scheduled", _("scheduled group")

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="classes")
    session = models.ForeignKey(
        AcademicSession, on_delete=models.PROTECT, related_name="classes"
    )
    course = models.ForeignKey(
        Course, on_delete=models.SET_NULL, null=True, blank=True, related_name="classes"
    )
    title = models.CharField(_("title"), max_length=200)
    class_type = models.CharField(
        max_length=20, choices=Type.choices, default=Type.HOMEROOM
    )

    class Meta:
        verbose_name = _("class")
        verbose_name_plural = _("classes")
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "session", "title"], name="unique_class_title"
            )
        ]

    def __str__(self) -> str:
        return self.title


class Enrollment(models.Model):
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
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ∈ {self.school_class} ({self.role})"
