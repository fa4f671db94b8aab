"""The fan-outs of this process, one per event loop: what publishing without
Redis hands events and control messages to, and what the socket gauge counts."""

import asyncio
import threading
import weakref
from typing import TYPE_CHECKING

from core import metrics

if TYPE_CHECKING:
    from hub.realtime.fanout import LocalFanout

_local_lock = threading.Lock()
_fanouts: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LocalFanout]" = (
    weakref.WeakKeyDictionary()
)


def _local_fanouts() -> list["LocalFanout"]:
    with _local_lock:
        return list(_fanouts.values())


def _open_sockets() -> int:
    return sum(len(fanout.connected_sockets) for fanout in _local_fanouts())


# Read at each scrape: nothing to count on a socket's way in or out.
metrics.SOCKETS_OPEN.set_function(_open_sockets)
