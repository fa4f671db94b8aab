"""Database work of sockets, off the event loop (decision 0004)."""

from channels.db import database_sync_to_async
from django.conf import settings


def off_loop(func):
    """Wrap ``func`` (sync, database work) into a coroutine function.

    With a server database (PostgreSQL, through its connection pool) the
    calls run on the event loop's pool of threads, so the handshakes and
    resumes of a reconnect storm overlap their queries (bench S5); with
    SQLite they run on Channels' one thread (``thread_sensitive``), as SQLite
    has one writer at a time. Django's connection handling around each call
    is Channels' (``database_sync_to_async``: stale connections closed before
    and after).
    """
    sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
    return database_sync_to_async(func, thread_sensitive=sqlite)
