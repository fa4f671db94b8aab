"""Helpers of the hub tests: a test event kind, emitting events, real sockets.

Sockets go through ``core.asgi.application`` (Origin check, session auth),
with a session made by logging in with ``django.test.Client``.
"""

from typing import Literal

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client

import hub
from core.asgi import application
from hub.events import HubEvent
from tests.conftest import verify_session

ORIGIN = b"http://127.0.0.1:8000"
HOST = b"127.0.0.1:8000"  # the Host a browser on ORIGIN sends
# Generous: on Redis a doorbell takes a network round trip, and a receive that
# times out cancels the consumer.
TIMEOUT = 5


class Ping(HubEvent):
    """The test event kind: ``{"n": <int>}``."""

    kind = "test.ping"
    op: Literal["ping"]
    n: int


def emit(streams: list[str], n: int = 1) -> list:
    """Send one :class:`Ping` to ``streams`` in its own transaction (sync).

    Returns the envelopes; the doorbells ring when the block commits.
    """
    with transaction.atomic():
        return hub.send_event(streams, Ping(op="ping", n=n))


aemit = database_sync_to_async(emit)


async def ring(frame: dict) -> None:
    """Send one ``event`` frame through the fan-out, as a commit would
    (to simulate doubled, late or out-of-order doorbells)."""
    from hub.realtime.publish import publish

    await database_sync_to_async(publish)([frame])


def login(user, password: str | None = None) -> Client:
    """Log ``user`` in with a test client (password ``"pw-" + username``)."""
    client = Client()
    assert client.login(
        username=user.username, password=password or "pw-" + user.username
    ), f"cannot log in as {user.username}"
    verify_session(client, user)
    return client


async def connect_as(
    user=None,
    *,
    origin: bytes | None = ORIGIN,
    cookie: str | None = None,
    expect_hello: bool = True,
    host: bytes | None = HOST,
    address: str | None = None,
    headers: tuple = (),
) -> WebsocketCommunicator:
    """Open a socket on ``/ws/`` as ``user`` (``None``: no session).

    ``cookie`` reuses a session id instead of logging in. With
    ``expect_hello`` the socket must be accepted and the ``hello`` frame is
    read into ``communicator.hello``. ``communicator.client`` is the logged-in
    test client (to log out) and ``communicator.cookie`` the session id.
    ``address``: the client's IP address in the scope (none by default);
    ``headers``: more headers of the handshake.
    """
    client = None
    if user is not None and cookie is None:
        client = await database_sync_to_async(login)(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    headers = [*headers, *([(b"host", host)] if host is not None else [])]
    if origin is not None:
        headers.append((b"origin", origin))
    if cookie is not None:
        name = settings.SESSION_COOKIE_NAME
        headers.append((b"cookie", f"{name}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    if address is not None:  # the client's address, as a server gives it
        communicator.scope["client"] = (address, 50000)
    communicator.client = client
    communicator.cookie = cookie
    communicator.accepted, _ = await communicator.connect(timeout=TIMEOUT)
    if expect_hello:
        assert communicator.accepted
        communicator.hello = await receive(communicator)
        assert communicator.hello["type"] == "hello"
    return communicator


async def receive(communicator: WebsocketCommunicator) -> dict:
    """Return the next JSON frame the server sent."""
    return await communicator.receive_json_from(timeout=TIMEOUT)


async def request(communicator: WebsocketCommunicator, frame: dict) -> dict:
    """Send ``frame`` and return the next frame received."""
    await communicator.send_json_to(frame)
    return await receive(communicator)


async def receive_close(communicator: WebsocketCommunicator) -> tuple[list, int]:
    """Read frames until the server closes; return ``(frames, close code)``."""
    frames = []
    while True:
        message = await communicator.receive_output(timeout=TIMEOUT)
        if message["type"] == "websocket.close":
            return frames, message.get("code", 1000)
        frames.append(message)


async def assert_silent(communicator: WebsocketCommunicator, seconds: float = 0.3):
    """Assert the server sends nothing for ``seconds``."""
    assert await communicator.receive_nothing(timeout=seconds), (
        await communicator.receive_output()
    )


async def assert_serving(communicator: WebsocketCommunicator) -> None:
    """Assert the socket still answers a ping."""
    assert await request(communicator, {"type": "ping", "id": "alive"}) == {
        "type": "pong",
        "id": "alive",
    }
