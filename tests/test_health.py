"""The health probes (core/health.py): /healthz, /readyz, whatever the Host."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from hub.realtime import lifecycle

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def closed_port():
    """A local port bound by nobody listening: connecting is refused at once."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def _expected_checks() -> dict[str, str]:
    checks = {"database": "ok"}
    if settings.REDIS_URL:
        checks["redis"] = "ok"
    return checks


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_ok_with_each_dependency_checked(client, db, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": _expected_checks()}


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_whatever_the_host(client, db, path):
    """compose's healthcheck asks http://127.0.0.1:8000 while ALLOWED_HOSTS
    holds the operator's domain: the probe answers, the site still refuses."""
    assert "evil.example" not in settings.ALLOWED_HOSTS
    assert client.get(path, HTTP_HOST="evil.example").status_code == 200
    assert client.get("/", HTTP_HOST="evil.example").status_code == 400
    # Only reads are probes: anything else goes through host validation.
    assert client.post(path, HTTP_HOST="evil.example").status_code == 400


def test_probes_answer_over_plain_http_when_https_is_forced(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/").status_code == 301


def test_redis_down_fails_both_probes_and_says_so(client, db, settings, closed_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port}/0"
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "checks": {"database": "ok", "redis": "failed"},
        }


def test_a_failed_probe_logs_one_line_not_a_traceback(
    client, db, settings, closed_port, caplog
):
    """Probes run every few seconds per process during an outage."""
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port}/0"
    with caplog.at_level("WARNING", logger="core.health"):
        client.get("/healthz")
    (record,) = [r for r in caplog.records if r.name == "core.health"]
    assert record.getMessage().startswith("health: Redis does not answer: ")
    assert record.exc_info is None


def _cluster_check(client) -> list[tuple[int, str]]:
    answers = [client.get(path) for path in ("/healthz", "/readyz")]
    return [(r.status_code, r.json()["checks"]["redis_cluster"]) for r in answers]


def test_a_redis_cluster_is_checked_master_by_master(
    client, db, settings, redis_cluster
):
    """Events ride the cluster when REDIS_CLUSTER_URL is set: a probe that
    asked only REDIS_URL passed while a shard could publish nothing. Once a
    replica has taken the lost master's place, the probes pass again."""
    settings.REDIS_CLUSTER_URL = redis_cluster.url
    assert _cluster_check(client) == [(200, "ok"), (200, "ok")]
    # A master other than the seed node the URL names (the client starts there).
    seed = redis_cluster.ports[0]
    channels = [f"stream-{n}" for n in range(30)]
    lost = min({redis_cluster.master_of(c) for c in channels} - {seed})
    channel = next(c for c in channels if redis_cluster.master_of(c) == lost)
    redis_cluster.stop_node(lost)
    assert _cluster_check(client) == [(503, "failed"), (503, "failed")]
    # The replica takes over after the nodes' timeout (a couple of seconds).
    deadline = time.monotonic() + 30
    while redis_cluster.master_of(channel) == lost and time.monotonic() < deadline:
        time.sleep(0.1)
    redis_cluster.wait_for_ok()
    assert _cluster_check(client) == [(200, "ok"), (200, "ok")]


def test_a_redis_cluster_down_fails_both_probes(client, db, settings, closed_port):
    settings.REDIS_CLUSTER_URL = f"redis://127.0.0.1:{closed_port}"
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "checks": {**_expected_checks(), "redis_cluster": "failed"},
        }


def test_draining_fails_readiness_only(client, db):
    lifecycle.draining.set()
    try:
        ready = client.get("/readyz")
        healthy = client.get("/healthz")
    finally:
        lifecycle.draining.clear()
    assert ready.status_code == 503
    assert ready.json() == {"status": "draining", "checks": _expected_checks()}
    assert healthy.status_code == 200


PROBE_SCRIPT = """
import json, django
django.setup()
from django.test import Client
client = Client()
print(json.dumps({p: [r.status_code, r.json()] for p in ("/healthz", "/readyz")
                  for r in [client.get(p)]}))
"""


def _probe_in_a_process(database_url: str, tmp_path) -> dict:
    """Both probes answered by a hub whose database is ``database_url``."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "core.settings_test",
        "DATABASE_URL": database_url,
        "VAR_DIR": str(tmp_path),
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("engine", ["postgres", "sqlite"])
def test_database_down_fails_both_probes_and_says_so(engine, tmp_path, closed_port):
    url = (
        f"postgres://postgres@127.0.0.1:{closed_port}/hub"
        if engine == "postgres"
        else f"sqlite:///{tmp_path}/missing-folder/hub.sqlite3"
    )
    answers = _probe_in_a_process(url, tmp_path)
    for path in ("/healthz", "/readyz"):
        status, body = answers[path]
        assert status == 503, path
        assert body == {"status": "unavailable", "checks": {"database": "failed"}}
