"""A socket opens only for a session that passed its second factor
(core/twofactor/policy.py, checked by hub.realtime.sessions.load_user from the session
alone)."""

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client

from tests.conftest import totp_device, verify_session
from tests.hub.helpers import receive_close

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def password_session(user, *, verified: bool = False, device: bool = False) -> str:
    """The session cookie of a login by password (then the second factor)."""
    if device:
        totp_device(user)
    client = Client()
    assert client.login(username=user.username, password="pw-" + user.username)
    if verified:
        verify_session(client, user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def test_staff_without_a_second_factor_open_no_socket(school, sockets):
    cookie = await password_session(school.teacher)

    socket = await sockets(None, cookie=cookie, expect_hello=False)

    assert await receive_close(socket) == ([], 4401)


async def test_staff_before_the_second_step_open_no_socket(school, sockets):
    cookie = await password_session(school.cpe, device=True)

    socket = await sockets(None, cookie=cookie, expect_hello=False)

    assert await receive_close(socket) == ([], 4401)


async def test_staff_after_the_second_step_open_their_socket(school, sockets):
    cookie = await password_session(school.cpe, verified=True)

    socket = await sockets(None, cookie=cookie)

    assert socket.hello["type"] == "hello"


async def test_a_family_with_a_second_factor_waits_for_it(school, sockets):
    cookie = await password_session(school.parent, device=True)

    socket = await sockets(None, cookie=cookie, expect_hello=False)

    assert await receive_close(socket) == ([], 4401)


async def test_a_family_without_one_needs_none(school, sockets):
    cookie = await password_session(school.parent)

    socket = await sockets(None, cookie=cookie)

    assert socket.hello["type"] == "hello"


def test_the_check_reads_the_session_alone(school, django_assert_num_queries):
    from core.twofactor.policy import PENDING_SESSION_KEY, session_passed

    with django_assert_num_queries(0):
        assert not session_passed({}, school.teacher)
        assert session_passed({"otp_device_id": "otp_totp.totpdevice/1"}, school.cpe)
        assert session_passed({}, school.parent)
        assert not session_passed({PENDING_SESSION_KEY: True}, school.parent)
