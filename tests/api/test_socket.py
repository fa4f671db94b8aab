"""The socket for apps: ``Authorization: Bearer <token>`` at the handshake,
without an Origin, through a real uvicorn server and the ``websockets``
client; the browser path (Origin, cookie) is not weakened."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from core.api.models import AccessToken
from core.api.tokens import revoke_token
from core.asgi import application
from core.roster.models import GuardianLink
from tests.api.helpers import token_for
from tests.hub.helpers import TIMEOUT, login
from tests.test_uvicorn_ws import serve

pytestmark = pytest.mark.django_db(transaction=True)
PROTOCOL = "hub.realtime.uvicorn:SlimWebSocketProtocol"


async def recv(socket) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))


async def closed_with(socket) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await recv(socket)
    return closed.value.rcvd.code


def app_socket(url: str, secret: str, **kwargs):
    """An app's socket: no Origin, the token in ``Authorization``."""
    return connect(
        url + "/ws/",
        additional_headers={"Authorization": f"Bearer {secret}"},
        open_timeout=TIMEOUT,
        **kwargs,
    )


async def test_an_app_reads_its_users_streams_with_a_token(school):
    secret = await database_sync_to_async(token_for)(school.parent, ["read"])
    async with serve(PROTOCOL, application) as (_, url):
        async with app_socket(url, secret) as socket:
            hello = await recv(socket)
            assert hello["type"] == "hello"
            assert hello["user"] == school.parent.pk
            assert f"class:{school.class_4b.pk}" in hello["streams"]
            assert f"class:{school.other_class.pk}" in hello["streams"]


@pytest.mark.parametrize("scopes", [None, ["write"]])
async def test_a_token_that_does_not_open_the_socket_closes_it_4401(school, scopes):
    secret = "hub_" + "x" * 43
    if scopes:
        secret = await database_sync_to_async(token_for)(school.parent, scopes)
    async with serve(PROTOCOL, application) as (_, url):
        async with app_socket(url, secret) as socket:
            assert await closed_with(socket) == 4401


async def test_a_revoked_token_closes_its_open_socket(school):
    secret = await database_sync_to_async(token_for)(school.parent, ["read"])
    token = await AccessToken.objects.aget()
    async with serve(PROTOCOL, application) as (_, url):
        async with app_socket(url, secret) as socket:
            assert (await recv(socket))["type"] == "hello"
            await database_sync_to_async(revoke_token)(
                user=school.parent, token_id=token.pk
            )
            frames = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    frames.append(await recv(socket))
            assert closed.value.rcvd.code == 4403
        async with app_socket(url, secret) as socket:
            assert await closed_with(socket) == 4401


async def test_an_ended_guardian_link_ends_the_sockets_view(school):
    secret = await database_sync_to_async(token_for)(school.parent, ["read"])
    await GuardianLink.objects.filter(
        guardian=school.parent, student=school.other_child
    ).adelete()
    async with serve(PROTOCOL, application) as (_, url):
        async with app_socket(url, secret) as socket:
            hello = await recv(socket)
            assert f"class:{school.class_4b.pk}" in hello["streams"]
            assert f"class:{school.other_class.pk}" not in hello["streams"]


async def test_a_cookie_without_origin_is_still_refused(school):
    client = await database_sync_to_async(login)(school.parent)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    async with serve(PROTOCOL, application) as (_, url):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                url + "/ws/",
                additional_headers={
                    "Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"
                },
                open_timeout=TIMEOUT,
            ):
                pass
        assert refused.value.response.status_code == 403


async def test_with_an_origin_the_token_is_not_a_way_in(school):
    """A browser-like handshake (Origin) is judged as a browser's: a foreign
    Origin is refused even with a token, and the page's own Origin without a
    session is 4401 (the token is ignored)."""
    secret = await database_sync_to_async(token_for)(school.parent, ["read"])
    async with serve(PROTOCOL, application) as (_, url):
        with pytest.raises(InvalidStatus) as refused:
            async with app_socket(url, secret, origin="http://evil.example"):
                pass
        assert refused.value.response.status_code == 403
        own = url.replace("ws://", "http://")
        async with app_socket(url, secret, origin=own) as socket:
            assert await closed_with(socket) == 4401


@pytest.mark.parametrize("header", ["Basic a2FyaW06cHc=", "Bearer ", "Bearer"])
async def test_without_origin_only_a_bearer_token_is_heard(school, header):
    async with serve(PROTOCOL, application) as (_, url):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                url + "/ws/",
                additional_headers={"Authorization": header},
                open_timeout=TIMEOUT,
            ):
                pass
        assert refused.value.response.status_code == 403
