"""Sockets' database threads (hub/realtime/threads.py, decision 0004)."""

import threading
import time

import pytest
from django.db import DatabaseError, connection

from hub.realtime.threads import IDLE_RELEASE_SECONDS, SocketThreads


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
    run = threads.calling(backend_pid)
    is_held = threads.calling(held)

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
        await threads.calling(broken)()
    assert not await threads.calling(held)()
    assert (await threads.calling(backend_pid)())[1]


def test_calls_of_sockets_already_in_go_before_new_sockets_sessions():
    threads = SocketThreads(1)
    started, release, order = threading.Event(), threading.Event(), []

    def block():
        started.set()
        release.wait(5)

    threads.submit(block)
    assert started.wait(5)
    done = [
        threads.admit(order.append, "new socket 1"),
        threads.submit(order.append, "resume of a socket in"),
        threads.admit(order.append, "new socket 2"),
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


async def test_calling_runs_in_the_callers_context_and_hands_back_errors():
    import asyncio
    import contextlib
    import contextvars

    threads = SocketThreads(1)
    school = contextvars.ContextVar("school")
    school.set("Collège Victor Hugo")

    def seen(prefix, *, suffix):
        return f"{prefix}{school.get()}{suffix}", threading.current_thread().name

    assert await threads.calling(seen)("« ", suffix=" »") == (
        "« Collège Victor Hugo »",
        "hub-db-0",
    )

    def fails():
        raise LookupError("no such stream")

    with pytest.raises(LookupError, match="no such stream"):
        await threads.calling(fails)()

    # A call still queued when its socket goes (task cancelled) never runs.
    started, release, ran = threading.Event(), threading.Event(), []
    threads.submit(lambda: (started.set(), release.wait(5)))
    assert started.wait(5)
    waiting = asyncio.ensure_future(threads.calling(ran.append)("late"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    await asyncio.sleep(0.01)  # the cancellation reaches the thread's queue
    release.set()
    await threads.calling(ran.append)("next")
    assert ran == ["next"]
