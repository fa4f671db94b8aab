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


def reaches(audience: Audience, org_id: int, class_id: int, level: str) -> bool:
    """Whether the audience reaches the class ``class_id`` (of ``org_id``,
    at ``level``): the one rule of :func:`classes`."""
    return org_id == audience.org_id and (
        audience.whole_school
        or class_id in audience.class_ids
        or level in audience.levels
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
        if reaches(
            audience, school_class.org_id, school_class.pk, level_of(school_class.title)
        )
    ]


def members(audience: Audience) -> dict[int, set[int | None]]:
    """``{user id: {class ids}}`` of the audience's active members now.

    The class ids say through which classes each member is reached (a
    guardian: their children's classes; a teacher: the classes taught);
    ``None`` marks a member reached through the school itself (school-life
    staff; teachers linked to the school). Per-class lists ("who has read
    it in 4e B") are built from it. A fixed number of queries.
    """
    return members_of_each([audience])[0]


def members_of_each(audiences: list[Audience]) -> list[dict[int, set[int | None]]]:
    """:func:`members` of each audience, the roster of their schools read
    once (a fixed number of queries, whatever the number of audiences)."""
    org_ids = {audience.org_id for audience in audiences}
    if not org_ids:
        return []
    school_classes = list(
        SchoolClass.objects.filter(org_id__in=org_ids).values_list(
            "pk", "org_id", "title"
        )
    )
    enrolled = list(
        Enrollment.objects.filter(
            school_class__org_id__in=org_ids, user__is_active=True
        ).values_list("user_id", "school_class_id", "role")
    )
    pupil_ids = {
        user_id for user_id, _c, role in enrolled if role == Enrollment.Role.STUDENT
    }
    links = list(
        GuardianLink.objects.filter(
            student_id__in=pupil_ids, guardian__is_active=True
        ).values_list("guardian_id", "student_id")
    )
    staff = list(
        User.objects.filter(
            role__in=[User.Role.TEACHER, User.Role.ADMINISTRATOR],
            orgs__in=org_ids,
            is_active=True,
        ).values_list("pk", "role", "orgs")
    )
    found = []
    for audience in audiences:
        class_ids = {
            pk
            for pk, org_id, title in school_classes
            if reaches(audience, org_id, pk, level_of(title))
        }
        reached: dict[int, set[int | None]] = defaultdict(set)
        classes_of_pupil: dict[int, set[int]] = defaultdict(set)
        for user_id, class_id, role in enrolled:
            if class_id not in class_ids:
                continue
            if role == Enrollment.Role.STUDENT:
                classes_of_pupil[user_id].add(class_id)
                if audience.names(User.Role.STUDENT):
                    reached[user_id].add(class_id)
            elif audience.names(User.Role.TEACHER):
                reached[user_id].add(class_id)
        if audience.names(User.Role.GUARDIAN):
            for guardian_id, student_id in links:
                if student_id in classes_of_pupil:
                    reached[guardian_id].update(classes_of_pupil[student_id])
        for user_id, role, org_id in staff:
            if org_id != audience.org_id or not audience.names(role):
                continue
            if role == User.Role.ADMINISTRATOR or audience.whole_school:
                reached[user_id].add(None)
        found.append(dict(reached))
    return found


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


class AudienceError(ValueError):
    """An audience the rules refuse; ``str(error)`` is a message for the user."""


def check(org_id: int, roles=(), levels=(), class_ids=()) -> Audience:
    """The :class:`Audience` of school ``org_id`` for these roles, levels and
    classes, or :class:`AudienceError` (an unknown role or level, a class
    that is not one of the school's): the one check of what staff submit."""
    try:
        audience = Audience(
            org_id=org_id,
            roles=frozenset(roles or ()),
            levels=frozenset(levels or ()),
            class_ids=frozenset(int(pk) for pk in class_ids or ()),
        )
    except (TypeError, ValueError):
        raise AudienceError(_("Unknown role, level or class.")) from None
    if audience.class_ids:
        known = SchoolClass.objects.filter(
            org_id=org_id, pk__in=audience.class_ids
        ).count()
        if known != len(audience.class_ids):
            raise AudienceError(_("A class of another school cannot be chosen."))
    return audience


@dataclass(frozen=True)
class Standing:
    """What decides a user's membership of any audience, read once
    (:func:`standing_of`): their role, whether they are active, their staff
    orgs and the classes that reach them (``(pk, org id, level)``: a
    pupil's or a teacher's own enrollments in that role, a guardian's
    active children's classes as pupils)."""

    role: str
    active: bool
    org_ids: frozenset[int]
    classes: tuple[tuple[int, int, str], ...]

    def classes_in(self, audience: Audience) -> list[int]:
        """The user's classes that are the audience's (:func:`classes`),
        whatever the roles named."""
        return [
            pk
            for pk, org_id, level in self.classes
            if reaches(audience, org_id, pk, level)
        ]

    def in_classes(self, audience: Audience) -> bool:
        return bool(self.classes_in(audience))

    def admits(self, audience: Audience) -> bool:
        """:func:`includes`, answered from the standing alone."""
        if not self.active or not audience.names(self.role):
            return False
        if self.role == User.Role.ADMINISTRATOR:
            return audience.org_id in self.org_ids
        if (
            self.role == User.Role.TEACHER
            and audience.whole_school
            and audience.org_id in self.org_ids
        ):
            return True
        return self.in_classes(audience)


def standing_of(user: User) -> Standing:
    """Read ``user``'s :class:`Standing` (at most three queries)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Standing(role="", active=False, org_ids=frozenset(), classes=())
    org_ids = frozenset(user.orgs.values_list("pk", flat=True))
    rows: list[tuple[int, int, str]] = []
    if user.role != User.Role.ADMINISTRATOR:
        if user.role == User.Role.GUARDIAN:
            enrolled = Enrollment.objects.filter(
                user__guardians=user,
                role=Enrollment.Role.STUDENT,
                user__is_active=True,
            )
        else:
            role = (
                Enrollment.Role.STUDENT
                if user.role == User.Role.STUDENT
                else Enrollment.Role.TEACHER
            )
            enrolled = Enrollment.objects.filter(user=user, role=role)
        rows = [
            (pk, org_id, level_of(title))
            for pk, org_id, title in enrolled.values_list(
                "school_class_id", "school_class__org_id", "school_class__title"
            ).distinct()
        ]
    return Standing(
        role=user.role, active=True, org_ids=org_ids, classes=tuple(sorted(set(rows)))
    )


def visible(user: User, rows, audience_of=None) -> list:
    """The rows of ``rows`` whose audience includes ``user`` now, in order:
    :func:`includes` for each, with the user's standing read once.
    ``audience_of(row)`` gives a row's audience (default: its ``audience``
    JSON)."""
    rows = list(rows)
    if not rows:
        return []
    audience_of = audience_of or (lambda row: Audience.from_json(row.audience))
    standing = standing_of(user)
    return [row for row in rows if standing.admits(audience_of(row))]
