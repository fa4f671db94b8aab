"""Helpers of the tests that run writers at once (row locks, unique
constraints): they need a server database, SQLite runs one writer at a
time."""

import threading

import pytest
from django.db import connection


def needs_server_database() -> None:
    """Skip the test unless it runs on PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "concurrent writers need a server database: SQLite runs one writer "
            "at a time (run with DATABASE_URL=postgres://)"
        )


def race(jobs) -> list:
    """Run ``jobs`` at once in threads, each on its own connection; return
    their results in order, an exception raised by a job in its place."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(index, job):
        try:
            barrier.wait(10)
            results[index] = job()
        except Exception as error:  # returned to the caller
            results[index] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def race_without_errors(jobs) -> list:
    """:func:`race`, asserting that no job raised."""
    results = race(jobs)
    assert not [r for r in results if isinstance(r, Exception)], results
    return results
