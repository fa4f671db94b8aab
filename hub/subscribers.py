"""Who hears of the events the log appends: the log calls them, never imports them.

Two moments of one :func:`hub.streams.send_event`:

- :func:`in_transaction`: inside the writing transaction, with the event and
  its rows. Delivery queues its task there (an outbox: the task row commits
  or vanishes with the events);
- :func:`on_commit`: after the transaction committed, with the envelopes.
  The realtime server rings the sockets' doorbells there (P1: the database
  first, Redis after).

Subscribers register once, at start-up (their ``AppConfig.ready``: delivery's
and the realtime server's), so the log depends on neither.
"""

from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction

AfterCommit = Callable[[list[Any]], None]
InTransaction = Callable[[Any, list[Any]], None]

_after_commit: list[AfterCommit] = []
_in_transaction: list[InTransaction] = []


def on_commit(subscriber: AfterCommit) -> None:
    """Call ``subscriber(envelopes)`` after each commit that appended events."""
    if subscriber not in _after_commit:
        _after_commit.append(subscriber)


def in_transaction(subscriber: InTransaction) -> None:
    """Call ``subscriber(event, rows)`` in the transaction that appends them."""
    if subscriber not in _in_transaction:
        _in_transaction.append(subscriber)


def appended(event: Any, rows: list[Any], envelopes: list[Any]) -> None:
    """Tell the subscribers: now those in the transaction, on commit the others.

    Registered in the innermost atomic block: a rolled-back savepoint drops
    its doorbells with its rows.
    """
    for subscriber in _after_commit:
        transaction.on_commit(partial(subscriber, envelopes))
    for later in _in_transaction:
        later(event, rows)
