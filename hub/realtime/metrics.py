"""Prometheus metrics of the realtime server: sockets, publishing, fan-out,
replay (prometheus-client's default registry, served with the others by
:class:`core.metrics.MetricsApp`; docs/operations.md)."""

import datetime as dt
import time

from prometheus_client import Counter, Gauge, Histogram

SOCKETS_OPEN = Gauge("hub_sockets_open", "WebSocket connections open on this process.")
EVENTS_PUBLISHED = Counter(
    "hub_events_published",
    "Event frames this process published to the fan-out (one per stream), "
    "after their transaction committed.",
)
EVENTS_DELIVERED = Counter(
    "hub_events_delivered",
    "Event frames handed to sockets of this process: live (by the fan-out) "
    "or read from the log (replays, gap fills).",
    ["path"],
)
DELIVERED_LIVE = EVENTS_DELIVERED.labels("live")
DELIVERED_FROM_LOG = EVENTS_DELIVERED.labels("log")
FANOUT_LAG = Histogram(
    "hub_fanout_lag_seconds",
    "From an event's time in the log (written in its transaction, just "
    "before the commit) to its hand-over to this process's sockets.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RESUMES = Counter("hub_socket_resumes", "resume frames received from clients.")
RESETS = Counter(
    "hub_stream_resets",
    "reset frames sent: a socket could not be caught up from the log.",
    ["reason"],
)
SLOW_CLOSES = Counter(
    "hub_sockets_closed_slow",
    "Sockets closed with 4408: their unsent bytes passed HUB_SEND_BUFFER_BYTES.",
)

# Every reason known in advance starts at 0, so a rate over it means
# something from the first scrape.
for _reason in ("too_far_behind", "retention", "epoch", "future"):
    RESETS.labels(_reason)


def observe_lag(ts: str) -> None:
    """Observe one event's fan-out lag from its ``ts`` (ISO 8601)."""
    try:
        FANOUT_LAG.observe(time.time() - dt.datetime.fromisoformat(ts).timestamp())
    except (TypeError, ValueError):
        pass
