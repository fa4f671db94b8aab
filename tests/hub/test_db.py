"""Sockets' database threads (hub/db.py, decision 0004)."""

import threading
import time

import pytest
from django.db import DatabaseError, connection

from hub.db import IDLE_RELEASE_SECONDS, SocketThreads
from hub.db import _KeepConnection as call


def backend_pid():
    """(thread name, the server process of this thread's connection)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return threading.current_thread().name, cursor.fetchone()[0]


def held():
    return connection.connection is not None


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs a server database (DATABASE_URL=postgres://...)")


@pytest.mark.django_db(transaction=True)
async def test_a_busy_thread_keeps_its_connection_and_an_idle_one_gives_it_back(
    postgres,
):
    threads = SocketThreads(1)
    run = call(backend_pid, thread_sensitive=False, executor=threads)
    is_held = call(held, thread_sensitive=False, executor=threads)

    first, second = await run(), await run()

    assert first[0] == "hub-db-0"
    assert first == second  # no pool checkout between back-to-back calls
    assert await is_held()
    time.sleep(IDLE_RELEASE_SECONDS * 4)
    assert not await is_held()  # back in the pool


@pytest.mark.django_db(transaction=True)
async def test_a_failed_call_gives_its_connection_back_and_the_next_works(postgres):
    threads = SocketThreads(1)

    def broken():
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    with pytest.raises(DatabaseError):
        await call(broken, thread_sensitive=False, executor=threads)()
    assert not await call(held, thread_sensitive=False, executor=threads)()
    assert (await call(backend_pid, thread_sensitive=False, executor=threads)())[1]


def test_calls_of_sockets_already_in_go_before_new_sockets_sessions():
    threads = SocketThreads(1)
    started, release, order = threading.Event(), threading.Event(), []

    def block():
        started.set()
        release.wait(5)

    threads.submit(block)
    assert started.wait(5)
    done = [
        threads.admissions.submit(order.append, "new socket 1"),
        threads.submit(order.append, "resume of a socket in"),
        threads.admissions.submit(order.append, "new socket 2"),
        threads.submit(order.append, "hello of a socket in"),
    ]
    release.set()
    for future in done:
        future.result(5)

    assert order == [
        "resume of a socket in",
        "hello of a socket in",
        "new socket 1",
        "new socket 2",
    ]
