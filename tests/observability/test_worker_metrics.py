"""A real task worker (``manage.py db_worker``) serves its own metrics on
METRICS_PORT, behind the token, and counts the tasks it runs.

SLOW (it starts an ASGI process and a worker with ``scripts.topology``), and
only on the PostgreSQL + Redis pass of the suite; skipped otherwise.
"""

import os
import re
import time
import urllib.error
import urllib.request

import pytest

from scripts.topology import Topology, free_ports
from tests.test_topology import _database_url

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
TOKEN = "worker-scrape-token"

pytestmark = [
    pytest.mark.skipif(
        not DATABASE_URL.startswith(("postgres://", "postgresql://")) or not REDIS_URL,
        reason="slow multi-process test: needs DATABASE_URL=postgres://... and "
        "REDIS_URL (a worker process cannot share the embedded SQLite default)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
]


def get(url: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=5
        ) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_a_worker_process_serves_what_it_counted(school, settings):
    from hub.delivery.tasks import withdraw

    (port,) = free_ports(1)
    topo = Topology(
        asgi=1,
        worker=True,
        database_url=_database_url(),
        migrate=False,
        redis_url=REDIS_URL,
        env={
            "SECRET_KEY": settings.SECRET_KEY,
            "MESSAGE_KEYS": ",".join(settings.MESSAGE_KEYS),
            "METRICS_PORT": str(port),
            "METRICS_TOKEN": TOKEN,
        },
        startup_timeout=30,
        stop_timeout=5,
    ).start()
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        status = None
        for _ in range(100):  # the worker's port opens once Django is set up
            try:
                status, _ = get(url, None)
                break
            except OSError:
                time.sleep(0.1)
        assert status == 403
        assert get(url, "wrong")[0] == 403
        result = withdraw.enqueue(school.parent.pk, ["a"])
        wanted = 'hub_tasks_finished_total{status="successful",task="withdraw"} 1.0'
        for _ in range(100):  # until the worker has run it
            status, body = get(url, TOKEN)
            if wanted in body:
                break
            time.sleep(0.1)
        assert status == 200
        assert wanted in body, result.id
        # The ASGI process answers for the queue; the worker does not.
        assert "hub_tasks_ready" not in body
        status, page = get(f"{topo.urls[0]}/metrics", TOKEN)
        assert status == 200
        assert re.search(r"^hub_tasks_ready \d+\.0$", page, re.M)
    finally:
        topo.stop()
