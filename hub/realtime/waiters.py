"""A lighter ``asyncio.Queue`` and ``asyncio.Event`` for each socket: no deque
kept while nobody waits (:class:`hub.realtime.uvicorn.SlimWebSocketProtocol`,
its point 1: 3.6 kB less per idle socket than uvicorn's pair)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["SlimEvent", "SlimQueue"]


class SlimQueue:
    """What uvicorn uses of ``asyncio.Queue`` (unbounded), without its deques.

    FIFO; ``get()`` waits on a future created only while the queue is empty.
    Built for one reader (the app's ``receive()``); more readers are served
    in turn as by ``asyncio.Queue`` (each item goes to one of them, the
    earliest waiting first).
    """

    __slots__ = ("_items", "_head", "_getters")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._head = 0  # index of the next item in _items
        self._getters: list[asyncio.Future[None]] | None = None  # waiting get()s

    def qsize(self) -> int:
        return len(self._items) - self._head

    def empty(self) -> bool:
        return self._head >= len(self._items)

    def full(self) -> bool:
        return False

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake_next()

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        if self.empty():
            raise asyncio.QueueEmpty
        items, head = self._items, self._head
        item = items[head]
        if head + 1 >= len(items):
            items.clear()  # frees the list's array, too
            self._head = 0
        else:
            items[head] = None
            self._head = head + 1
        return item

    async def get(self) -> Any:
        while self.empty():
            getter = asyncio.get_running_loop().create_future()
            self._getters = _with(self._getters, getter)
            try:
                await getter
            except BaseException:
                getter.cancel()  # in case it is not done yet
                self._getters = _without(self._getters, getter)
                if not self.empty() and not getter.cancelled():
                    # Woken for an item, then cancelled: pass the item on.
                    self._wake_next()
                raise
        return self.get_nowait()

    def _wake_next(self) -> None:
        while self._getters:
            getter = self._getters[0]
            self._getters = _without(self._getters, getter)
            if not getter.done():
                getter.set_result(None)
                return


def _with(waiters: list | None, waiter) -> list:
    """``waiters`` (a list made on first use) with ``waiter`` appended."""
    if waiters is None:
        return [waiter]
    waiters.append(waiter)
    return waiters


def _without(waiters: list | None, waiter) -> list | None:
    """``waiters`` without ``waiter``; ``None`` once empty (no list kept)."""
    if waiters is not None:
        with contextlib.suppress(ValueError):
            waiters.remove(waiter)
        if not waiters:
            return None
    return waiters


class SlimEvent:
    """``asyncio.Event`` without its deque: futures only while someone waits.

    Same semantics: ``set()`` wakes every waiter, and a woken ``wait()``
    returns ``True`` even if ``clear()`` came before it ran.
    """

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[bool]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if not self._value:
            self._value = True
            waiters, self._waiters = self._waiters, None
            for waiter in waiters or ():
                if not waiter.done():
                    waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters = _with(self._waiters, waiter)
        try:
            await waiter
            return True
        finally:
            self._waiters = _without(self._waiters, waiter)
