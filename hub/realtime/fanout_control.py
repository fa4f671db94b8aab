"""The control side of a process's fan-out: which local sockets a control
target (``user:<id>``, ``session:<key>``, ``token:<id>``) reaches, and the
recent ``hub.close``/``hub.recheck`` kept for sockets that join late."""

import asyncio
import collections
import contextlib
import json
import logging
from collections.abc import Iterable

from hub.realtime.control import publish_control
from hub.realtime.subscription import Subscription

logger = logging.getLogger(__name__)

# streams) are kept this long (seconds), at most RECENT_CONTROL_MAX of them,
# for sockets joining a target late (LocalFanout.join's ``since``). Longer
# than a session may wait for its database call in a reconnect storm.
RECENT_CONTROL_SECONDS = 120.0
RECENT_CONTROL_MAX = 20_000
LASTING_CONTROL = frozenset({"hub.close", "hub.recheck"})


class ControlTargets(Subscription):
    """Local consumers per control target, fed by the subscription."""

    # Set by LocalFanout.__init__.
    recent: dict[str, list[tuple[float, dict]]]
    recent_order: collections.deque

    # Control targets -------------------------------------------------------

    async def join(
        self,
        consumer,
        targets: Iterable[str],
        timeout: float = 2.0,
        since: float | None = None,
    ) -> None:
        """Deliver control messages to ``targets`` to ``consumer`` from now on.

        With Redis, returns once Redis confirmed the control subscription (at
        once after the process's first socket), so a logout that commits
        after the socket's handshake reaches it; after ``timeout`` seconds
        when Redis is unreachable (the message may then be lost: best effort).

        ``since`` (this loop's ``time()``, seconds): also queue to
        ``consumer`` the ``hub.close`` and ``hub.recheck`` messages of
        ``targets`` that this process received since then (kept for
        :data:`RECENT_CONTROL_SECONDS`). A socket that read its user before
        knowing the user's target passes the time the read started: a
        password change or deactivation committed in between still closes it.
        """
        for target in targets:
            self.addressed.setdefault(target, []).append(consumer)
            if since is not None:
                for received, message in self.recent.get(target, ()):
                    if received >= since:
                        consumer._queue(dict(message))
        if not self.redis or self.control_confirmed:
            return
        waiter = self.loop.create_future()
        self.control_waiting.append(waiter)
        self._wake()
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            logger.warning("no Redis confirmation for the control channel")

    def leave(self, consumer, targets: Iterable[str]) -> None:
        """Stop delivering control messages of ``targets`` to ``consumer``."""
        for target in targets:
            consumers = self.addressed.get(target)
            if consumers is None:
                continue
            with contextlib.suppress(ValueError):
                consumers.remove(consumer)
            if not consumers:
                del self.addressed[target]
        if self.redis and not self.addressed:
            self._wake()

    def deliver_control(self, target: str, message: dict) -> int:
        """Queue ``message`` to each local consumer of ``target``, in its turn;
        return how many. Runs on this fan-out's loop. ``hub.close`` and
        ``hub.recheck`` are also kept a while for late joiners (:meth:`join`)."""
        if message.get("type") in LASTING_CONTROL:
            self._remember(target, message)
        consumers = self.addressed.get(target)
        if not consumers:
            return 0
        for consumer in tuple(consumers):
            try:
                consumer._queue(dict(message))
            except Exception:
                logger.exception("control message to one socket failed")
        return len(consumers)

    def _remember(self, target: str, message: dict) -> None:
        now = self.loop.time()
        self.recent.setdefault(target, []).append((now, message))
        self.recent_order.append((now, target))
        order = self.recent_order
        while order and (
            order[0][0] < now - RECENT_CONTROL_SECONDS
            or len(order) > RECENT_CONTROL_MAX
        ):
            _, oldest = order.popleft()
            kept = self.recent[oldest]
            del kept[0]  # the oldest of its target: appended in time order
            if not kept:
                del self.recent[oldest]

    def control_threadsafe(self, target: str, message: dict) -> None:
        """:meth:`deliver_control` on this fan-out's loop, from any thread."""
        if self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self.deliver_control, target, message)
        except RuntimeError:  # the loop closed meanwhile
            pass

    async def send_control(self, messages: list[tuple[str, dict]]) -> None:
        """:func:`publish_control` from this loop, without blocking it; never
        raises. Without Redis, this process's fan-outs are all there is."""
        if not self.redis:
            publish_control(messages)  # this process's loops, this one included
            return
        # The blocking client's pipeline, on a thread: an unreachable Redis
        # (2 s timeouts) must not stall this loop's sockets.
        await self.loop.run_in_executor(None, publish_control, messages)

    def _on_control(self, data) -> None:
        try:
            control = json.loads(data)
            target, message = control["target"], control["message"]
            if not isinstance(target, str) or not isinstance(message.get("type"), str):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("ignored a malformed control message: %r", data[:200])
            return
        self.deliver_control(target, message)
