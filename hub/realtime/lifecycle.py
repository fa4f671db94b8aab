"""Graceful shutdown of a server process (SIGTERM).

A deploy or a scale-down stops one ASGI process among several. On SIGTERM
the process does not drop its sockets (clients would see 1006 and back off):

1. it starts **draining**: ``/readyz`` answers 503 (a load balancer that
   probes it stops sending it new connections; core/health.py) and a socket
   that still connects is closed at once with 4503;
2. every open socket gets ``{"type": "bye", "reason": "restart"}`` and is
   closed with **4503**, which tells the client to reconnect now (it lands on
   another process) and ``resume`` from its offsets: no gap, no duplicate;
3. once the sockets are gone, or after ``HUB_DRAIN_SECONDS``, the server's
   own SIGTERM handler runs and the process exits. Each socket is told in a
   task of its own, so a client that stopped reading (whose send waits, on
   uvicorn) delays nobody.

:func:`install` runs once per process, from the first socket's event loop,
when ``HUB_DRAIN_SECONDS`` > 0 and in the main thread (not in tests).
"""

import asyncio
import logging
import signal
import threading

from django.conf import settings

logger = logging.getLogger(__name__)

CLOSE_GOING_AWAY = 4503

draining = threading.Event()
_installed = False


def install(loop: asyncio.AbstractEventLoop, sockets) -> bool:
    """Replace SIGTERM's handler with a drain of ``sockets()`` on ``loop``.

    ``sockets`` returns the consumers open in this process. Returns whether
    it was installed (not twice, not outside the main thread, not when
    ``HUB_DRAIN_SECONDS`` is 0).
    """
    global _installed
    if _installed or settings.HUB_DRAIN_SECONDS <= 0:
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        if draining.is_set():
            return
        draining.set()
        loop.call_soon_threadsafe(
            lambda: loop.create_task(_drain(sockets, previous, signum, frame))
        )

    signal.signal(signal.SIGTERM, on_sigterm)
    _installed = True
    return True


async def _drain(sockets, previous, signum, frame) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.HUB_DRAIN_SECONDS
    open_sockets = list(sockets())
    logger.info(
        "SIGTERM: closing %d socket(s) with %d", len(open_sockets), CLOSE_GOING_AWAY
    )
    # One task per socket: on an asyncio server (uvicorn) a send waits while
    # the client does not read, and such a socket must keep neither the
    # others from being told nor the process from stopping on time.
    telling = [loop.create_task(_going_away(c)) for c in open_sockets]
    while any(not c.closed_by_client for c in open_sockets):
        if loop.time() > deadline:
            break
        await asyncio.sleep(0.05)
    for task in telling:
        task.cancel()
    logger.info("drained; stopping")
    if callable(previous):
        previous(signum, frame)
    else:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)


async def _going_away(consumer) -> None:
    try:
        await consumer.going_away()
    except Exception:
        logger.exception("could not close a socket while draining")
