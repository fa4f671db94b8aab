"""The audience of a publication: who is a member, read from the roster now."""

import pytest

from core.roster.audience import (
    Audience,
    AudienceError,
    check,
    includes,
    level_of,
    members,
    members_of_each,
    standing_of,
    visible,
)
from core.roster.models import Enrollment, GuardianLink, SchoolClass, User
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("4e B", "4e"),
        ("4E2", "4e"),
        ("6ème 2", "6e"),
        ("5eme-A", "5e"),
        ("3e A", "3e"),
        ("2nde 3", "2de"),
        ("Seconde 1", "2de"),
        ("1re G2", "1re"),
        ("1ère STMG", "1re"),
        ("Tle G1", "Tle"),
        ("Terminale 4", "Tle"),
        ("4e B Allemand", "4e"),
        ("ULIS", ""),
        ("45", ""),
        ("Atelier théâtre", ""),
        ("", ""),
    ],
)
def test_level_of_a_class_title(title, level):
    assert level_of(title) == level


def test_unknown_roles_and_levels_are_refused():
    with pytest.raises(ValueError):
        Audience(org_id=1, roles=frozenset({"parent"}))
    with pytest.raises(ValueError):
        Audience(org_id=1, levels=frozenset({"CM2"}))


def test_json_round_trip():
    audience = Audience(
        org_id=3,
        roles=frozenset({"guardian"}),
        levels=frozenset({"4e"}),
        class_ids=frozenset({7}),
    )
    assert Audience.from_json(audience.to_json()) == audience


def everyone():
    return list(User.objects.all())


def check_includes_matches(audience):
    """``includes`` gives the same answer as ``members`` for every user, and
    so does the batched ``visible``."""
    found = members(audience)
    for user in everyone():
        assert includes(audience, user) == (user.pk in found), user.username
        assert visible(user, [audience], lambda a: a) == (
            [audience] if user.pk in found else []
        ), user.username
    return found


def test_guardians_of_a_level_reach_exactly_them(school):
    audience = Audience(
        org_id=school.org.pk,
        roles=frozenset({"guardian"}),
        levels=frozenset({"4e"}),
    )
    found = check_includes_matches(audience)
    # Karim (Léa in 4e B) and Sophie (Hugo in 4e B); not Chloé's 3e A, not
    # the other school.
    assert set(found) == {school.parent.pk, school.other_parent.pk}
    assert found[school.parent.pk] == {school.class_4b.pk}


def test_whole_school_reaches_every_role_of_that_school_only(school):
    found = check_includes_matches(Audience(org_id=school.org.pk))
    assert set(found) == {
        school.teacher.pk,
        school.pupil.pk,
        school.pupil2.pk,
        school.pupil3.pk,
        school.parent.pk,
        school.other_parent.pk,
        school.cpe.pk,
    }
    assert found[school.cpe.pk] == {None}
    other = check_includes_matches(Audience(org_id=school.other_org.pk))
    # Karim is a family of both schools.
    assert set(other) == {
        school.other_child.pk,
        school.parent.pk,
        school.outsider.pk,
    }


def test_a_class_and_roles(school):
    audience = Audience(
        org_id=school.org.pk,
        roles=frozenset({"student", "teacher", "administrator"}),
        class_ids=frozenset({school.class_3a.pk}),
    )
    found = check_includes_matches(audience)
    assert set(found) == {school.pupil3.pk, school.cpe.pk}


def test_a_class_of_another_school_reaches_nobody_through_this_school(school):
    audience = Audience(
        org_id=school.org.pk, class_ids=frozenset({school.other_class.pk})
    )
    found = check_includes_matches(audience)
    assert set(found) == {school.cpe.pk}


def test_membership_follows_the_roster_now(school):
    audience = Audience(
        org_id=school.org.pk,
        roles=frozenset({"guardian", "student"}),
        levels=frozenset({"4e"}),
    )
    assert includes(audience, school.parent)
    GuardianLink.objects.filter(guardian=school.parent, student=school.pupil).delete()
    assert not includes(audience, school.parent)
    assert school.parent.pk not in check_includes_matches(audience)
    Enrollment.objects.filter(user=school.pupil2).delete()
    assert not includes(audience, school.pupil2)
    assert not includes(audience, school.other_parent)
    late = make_user("zoe", User.Role.STUDENT, "Zoë", "Martin")
    class_4c = SchoolClass.objects.create(
        org=school.org, session=school.session, title="4e C"
    )
    Enrollment.objects.create(user=late, school_class=class_4c, role="student")
    assert includes(audience, late)
    late.is_active = False
    late.save()
    assert not includes(audience, late)
    assert late.pk not in members(audience)


def test_members_takes_a_fixed_number_of_queries(school, django_assert_max_num_queries):
    audience = Audience(org_id=school.org.pk)
    with django_assert_max_num_queries(6):
        members(audience)


@pytest.mark.parametrize(("title", "level"), [("4eB", "4e"), ("4emes", "")])
def test_level_of_more_titles(title, level):
    assert level_of(title) == level


def several_audiences(school) -> list[Audience]:
    org, other = school.org.pk, school.other_org.pk
    return [
        Audience(org_id=org),
        Audience(org_id=other),
        Audience(org_id=org, roles=frozenset({"guardian"})),
        Audience(org_id=org, roles=frozenset({"guardian"}), levels=frozenset({"4e"})),
        Audience(org_id=org, roles=frozenset({"teacher"})),
        Audience(org_id=other, roles=frozenset({"teacher", "guardian"})),
        Audience(org_id=org, levels=frozenset({"3e"})),
        Audience(org_id=org, class_ids=frozenset({school.class_4b.pk})),
        Audience(org_id=org, class_ids=frozenset({school.other_class.pk})),
        Audience(org_id=other, levels=frozenset({"5e"}), roles=frozenset({"student"})),
        Audience(org_id=org, roles=frozenset({"administrator"})),
        Audience(
            org_id=org,
            roles=frozenset({"student", "teacher"}),
            levels=frozenset({"4e"}),
        ),
    ]


def test_visible_agrees_with_includes_for_every_user_and_audience(school):
    """The batched helper gives, for each user of both schools (Karim is a
    family of both), exactly ``includes``'s answer for each audience; and
    ``members_of_each`` reads them all as ``members`` does one by one."""
    # An inactive pupil and an inactive guardian reach nothing.
    gone = make_user("max", User.Role.STUDENT, "Max", "Petit", is_active=False)
    Enrollment.objects.create(user=gone, school_class=school.class_3a, role="student")
    GuardianLink.objects.create(
        guardian=school.other_parent, student=gone, relationship="mère"
    )
    audiences = several_audiences(school)
    each = members_of_each(audiences)
    for user in everyone():
        expected = [includes(audience, user) for audience in audiences]
        kept = visible(user, list(enumerate(audiences)), lambda pair: pair[1])
        assert [index for index, _a in kept] == [
            index for index, yes in enumerate(expected) if yes
        ], user.username
        assert [user.pk in found for found in each] == expected, user.username
    assert [set(found) for found in each] == [set(members(a)) for a in audiences]


def test_a_users_standing_is_read_in_a_fixed_number_of_queries(
    school, django_assert_max_num_queries
):
    for user in (school.parent, school.pupil, school.teacher, school.cpe):
        with django_assert_max_num_queries(2):
            standing_of(user)
    audiences = several_audiences(school) * 10
    with django_assert_max_num_queries(2):
        visible(school.parent, audiences, lambda a: a)
    with django_assert_max_num_queries(4):
        members_of_each(audiences)


def test_check_refuses_unknown_values_and_another_schools_class(school):
    audience = check(school.org.pk, ["guardian"], ["4e"], [str(school.class_4b.pk)])
    assert audience == Audience(
        org_id=school.org.pk,
        roles=frozenset({"guardian"}),
        levels=frozenset({"4e"}),
        class_ids=frozenset({school.class_4b.pk}),
    )
    for bad in (
        {"roles": ["janitor"]},
        {"levels": ["CM2"]},
        {"class_ids": ["x"]},
        {"class_ids": [school.other_class.pk]},
        {"class_ids": [999999]},
    ):
        with pytest.raises(AudienceError):
            check(school.org.pk, **bad)
