"""Fixtures of the hub tests: settings that do not depend on DEBUG, isolated
Redis channels per test, and ``sockets`` (connect personas, close at the end).

The suite runs twice in CI: SQLite without Redis, and PostgreSQL + Redis
(``DATABASE_URL``, ``REDIS_URL``). Nothing here reads the fan-out's
internals, so both pass.
"""

import uuid

import pytest

from tests.hub.helpers import connect_as

ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]


@pytest.fixture(autouse=True)
def hub_settings(settings):
    """Allow the test origins and give every test its own Redis channels.

    The Origin check (:class:`hub.realtime.app.SocketApp`, Channels' rules) reads
    ``ALLOWED_HOSTS`` when ``core.asgi`` is imported, so the list it uses is
    ``core.settings_test``'s (the same three hosts); setting it here keeps
    Django's own host checks in step. On Redis every test gets its own
    ``HUB_CHANNEL_PREFIX`` (it names the fan-out's channels), so
    concurrent runs (and earlier tests) never ring each other's doorbells or
    close each other's sockets.
    """
    settings.ALLOWED_HOSTS = ALLOWED_HOSTS
    settings.HUB_CHANNEL_PREFIX = f"hubtest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def sockets():
    """Return ``connect(user, **options)``; every socket is closed afterwards.

    Closing goes through ``disconnect()``, which re-raises an exception the
    consumer died of, so a crash never passes unnoticed.
    """
    opened = []

    async def connect(user, **options):
        communicator = await connect_as(user, **options)
        opened.append(communicator)
        return communicator

    yield connect
    for communicator in opened:
        await communicator.disconnect(timeout=5)
