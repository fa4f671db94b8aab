"""Ending a session on "Mes appareils" closes that device's open sockets at
once, and only that device's (real sockets through ``core.asgi``)."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client

from core.accounts.models import UserSession
from tests.hub.conftest import hub_settings, sockets  # noqa: F401 (fixtures)
from tests.hub.helpers import assert_serving, receive_close

pytestmark = pytest.mark.django_db(transaction=True)


def browser_login(username: str, agent: str) -> tuple[Client, str]:
    """Log in through the login form; return the client and its session key."""
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR="203.0.113.5")
    response = client.post(
        "/login/", {"username": username, "password": "pw-" + username}
    )
    assert response.status_code == 302
    return client, client.cookies[settings.SESSION_COOKIE_NAME].value


def row_of(session_key: str) -> int:
    return UserSession.objects.get(session_key=session_key).pk


async def test_logging_out_a_device_closes_its_socket_now(school, sockets):  # noqa: F811
    laptop, laptop_key = await database_sync_to_async(browser_login)("karim", "Firefox")
    _, phone_key = await database_sync_to_async(browser_login)("karim", "iPhone")
    phone_socket = await sockets(None, cookie=phone_key)
    laptop_socket = await sockets(None, cookie=laptop_key)
    phone_row = await database_sync_to_async(row_of)(phone_key)

    response = await database_sync_to_async(laptop.post)(
        "/settings/sessions/", {"end": phone_row}
    )
    assert response.status_code == 302

    frames, code = await receive_close(phone_socket)
    assert code == 4403
    assert frames and '"session_ended"' in frames[-1]["text"]
    await assert_serving(laptop_socket)
    # The phone's socket cannot come back: its session is gone (4401).
    again = await sockets(None, cookie=phone_key, expect_hello=False)
    assert (await receive_close(again))[1] == 4401


async def test_log_out_all_other_devices_closes_their_sockets(school, sockets):  # noqa: F811
    laptop, laptop_key = await database_sync_to_async(browser_login)("karim", "Firefox")
    _, phone_key = await database_sync_to_async(browser_login)("karim", "iPhone")
    _, tablet_key = await database_sync_to_async(browser_login)("karim", "iPad")
    _, sophie_key = await database_sync_to_async(browser_login)("sophie", "Firefox")
    others = [await sockets(None, cookie=key) for key in (phone_key, tablet_key)]
    mine = await sockets(None, cookie=laptop_key)
    sophie = await sockets(None, cookie=sophie_key)

    await database_sync_to_async(laptop.post)("/settings/sessions/", {"end": "others"})

    codes = await asyncio.gather(*(receive_close(s) for s in others))
    assert [code for _, code in codes] == [4403, 4403]
    await assert_serving(mine)
    await assert_serving(sophie)
