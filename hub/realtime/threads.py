"""Database work of sockets, off the event loop (decision 0004)."""

import asyncio
import contextvars
import functools
import itertools
import queue
import threading
from concurrent.futures import Executor, Future

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections

# A socket thread idle this long (seconds) hands its connection back to the pool.
IDLE_RELEASE_SECONDS = 0.05

_threads: "SocketThreads | None" = None
_threads_lock = threading.Lock()


@functools.cache
def off_loop(func, admission: bool = False):
    """Wrap ``func`` (sync, database work) into a coroutine function (one
    wrapper per function, made on first use).

    With a server database (PostgreSQL, through its connection pool) the
    calls run on this process's ``HUB_DB_THREADS`` :class:`SocketThreads`, so
    the handshakes and resumes of a reconnect storm overlap their queries
    (bench S5). ``admission``: the call admits a new socket (its session);
    it waits behind the calls of sockets already admitted, so that under a
    storm sockets get through one after the other rather than all at the end.
    With SQLite they run on Channels' one thread (``thread_sensitive``, stale
    connections closed before and after each call), as SQLite has one writer
    at a time.
    """
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return database_sync_to_async(func)
    return socket_threads().calling(func, admission=admission)


def socket_threads() -> "SocketThreads":
    """This process's :class:`SocketThreads` (made on first use)."""
    global _threads
    with _threads_lock:
        if _threads is None:
            _threads = SocketThreads(settings.HUB_DB_THREADS)
    return _threads


class SocketThreads(Executor):
    """``count`` daemon threads for sockets' database calls.

    Calls are served first come first served, except that admissions (new
    sockets' sessions: :meth:`admit`, ``calling(admission=True)``) wait while
    any other call is waiting.

    A thread keeps its database connection from one call to the next while
    calls keep coming, and hands it back to the pool (Django's
    ``close_old_connections``) once it has had nothing to do for
    :data:`IDLE_RELEASE_SECONDS`, or after a call that failed (the
    connection may be broken: the next call takes a checked one). During a reconnect storm a call then costs
    no pool checkout and no health-check round trip (bench S5); at rest no
    thread holds a connection, so a stale one is never used and nothing
    keeps the database busy (a test database can be dropped).
    """

    def __init__(self, count: int) -> None:
        self.calls: queue.PriorityQueue = queue.PriorityQueue()
        self.numbers = itertools.count()
        for number in range(count):
            threading.Thread(
                target=self._serve, name=f"hub-db-{number}", daemon=True
            ).start()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return self._submit(0, fn, args, kwargs)

    def admit(self, fn, /, *args, **kwargs) -> Future:
        """:meth:`submit` through the low-priority door of admissions."""
        return self._submit(1, fn, args, kwargs)

    def calling(self, func, admission: bool = False):
        """``func`` (sync) as a coroutine function whose calls run here, in a
        copy of the caller's context (``contextvars``), as asgiref's
        ``SyncToAsync`` would run them, without its machinery (the
        thread-sensitive mode, the loop bookkeeping for ``async_to_sync``
        inside the call), which doubled the CPU of a call: 120 against 60 us
        per call on this machine. ``admission``: as :meth:`admit`.
        Cancelling the awaiting task cancels a call not started yet; one
        already running finishes and its result is dropped.
        """
        rank = 1 if admission else 0

        @functools.wraps(func)
        async def call(*args, **kwargs):
            context = contextvars.copy_context()
            future = self._submit(rank, context.run, (func, *args), kwargs)
            return await asyncio.wrap_future(future)

        return call

    def _submit(self, rank: int, fn, args, kwargs) -> Future:
        future: Future = Future()
        self.calls.put((rank, next(self.numbers), (future, fn, args, kwargs)))
        return future

    def _serve(self) -> None:
        while True:
            try:
                _rank, _number, call = self.calls.get(timeout=IDLE_RELEASE_SECONDS)
            except queue.Empty:
                close_old_connections()
                _rank, _number, call = self.calls.get()
            future, fn, args, kwargs = call
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:  # handed to the awaiting coroutine
                close_old_connections()
                future.set_exception(error)
            else:
                future.set_result(result)
            del future, fn, args, kwargs, call
