"""Who a school publication is for: one definition of an audience.

A notice, an agenda entry or any other thing staff publish names an
:class:`Audience`: a school (``org_id``), the roles it is for (pupils,
guardians, teachers, school-life staff; none named: all of them) and
optionally the levels ("4e") and classes it is limited to. Its members are
read from the roster as it is now, so a pupil who leaves 4e B, or a
guardian whose link ends, stops being a member at once (and loses what the
audience gave them).

- No level and no class: the whole school: the pupils of its classes,
  their guardians, the teachers of its classes and of its staff links, its
  school-life staff.
- Levels and/or classes: the classes of that level or listed (their
  union), their pupils, those pupils' guardians, their teachers; the
  school-life staff of the school stay members when their role is named
  (staff work for the whole school).

The level of a class is read from its title (:func:`level_of`): French
class names start with it ("4e B", "6ème 2", "2nde 3", "Tle G1"); the
roster sources name divisions that way and carry no separate level.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.roster.models import Enrollment, GuardianLink, SchoolClass, User

ROLES = {
    User.Role.STUDENT: _("pupils"),
    User.Role.GUARDIAN: _("guardians"),
    User.Role.TEACHER: _("teachers"),
    User.Role.ADMINISTRATOR: _("school-life staff"),
}

# Collège and lycée levels: the digit, the suffixes titles write after it
# ("4e", "4ème", "4E2"), and the words for it ("Seconde").
_LEVELS = [
    ("6e", "6", "e|è|ème|eme|ième", ""),
    ("5e", "5", "e|è|ème|eme|ième", ""),
    ("4e", "4", "e|è|ème|eme|ième", ""),
    ("3e", "3", "e|è|ème|eme|ième", ""),
    ("2de", "2", "de|nde|nd|e", "seconde"),
    ("1re", "1", "re|ère|ere|e", "premi[eè]re"),
    ("Tle", "", "", "t|tle|term|terminale"),
]
_END = r"(?=$|[\s\-_./])"


def _pattern(digit: str, suffixes: str, words: str) -> re.Pattern:
    # A suffix may be followed by the division ("4E2", "4eB"), a bare digit
    # or a word only by the end or a separator ("45" is no level).
    parts = []
    if digit:
        parts += [rf"{digit}(?:{suffixes})(?!(?-i:[a-zà-ÿ]))", rf"{digit}{_END}"]
    if words:
        parts.append(rf"(?:{words}){_END}")
    return re.compile("|".join(parts), re.IGNORECASE)


_LEVEL_RE = [(level, _pattern(*spec)) for level, *spec in _LEVELS]
LEVELS = [level for level, *_spec in _LEVELS]


def level_of(title: str) -> str:
    """The level a class title starts with ("4e B" → "4e"), or "" if none."""
    text = title.strip()
    for level, pattern in _LEVEL_RE:
        if pattern.match(text):
            return level
    return ""


def levels_of(classes) -> list[str]:
    """The levels of ``classes`` (a school's: "6e"…"3e" for a collège), in
    the order of :data:`LEVELS`: the choices of the audience forms."""
    found = {level_of(school_class.title) for school_class in classes}
    return [level for level in LEVELS if level in found]


@dataclass(frozen=True)
class Audience:
    """A school, the roles, and optionally the levels and classes it is for."""

    org_id: int
    roles: frozenset[str] = field(default_factory=frozenset)
    levels: frozenset[str] = field(default_factory=frozenset)
    class_ids: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        unknown_roles = set(self.roles) - set(ROLES)
        unknown_levels = set(self.levels) - set(LEVELS)
        if unknown_roles or unknown_levels:
            raise ValueError(
                f"unknown roles {sorted(unknown_roles)} or levels {sorted(unknown_levels)}"
            )

    @property
    def whole_school(self) -> bool:
        return not self.levels and not self.class_ids

    def names(self, role: str) -> bool:
        """Whether the audience is for users of ``role``."""
        return not self.roles or role in self.roles

    def to_json(self) -> dict:
        return {
            "org": self.org_id,
            "roles": sorted(self.roles),
            "levels": sorted(self.levels),
            "classes": sorted(self.class_ids),
        }

    @classmethod
    def from_json(cls, data: dict) -> "Audience":
        return cls(
            org_id=int(data["org"]),
            roles=frozenset(data.get("roles", ())),
            levels=frozenset(data.get("levels", ())),
            class_ids=frozenset(int(pk) for pk in data.get("classes", ())),
        )


def classes(audience: Audience) -> list[SchoolClass]:
    """The classes of the audience's school it reaches, by title: all of
    them for the whole school, else those of its levels or listed."""
    found = SchoolClass.objects.filter(org_id=audience.org_id).order_by("title", "pk")
    if audience.whole_school:
        return list(found)
    return [
        school_class
        for school_class in found
        if school_class.pk in audience.class_ids
        or level_of(school_class.title) in audience.levels
    ]


def members(audience: Audience) -> dict[int, set[int | None]]:
    """``{user id: {class ids}}`` of the audience's active members now.

    The class ids say through which classes each member is reached (a
    guardian: their children's classes; a teacher: the classes taught);
    ``None`` marks a member reached through the school itself (school-life
    staff; teachers linked to the school). Per-class lists ("who has read
    it in 4e B") are built from it. A fixed number of queries.
    """
    class_ids = [school_class.pk for school_class in classes(audience)]
    found: dict[int, set[int | None]] = defaultdict(set)
    enrolled = Enrollment.objects.filter(
        school_class_id__in=class_ids, user__is_active=True
    )
    if audience.names(User.Role.STUDENT) or audience.names(User.Role.GUARDIAN):
        pupils = list(
            enrolled.filter(role=Enrollment.Role.STUDENT).values_list(
                "user_id", "school_class_id"
            )
        )
        if audience.names(User.Role.STUDENT):
            for user_id, class_id in pupils:
                found[user_id].add(class_id)
        if audience.names(User.Role.GUARDIAN):
            classes_of_pupil: dict[int, set[int]] = defaultdict(set)
            for user_id, class_id in pupils:
                classes_of_pupil[user_id].add(class_id)
            for guardian_id, student_id in GuardianLink.objects.filter(
                student_id__in=list(classes_of_pupil), guardian__is_active=True
            ).values_list("guardian_id", "student_id"):
                found[guardian_id].update(classes_of_pupil[student_id])
    if audience.names(User.Role.TEACHER):
        for user_id, class_id in enrolled.filter(
            role=Enrollment.Role.TEACHER
        ).values_list("user_id", "school_class_id"):
            found[user_id].add(class_id)
        if audience.whole_school:
            for user_id in User.objects.filter(
                role=User.Role.TEACHER, orgs=audience.org_id, is_active=True
            ).values_list("pk", flat=True):
                found[user_id].add(None)
    if audience.names(User.Role.ADMINISTRATOR):
        for user_id in User.objects.filter(
            role=User.Role.ADMINISTRATOR, orgs=audience.org_id, is_active=True
        ).values_list("pk", flat=True):
            found[user_id].add(None)
    return dict(found)


def includes(audience: Audience, user: User) -> bool:
    """Whether ``user`` is a member of ``audience`` now (the same rule as
    :func:`members`, for one user: the read check of a page or a socket)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if not audience.names(user.role):
        return False
    if user.role == User.Role.ADMINISTRATOR:
        return user.orgs.filter(pk=audience.org_id).exists()
    if user.role == User.Role.TEACHER and audience.whole_school:
        if user.orgs.filter(pk=audience.org_id).exists():
            return True
    class_ids = [school_class.pk for school_class in classes(audience)]
    if user.role == User.Role.GUARDIAN:
        return Enrollment.objects.filter(
            Q(user__guardians=user),
            school_class_id__in=class_ids,
            role=Enrollment.Role.STUDENT,
            user__is_active=True,
        ).exists()
    role = (
        Enrollment.Role.STUDENT
        if user.role == User.Role.STUDENT
        else Enrollment.Role.TEACHER
    )
    return Enrollment.objects.filter(
        user=user, school_class_id__in=class_ids, role=role
    ).exists()
