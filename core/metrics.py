"""Prometheus metrics of the hub (prometheus-client; docs/operations.md).

Each process counts what happens in it, in its own registry (no shared
multiprocess directory: the containers of compose.yaml share nothing):

- an ASGI process serves ``GET /metrics`` on its own port (:class:`MetricsApp`,
  in front of Django: no host check, no HTTPS redirect, no session), with
  its sockets and fan-out, and, read from the database at each scrape, the
  task queue (:class:`TaskQueueCollector`);
- a task worker (``manage.py db_worker``) and the scheduler (``manage.py
  run_scheduler``) serve the same path on ``METRICS_PORT`` when it is set
  (:func:`serve_process_metrics`): pushes, e-mails, imports, tasks.

Never public by default: without ``METRICS_TOKEN`` nor
``METRICS_ALLOWED_NETWORKS`` the path answers 404; with them, a request
needs ``Authorization: Bearer <METRICS_TOKEN>`` and an address in one of
the networks (each that is set), else 403.
"""

import datetime as dt
import functools
import hmac
import ipaddress
import logging
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from asgiref.sync import sync_to_async
from django.conf import settings
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

# No "_created" series beside each counter: scrapers rarely use them and
# they double the page.
disable_created_metrics()

logger = logging.getLogger(__name__)

PATH = "/metrics"

# Sockets and fan-out (ASGI processes): hub/realtime/metrics.py, defined
# with the realtime server, in the same registry.

# Delivery, imports, tasks (workers, scheduler) ---------------------------

PUSHES = Counter(
    "hub_push_sends",
    "Web pushes sent, by outcome: sent, gone (404/410: subscription "
    "removed), retry (429, 5xx, network), failed (other refusals).",
    ["result"],
)
EMAILS = Counter(
    "hub_emails",
    "E-mails handed to SMTP, by outcome: sent, deferred (4xx or network: "
    "retried), refused (5xx), uncertain (no answer after the content), "
    "invalid (could not be composed).",
    ["result"],
)
IMPORTS = Counter(
    "hub_imports",
    "Import runs by kind (roster, timetable) and outcome (done, dry_run, failed).",
    ["kind", "outcome"],
)
TASKS_FINISHED = Counter(
    "hub_tasks_finished",
    "Background tasks this worker finished, by task and status.",
    ["task", "status"],
)


# Every label value known in advance starts at 0, so a rate over it means
# something from the first scrape.
for _result in ("sent", "gone", "retry", "failed"):
    PUSHES.labels(_result)
for _result in ("sent", "deferred", "refused", "uncertain", "invalid"):
    EMAILS.labels(_result)
for _kind in ("roster", "timetable"):
    for _outcome in ("done", "dry_run", "failed"):
        IMPORTS.labels(_kind, _outcome)


def count_imports(kind: str):
    """Decorate an import's entry point: each call counts as one run of
    ``kind``, ``failed`` if it raises, ``dry_run`` if called with
    ``dry_run=True``, else ``done``."""

    def decorate(function):
        @functools.wraps(function)
        def run(*args, **kwargs):
            try:
                result = function(*args, **kwargs)
            except BaseException:
                IMPORTS.labels(kind, "failed").inc()
                raise
            IMPORTS.labels(kind, "dry_run" if kwargs.get("dry_run") else "done").inc()
            return result

        return run

    return decorate


def task_finished(sender, task_result, **kwargs) -> None:
    """django-tasks' ``task_finished``: count the task by its status."""
    TASKS_FINISHED.labels(task_result.task.name, task_result.status.lower()).inc()


# The task queue, read from the database at each scrape -------------------


class TaskQueueCollector:
    """Tasks ready to run (and running) and how long the oldest ready one
    has waited: two queries on django-tasks' table at each scrape."""

    def describe(self):
        return []

    def collect(self):
        from django.db.models import Count, Min, Q
        from django_tasks_db.models import DBTaskResult, get_date_max

        never = get_date_max()
        ready = DBTaskResult.objects.ready().aggregate(
            count=Count("pk"),
            enqueued=Min("enqueued_at", filter=Q(run_after=never)),
            due=Min("run_after", filter=~Q(run_after=never)),
        )
        running = DBTaskResult.objects.running().count()
        waiting = GaugeMetricFamily(
            "hub_tasks_ready", "Background tasks ready to run, not yet taken."
        )
        waiting.add_metric([], ready["count"])
        yield waiting
        taken = GaugeMetricFamily(
            "hub_tasks_running", "Background tasks a worker is running."
        )
        taken.add_metric([], running)
        yield taken
        since = [t for t in (ready["enqueued"], ready["due"]) if t is not None]
        age = GaugeMetricFamily(
            "hub_tasks_oldest_ready_age_seconds",
            "How long the oldest ready task has been waiting (0: none).",
        )
        now = dt.datetime.now(dt.UTC)
        age.add_metric([], max(0.0, (now - min(since)).total_seconds()) if since else 0)
        yield age


QUEUE = CollectorRegistry(auto_describe=False)
QUEUE.register(TaskQueueCollector())


def process_metrics() -> bytes:
    """This process's metrics in the text exposition format."""
    return generate_latest(REGISTRY)


def asgi_metrics() -> bytes:
    """An ASGI process's page: its own metrics and the task queue's."""
    return process_metrics() + generate_latest(QUEUE)


# Who may read them --------------------------------------------------------


def allowed(authorization: str, address: str | None) -> int:
    """The HTTP status for a scrape: 200, 403 (wrong or missing token, or an
    address outside ``METRICS_ALLOWED_NETWORKS``) or 404 (nothing set: the
    metrics are off)."""
    token = settings.METRICS_TOKEN
    networks = settings.METRICS_ALLOWED_NETWORKS
    if not token and not networks:
        return 404
    if token and not hmac.compare_digest(
        authorization.encode(), f"Bearer {token}".encode()
    ):
        return 403
    if networks:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return 403
        if not any(ip in ipaddress.ip_network(n, strict=False) for n in networks):
            return 403
    return 200


STATUS_TEXT = {200: b"", 403: b"forbidden\n", 404: b"not found\n"}


class MetricsApp:
    """ASGI: ``GET /metrics`` answered here (:func:`allowed`), anything
    else passed to ``inner``."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("path") != PATH:
            await self.inner(scope, receive, send)
            return
        authorization = ""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                authorization = value.decode("latin-1")
        client = scope.get("client")
        status = allowed(authorization, client[0] if client else None)
        body = STATUS_TEXT[status]
        content_type = b"text/plain; charset=utf-8"
        if status == 200:
            body = await sync_to_async(_scrape)()
            content_type = CONTENT_TYPE_LATEST.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _scrape() -> bytes:
    from django.db import close_old_connections

    close_old_connections()
    try:
        return asgi_metrics()
    finally:
        close_old_connections()


# Workers and the scheduler: their own port -------------------------------


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # one line per scrape: none
        pass


def metrics_wsgi(environ, start_response):
    """WSGI: :data:`PATH` with this process's metrics, under :func:`allowed`."""
    status = 404
    if environ.get("PATH_INFO") == PATH:
        status = allowed(
            environ.get("HTTP_AUTHORIZATION", ""), environ.get("REMOTE_ADDR")
        )
    if status != 200:
        reason = "Forbidden" if status == 403 else "Not Found"
        start_response(f"{status} {reason}", [("Content-Type", "text/plain")])
        return [STATUS_TEXT[status]]
    start_response(
        "200 OK",
        [("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store")],
    )
    return [process_metrics()]


def serve_process_metrics(port: int, address: str = "0.0.0.0") -> WSGIServer:
    """Serve :func:`metrics_wsgi` on ``port`` from a daemon thread; return
    the server (its ``server_port``: the port, when 0 asked for any)."""
    server = make_server(
        address, port, metrics_wsgi, server_class=_Server, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info("metrics on port %s%s", server.server_port, PATH)
    return server


# The commands whose processes serve their metrics on METRICS_PORT.
WORKER_COMMANDS = ("db_worker", "run_scheduler")


def serve_if_worker(argv: list[str]) -> None:
    """Start :func:`serve_process_metrics` on ``METRICS_PORT`` when this
    process is one of :data:`WORKER_COMMANDS` (``manage.py <command>``); a
    port already taken is logged, and the process works without."""
    if settings.METRICS_PORT and argv[1:2] and argv[1] in WORKER_COMMANDS:
        try:
            serve_process_metrics(settings.METRICS_PORT)
        except OSError as error:  # the port taken: the work goes on
            logger.error(
                "metrics not served on port %s: %s", settings.METRICS_PORT, error
            )
