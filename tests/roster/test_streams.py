"""Who may read which stream (ARCHITECTURE.md P3), persona by persona."""

import pytest
from django.contrib.auth.models import AnonymousUser

from core.roster.streams import can_read_stream, readable_streams, readers_of

# Streams named after the school fixture: (scope, attribute of ``school``).
# Attributes that are not on ``school`` are literal ids or raw names.
STREAMS = {
    "own user": ("user", "self"),
    "a classmate's user": ("user", "pupil2"),
    "a child's user": ("user", "other_child"),
    "class 4e B": ("class", "class_4b"),
    "class 3e A": ("class", "class_3a"),
    "class of other school": ("class", "other_class"),
    "org": ("org", "org"),
    "other org": ("org", "other_org"),
    "nonexistent user": ("user", 999_999),
    "nonexistent class": ("class", 999_999),
    "nonexistent org": ("org", 999_999),
    "malformed: no id": ("raw", "class:"),
    "malformed: leading zero": ("raw", "class:01"),
    "malformed: newline": ("raw", "org:{org}\n"),
    "malformed: unknown scope": ("raw", "school:{org}"),
    "malformed: not a string": ("raw", None),
}

# What each persona may read; every other stream above is refused.
READABLE = {
    "teacher": {"own user", "class 4e B", "org"},
    "pupil": {"own user", "class 4e B", "org"},
    "parent": {"own user", "class 4e B", "class of other school", "org", "other org"},
    "other_parent": {"own user", "class 4e B", "org"},
    "cpe": {"own user", "class 4e B", "class 3e A", "org"},
    "outsider": {"own user", "class of other school", "other org"},
    "inactive": set(),
    "anonymous": set(),
}


def persona(school, name: str):
    if name == "anonymous":
        return AnonymousUser()
    if name == "inactive":
        user = school.pupil3
        user.is_active = False
        user.save()
        return user
    return getattr(school, name)


def stream_name(school, user, scope: str, ref) -> str | None:
    if scope == "raw":
        return ref.format(org=school.org.pk) if isinstance(ref, str) else ref
    if ref == "self":
        return f"user:{user.pk or 424242}"
    pk = ref if isinstance(ref, int) else getattr(school, ref).pk
    return f"{scope}:{pk}"


@pytest.mark.parametrize("name", sorted(READABLE))
@pytest.mark.django_db
def test_can_read_stream(school, name):
    user = persona(school, name)

    answers = {
        label: can_read_stream(user, stream_name(school, user, scope, ref))
        for label, (scope, ref) in STREAMS.items()
    }

    assert {label for label, allowed in answers.items() if allowed} == READABLE[name]


@pytest.mark.parametrize("name", sorted(set(READABLE) - {"inactive", "anonymous"}))
@pytest.mark.django_db
def test_readable_streams_lists_exactly_what_can_be_read(school, name):
    user = persona(school, name)
    expected = {stream_name(school, user, *STREAMS[label]) for label in READABLE[name]}

    streams = readable_streams(user)

    assert streams[0] == f"user:{user.pk}"
    assert set(streams) == expected
    assert len(streams) == len(expected)


@pytest.mark.django_db
def test_parent_of_two_children_in_two_schools_follows_both(school):
    streams = set(readable_streams(school.parent))

    assert {
        f"class:{school.class_4b.pk}",
        f"class:{school.other_class.pk}",
        f"org:{school.org.pk}",
        f"org:{school.other_org.pk}",
    } <= streams


@pytest.mark.django_db
def test_parent_cannot_read_own_childs_personal_stream(school):
    # Events about a child go to the guardians' own streams, not the child's.
    assert not can_read_stream(school.parent, f"user:{school.pupil.pk}")


@pytest.mark.django_db
def test_guardian_loses_the_class_when_the_link_goes(school):
    from core.roster.models import GuardianLink

    GuardianLink.objects.filter(
        guardian=school.parent, student=school.other_child
    ).delete()

    assert not can_read_stream(school.parent, f"class:{school.other_class.pk}")
    assert not can_read_stream(school.parent, f"org:{school.other_org.pk}")
    assert can_read_stream(school.parent, f"class:{school.class_4b.pk}")


@pytest.mark.django_db
def test_readable_streams_agrees_with_the_roster_rules_for_every_user(school):
    # readable_streams is plain SQL (bench S5); classes_of and orgs_of are the
    # rules. A staff member also enrolled as a teacher takes both paths.
    from core.roster.access import classes_of, orgs_of
    from core.roster.models import Enrollment, User

    Enrollment.objects.create(
        user=school.cpe, school_class=school.other_class, role="teacher"
    )
    school.teacher.orgs.add(school.other_org)
    for user in User.objects.all():
        expected = [f"user:{user.pk}"]
        expected += [f"class:{c.pk}" for c in classes_of(user).order_by("title", "pk")]
        expected += [
            f"org:{pk}"
            for pk in orgs_of(user).order_by("pk").values_list("pk", flat=True)
        ]

        assert readable_streams(user) == expected, user.username


@pytest.mark.django_db
def test_readers_of_is_the_inverse_of_readable_streams(school):
    # Delivery asks readers_of (stream -> users), sockets readable_streams
    # (user -> streams): the same rule both ways, for every stream of the
    # school. A staff member also enrolled as a teacher takes both paths.
    from core.roster.models import Enrollment, User

    Enrollment.objects.create(
        user=school.cpe, school_class=school.other_class, role="teacher"
    )
    school.pupil3.is_active = False
    school.pupil3.save()
    users = list(User.objects.all())
    readable = {
        user.pk: set(readable_streams(user)) for user in users if user.is_active
    }
    streams = set().union(*readable.values()) | {
        f"user:{school.pupil3.pk}",
        f"class:{school.class_3a.pk}",
        "class:999999",
        "org:01",
    }

    for stream in sorted(streams):
        expected = {pk for pk, names in readable.items() if stream in names}

        assert {user.pk for user in readers_of(stream)} == expected, stream
