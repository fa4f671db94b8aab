"""Publishing committed events to every process's sockets: one ``PUBLISH``
per stream on Redis (``SPUBLISH`` on a cluster), or in memory without Redis
(ARCHITECTURE.md P1, P4; decision 0002).

After a transaction commits, :func:`ring` publishes each event once per
stream through the process-local fan-out (:mod:`hub.realtime.fanout`). The message
carries the event, so a socket that is up to date forwards it without
touching the database; a socket that sees a gap reads the missing offsets
from the log. A lost or doubled doorbell therefore never loses or doubles an
event for a client.
"""

import json
import logging

# Imported with the module, not on the first socket: a survivor of a
# reconnect storm spent a second importing it while every socket waited for
# the subscription (bench S5).
import redis
from django.conf import settings

from core import metrics
from hub.realtime.loops import _local_fanouts
from hub.streams import Envelope

logger = logging.getLogger(__name__)

_publisher: redis.Redis | redis.RedisCluster | None = None


def channel_prefix() -> str:
    """The Redis channel prefix of streams: ``<HUB_CHANNEL_PREFIX>:s:`` (tests
    isolate with it)."""
    return f"{settings.HUB_CHANNEL_PREFIX}:s:"


def _redis_publisher():
    global _publisher
    if _publisher is None:
        if settings.REDIS_CLUSTER_URL:
            _publisher = redis.RedisCluster.from_url(
                settings.REDIS_CLUSTER_URL, socket_timeout=2, socket_connect_timeout=2
            )
        else:
            _publisher = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
            )
    return _publisher


def publish(frames: list[dict]) -> None:
    """Send ``event`` frames to every process's sockets; never raises.

    Called after the writing transaction committed (from any thread). With
    Redis: one ``PUBLISH`` per frame, in one pipeline round trip (on a Redis
    Cluster ``SPUBLISH``, one round trip per shard). Without:
    handed to every event loop of this process. A failure is logged: the
    events are in the log, and sockets catch up (P1).
    """
    if not frames:
        return
    metrics.EVENTS_PUBLISHED.inc(len(frames))
    texts = [
        (frame["stream"], json.dumps(frame, separators=(",", ":"), ensure_ascii=False))
        for frame in frames
    ]
    if settings.REDIS_URL:
        prefix = channel_prefix()
        _publish_on_redis([(prefix + stream, text) for stream, text in texts], "event")
        return
    for fanout in _local_fanouts():
        for _stream, text in texts:
            fanout.dispatch_threadsafe(text)


def _publish_on_redis(items: list[tuple[str, str]], what: str) -> None:
    """``PUBLISH`` (``SPUBLISH`` on a cluster) each ``(channel, text)`` in one
    pipeline; a failure is logged (``what``: the kind of message), never
    raised."""
    try:
        pipe = _redis_publisher().pipeline(transaction=False)
        send = pipe.spublish if settings.REDIS_CLUSTER_URL else pipe.publish
        for channel, text in items:
            send(channel, text)
        pipe.execute()
    except Exception:
        logger.exception("could not publish %d %s(s) on Redis", len(items), what)


def ring(envelopes: list[Envelope]) -> None:
    """Send each envelope's ``event`` frame to the sockets following its
    stream, in every process (:func:`publish`; P4)."""
    publish([envelope.frame() for envelope in envelopes])
