"""Database work of sockets, off the event loop (decision 0004)."""

from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async
from django.conf import settings

_threads: ThreadPoolExecutor | None = None


def off_loop(func):
    """Wrap ``func`` (sync, database work) into a coroutine function.

    With a server database (PostgreSQL, through its connection pool) the
    calls run on this process's ``HUB_DB_THREADS`` threads, so the handshakes
    and resumes of a reconnect storm overlap their queries (bench S5); each
    thread holds at most one pooled connection, only during a call. With
    SQLite they run on Channels' one thread (``thread_sensitive``), as SQLite
    has one writer at a time. Django's connection handling around each call
    is Channels' (``database_sync_to_async``: stale connections closed before
    and after).
    """
    global _threads
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return database_sync_to_async(func)
    if _threads is None:
        _threads = ThreadPoolExecutor(
            settings.HUB_DB_THREADS, thread_name_prefix="hub-db"
        )
    return database_sync_to_async(func, thread_sensitive=False, executor=_threads)
