"""hub.realtime.sessions: the socket's session and user, read in plain SQL, with Django's
checks (the sockets' side is in test_consumer.py: 4401 for each refusal)."""

import datetime

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.test import override_settings
from django.utils import timezone

from core.accounts.models import UserSession
from core.roster.models import User
from hub.realtime.sessions import load_user, session_store, session_user, user_by_pk
from tests.hub.helpers import login

pytestmark = pytest.mark.django_db


def fields_of(user) -> list:
    return [(f.attname, getattr(user, f.attname)) for f in User._meta.concrete_fields]


def test_user_by_pk_is_what_the_orm_returns_for_every_user(school):
    school.teacher.last_login = timezone.now() - datetime.timedelta(days=3)
    school.teacher.save()
    users = list(User.objects.order_by("pk"))
    assert len(users) >= 9
    for expected in users:
        user = user_by_pk(expected.pk)
        assert type(user) is User
        assert fields_of(user) == fields_of(expected)
        # Same Python types (datetimes aware, booleans not 0/1 on SQLite).
        assert [type(v) for _, v in fields_of(user)] == [
            type(v) for _, v in fields_of(expected)
        ]
        assert not user._state.adding and user._state.db == "default"
        assert user.get_session_auth_hash() == expected.get_session_auth_hash()
    assert user_by_pk(max(u.pk for u in users) + 1) is None


def session_of(user) -> "object":
    cookie = login(user).cookies[settings.SESSION_COOKIE_NAME].value
    return session_store()(cookie)


def test_a_logged_in_session_gives_its_user(school):
    session = session_of(school.parent)
    assert session_user(session) == school.parent
    assert load_user(session.session_key) == (school.parent, session.session_key)


def test_an_inactive_user_is_nobody(school):
    session = session_of(school.pupil)
    User.objects.filter(pk=school.pupil.pk).update(is_active=False)
    assert session_user(session) is None
    assert load_user(session.session_key)[0].is_anonymous


def test_a_changed_password_flushes_the_session(school):
    session = session_of(school.teacher)
    key = session.session_key
    school.teacher.set_password("a new one, long enough")
    school.teacher.save()
    assert session_user(session) is None
    # As Django and Channels do: the session is gone from the store.
    assert not session_store()().exists(key)


@pytest.mark.parametrize(
    "change",
    [
        {SESSION_KEY: "not a number"},
        {SESSION_KEY: None},
        {BACKEND_SESSION_KEY: "some.other.Backend"},
        {HASH_SESSION_KEY: ""},
    ],
    ids=["garbage-user-id", "no-user-id", "unknown-backend", "no-hash"],
)
def test_a_session_that_does_not_name_a_valid_login_is_nobody(school, change):
    session = session_of(school.cpe)
    for key, value in change.items():
        if value is None:
            del session[key]
        else:
            session[key] = value
    session.save()
    assert session_user(session_store()(session.session_key)) is None


class FilteringBackend(ModelBackend):
    """A backend with its own lookup: called as is, not replaced."""

    looked_up: list = []

    def get_user(self, user_id):
        self.looked_up.append(user_id)
        return super().get_user(user_id)


def test_another_backends_own_lookup_is_used(school):
    path = f"{__name__}.FilteringBackend"
    with override_settings(AUTHENTICATION_BACKENDS=[path]):
        session = session_of(school.parent)
        assert session[BACKEND_SESSION_KEY] == path
        assert session_user(session) == school.parent
    assert FilteringBackend.looked_up == [school.parent.pk]


def test_the_session_and_its_user_are_one_query(school, django_assert_num_queries):
    # The login wrote the row that says whose the session is
    # (core.accounts.sessions.record_login): read with the session's.
    key = session_of(school.parent).session_key
    with django_assert_num_queries(1):
        user = session_user(session_store()(key))
    assert user == school.parent
    assert fields_of(user) == fields_of(User.objects.get(pk=school.parent.pk))
    with django_assert_num_queries(1):
        assert load_user(key) == (school.parent, key)


def test_a_session_without_an_owner_row_reads_its_user_alone(
    school, django_assert_num_queries
):
    key = session_of(school.parent).session_key
    UserSession.objects.filter(session_key=key).delete()
    with django_assert_num_queries(2):
        assert session_user(session_store()(key)) == school.parent


def test_an_owner_row_of_another_user_is_not_taken(school, django_assert_num_queries):
    # The session's own user id decides; the row is only a shortcut.
    key = session_of(school.parent).session_key
    UserSession.objects.filter(session_key=key).update(user=school.teacher)
    with django_assert_num_queries(2):
        assert session_user(session_store()(key)) == school.parent
    assert load_user(key) == (school.parent, key)


def test_an_inactive_owner_is_nobody(school):
    key = session_of(school.pupil).session_key
    assert UserSession.objects.filter(session_key=key, user=school.pupil).exists()
    User.objects.filter(pk=school.pupil.pk).update(is_active=False)
    assert session_user(session_store()(key)) is None
