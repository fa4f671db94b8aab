"""Health probes for compose, load balancers and the topology script.

``GET /healthz``: the process's dependencies answer. 200
``{"status": "ok", "checks": {"database": "ok", "redis": "ok"}}``, else 503
with the one that failed marked ``"failed"`` (``redis`` is checked only when
``REDIS_URL`` is set: the embedded default has no Redis; ``redis_cluster``,
its masters, only when ``REDIS_CLUSTER_URL`` is).

``GET /readyz``: the same checks, and 503 ``"draining"`` once the process has
had SIGTERM (:mod:`hub.realtime.lifecycle`): it should get no new connections. This is
what compose's healthcheck asks (README, "Production").

:class:`HealthMiddleware` is the first middleware: it answers these two paths
before anything reads the ``Host`` header (``request.get_host()``, the HTTPS
redirect), so a probe on ``127.0.0.1:8000`` is answered whatever
``ALLOWED_HOSTS`` holds; every other path is validated as before.
"""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 2


def _database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:
        # One line per failed probe (every few seconds per process while the
        # outage lasts), not a traceback each time.
        logger.warning("health: the database does not answer: %r", error)
        return False
    return True


def _redis() -> bool:
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        return bool(client.ping())
    except redis.RedisError as error:
        logger.warning("health: Redis does not answer: %r", error)
        return False
    finally:
        client.close()


def _redis_cluster() -> bool:
    """Every master serving slots answers: each shard can publish (README,
    Redis Cluster). A lost replica, or a master its replica has replaced,
    fails no probe: the cluster still carries every event."""
    import redis
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisClusterException
    from redis.retry import Retry

    client = None
    try:
        client = redis.RedisCluster.from_url(
            settings.REDIS_CLUSTER_URL,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        return bool(client.ping(target_nodes=redis.RedisCluster.PRIMARIES))
    except (redis.RedisError, RedisClusterException) as error:
        logger.warning("health: the Redis Cluster does not answer: %r", error)
        return False
    finally:
        if client is not None:
            client.close()


def _checks() -> dict[str, bool]:
    checks = {"database": _database()}
    if settings.REDIS_URL:
        checks["redis"] = _redis()
    if settings.REDIS_CLUSTER_URL:
        checks["redis_cluster"] = _redis_cluster()
    return checks


def _answer(checks: dict[str, bool], status: str | None = None) -> JsonResponse:
    healthy = all(checks.values())
    body = {
        "status": status or ("ok" if healthy else "unavailable"),
        "checks": {name: "ok" if ok else "failed" for name, ok in checks.items()},
    }
    return JsonResponse(body, status=200 if healthy and status is None else 503)


def healthz(request) -> JsonResponse:
    """200 when the database (and Redis, if configured) answer, else 503."""
    return _answer(_checks())


def readyz(request) -> JsonResponse:
    """As :func:`healthz`, and 503 ``draining`` while the process drains."""
    from hub.realtime.lifecycle import draining

    checks = _checks()
    return _answer(checks, "draining" if draining.is_set() else None)


PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthMiddleware:
    """Answer ``GET``/``HEAD`` on the probes' paths before the Host is checked."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
