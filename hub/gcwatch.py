"""Log garbage collections long enough to stall the event loop.

A full collection walks every object of the process, so its pause grows with
the sockets held (each holds a few hundred objects): every socket and
request of the process waits meanwhile. The hub logs each collection that
took ``HUB_GC_LOG_MS`` milliseconds or more (0 turns it off), so a latency
spike in a benchmark or in production can be told apart from a slow query.
"""

import gc
import logging
import sys
import time

from django.conf import settings

logger = logging.getLogger(__name__)
_started: list[float] = []


def _on_collection(phase: str, info: dict) -> None:
    if phase == "start":
        _started[:] = [time.perf_counter()]
        return
    if not _started:
        return
    ms = (time.perf_counter() - _started.pop()) * 1000
    limit = settings.HUB_GC_LOG_MS
    if 0 < limit <= ms and not sys.is_finalizing():
        logger.warning(
            "garbage collection of generation %d took %.0f ms (%d objects freed)",
            info["generation"],
            ms,
            info["collected"],
        )


def install() -> bool:
    """Start watching collections once per process; ``False`` when off or already on."""
    if settings.HUB_GC_LOG_MS <= 0 or _on_collection in gc.callbacks:
        return False
    gc.callbacks.append(_on_collection)
    return True
