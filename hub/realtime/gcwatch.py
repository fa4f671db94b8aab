"""Garbage collection in a server process: log the long pauses, make them rarer.

A full collection walks every object of the process, so its pause grows with
the sockets held (each holds a few hundred objects): every socket and
request of the process waits meanwhile (bench S3 saw 0.6-1.2 s pauses in
processes holding 5,000 sockets). The hub logs each collection that took
``HUB_GC_LOG_MS`` milliseconds or more (0 turns it off), so a latency spike
in a benchmark or in production can be told apart from a slow query.

:func:`settle` is called once the server's code is loaded (``core/asgi.py``):
it moves what is loaded so far (modules, classes, URL patterns: about
125,000 objects) out of the collector's sight (``gc.freeze``) and raises the
youngest generation's threshold (``HUB_GC_THRESHOLD``), so fewer short-lived
objects of requests and frames survive into the old generation, whose growth
is what triggers full collections.
"""

import gc
import logging
import sys
import time

from django.conf import settings

logger = logging.getLogger(__name__)
_started: list[float] = []
_asked = False


def _on_collection(phase: str, info: dict) -> None:
    if phase == "start":
        _started[:] = [time.perf_counter()]
        return
    if not _started:
        return
    ms = (time.perf_counter() - _started.pop()) * 1000
    limit = settings.HUB_GC_LOG_MS
    if 0 < limit <= ms and not _asked and not sys.is_finalizing():
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


def settle() -> None:
    """Freeze the objects loaded so far and raise generation 0's threshold.

    Call once per server process, after the application is imported. The
    frozen objects are never collected: only what lives as long as the
    process (code, settings, URL patterns) may be loaded before it.
    """
    global _asked
    _asked = True  # this collection is asked for, not a stall: not logged
    try:
        gc.collect()
    finally:
        _asked = False
    gc.freeze()
    threshold = settings.HUB_GC_THRESHOLD
    if threshold > 0:
        _young, middle, old = gc.get_threshold()
        gc.set_threshold(threshold, middle, old)
