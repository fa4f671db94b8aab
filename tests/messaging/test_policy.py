"""Who may write to whom: a table over every sender × recipient persona.

Each row names a sender and a school and lists everyone that sender may write
to there; every other persona is forbidden. ``may_write`` and
``allowed_recipients`` (what the new-conversation form offers) must both
agree with the table.
"""

import pytest

from core.messaging import policy
from core.messaging.models import MessagingPolicy

# Persona usernames -> attribute of ``tests.conftest.School``.
PERSONAS = {
    "alice": "teacher",  # teaches 4e B
    "paul": "cpe",  # school-life staff
    "karim": "parent",  # Léa (4e B) here, Inès (5e C) in the other school
    "sophie": "other_parent",  # Hugo (4e B)
    "lea": "pupil",  # 4e B
    "hugo": "pupil2",  # 4e B
    "chloe": "pupil3",  # 3e A
    "ines": "other_child",  # the other school's 5e C
    "oscar": "outsider",  # teaches the other school's 5e C
}
SCHOOL = {"org", "other_org"}

# (sender, school) -> recipients, with the school's default policy.
DEFAULT = {
    # Staff and teachers: anyone of their school, nobody elsewhere.
    ("alice", "org"): {"paul", "karim", "sophie", "lea", "hugo", "chloe"},
    ("paul", "org"): {"alice", "karim", "sophie", "lea", "hugo", "chloe"},
    ("oscar", "other_org"): {"karim", "ines"},
    # Guardians: their children's teachers and the staff; no other family,
    # no pupil; in the other school only where they have a child.
    ("karim", "org"): {"alice", "paul"},
    ("karim", "other_org"): {"oscar"},
    ("sophie", "org"): {"alice", "paul"},
    # Pupils: nobody by default.
}
# The same with pupils_may_write_teachers on in both schools: pupils may write
# to their own teachers only (Chloé is not in Alice's class).
PUPILS_WRITE = DEFAULT | {
    ("lea", "org"): {"alice"},
    ("hugo", "org"): {"alice"},
    ("ines", "other_org"): {"oscar"},
}
# guardians_may_write_staff off in the school: guardians reach teachers only.
NO_GUARDIANS_TO_STAFF = DEFAULT | {
    ("karim", "org"): {"alice"},
    ("sophie", "org"): {"alice"},
}
# guardians_may_write_teachers off in the school: guardians reach staff only.
NO_GUARDIANS_TO_TEACHERS = DEFAULT | {
    ("karim", "org"): {"paul"},
    ("sophie", "org"): {"paul"},
}

ROWS = [(sender, where) for sender in PERSONAS for where in sorted(SCHOOL)]


def persona(school, name):
    return getattr(school, PERSONAS[name])


def set_policy(org, **switches) -> None:
    MessagingPolicy.objects.update_or_create(org=org, defaults=switches)


def check_row(school, table, sender_name: str, where: str) -> None:
    sender = persona(school, sender_name)
    org = getattr(school, where)
    expected = table.get((sender_name, where), set())
    allowed = {
        name
        for name in PERSONAS
        if policy.may_write(sender, persona(school, name), org.pk)
    }
    assert allowed == expected, f"{sender_name} in {where}"
    offered = {user.username for user in policy.allowed_recipients(sender, org.pk)}
    assert offered == expected, f"{sender_name} offered in {where}"


@pytest.mark.parametrize(("sender", "where"), ROWS)
def test_default_policy(school, sender, where):
    check_row(school, DEFAULT, sender, where)


@pytest.mark.parametrize(("sender", "where"), ROWS)
def test_pupils_may_write_their_teachers_when_the_school_allows_it(
    school, sender, where
):
    set_policy(school.org, pupils_may_write_teachers=True)
    set_policy(school.other_org, pupils_may_write_teachers=True)

    check_row(school, PUPILS_WRITE, sender, where)


@pytest.mark.parametrize(("sender", "where"), ROWS)
def test_guardians_may_not_write_staff_when_the_school_says_so(school, sender, where):
    set_policy(school.org, guardians_may_write_staff=False)

    check_row(school, NO_GUARDIANS_TO_STAFF, sender, where)


@pytest.mark.parametrize(("sender", "where"), ROWS)
def test_guardians_may_not_write_teachers_when_the_school_says_so(
    school, sender, where
):
    set_policy(school.org, guardians_may_write_teachers=False)

    check_row(school, NO_GUARDIANS_TO_TEACHERS, sender, where)


# The rows the issue spells out, each on its own.


@pytest.mark.parametrize(
    ("sender", "recipient", "where", "allowed"),
    [
        ("karim", "alice", "org", True),  # guardian -> their child's teacher
        ("karim", "sophie", "org", False),  # guardian -> another family
        ("lea", "alice", "org", False),  # pupil, school default
        ("ines", "alice", "org", False),  # pupil of another school
        ("oscar", "karim", "other_org", True),  # they share Inès there
        ("oscar", "karim", "org", False),  # but not across schools
        ("oscar", "alice", "other_org", False),  # Alice is not of that school
        ("alice", "oscar", "org", False),
        ("alice", "chloe", "org", True),  # staff -> anyone in school
        ("paul", "sophie", "org", True),
        ("alice", "ines", "org", False),  # Inès is not of Alice's school
    ],
)
def test_named_rows(school, sender, recipient, where, allowed):
    assert (
        policy.may_write(
            persona(school, sender),
            persona(school, recipient),
            getattr(school, where).pk,
        )
        is allowed
    )


def test_nobody_writes_to_themselves(school):
    assert not policy.may_write(school.teacher, school.teacher, school.org.pk)


def test_nobody_writes_to_or_as_an_inactive_user(school):
    school.other_parent.is_active = False
    school.other_parent.save()

    assert not policy.may_write(school.teacher, school.other_parent, school.org.pk)
    assert not policy.may_write(school.other_parent, school.teacher, school.org.pk)
    assert school.other_parent not in policy.allowed_recipients(
        school.teacher, school.org.pk
    )


def test_a_guardian_loses_the_teacher_when_the_child_leaves_the_class(school):
    school.pupil.enrollments.all().delete()

    assert not policy.may_write(school.parent, school.teacher, school.org.pk)


def test_read_receipts_are_on_by_default_and_a_school_switches_them_off(school):
    assert policy.policy_for(school.org).read_receipts is True

    set_policy(school.org, read_receipts=False)

    assert policy.policy_for(school.org).read_receipts is False
    assert policy.policy_for(school.other_org.pk).read_receipts is True


def test_a_school_without_a_saved_policy_has_the_defaults(school):
    defaults = policy.policy_for(school.org)

    assert defaults.pk is None
    assert defaults.guardians_may_write_teachers
    assert defaults.guardians_may_write_staff
    assert not defaults.pupils_may_write_teachers
