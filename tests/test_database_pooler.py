"""``DATABASE_POOLER`` (core/settings.py): what it sets, what it refuses.

The settings are read in a fresh interpreter per case (they are read once per
process). What the settings do behind a real PgBouncer is
``tests/test_pgbouncer.py``.
"""

import json
import os
import subprocess
import sys

from scripts.topology import ROOT
from tests.test_deploy import load_compose

POSTGRES = "postgres://hub@db.invalid:5432/hub"
SHOW = (
    "import django, json; django.setup(); from django.conf import settings; "
    "d = settings.DATABASES['default']; "
    "print(json.dumps([d.get('DISABLE_SERVER_SIDE_CURSORS', False), "
    "d['OPTIONS'].get('prepare_threshold', 'unset'), bool(d['OPTIONS'].get('pool'))]))"
)


def read_settings(**env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DATABASE_POOLER")
    }
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "core.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_pgbouncer_turns_server_side_cursors_and_prepared_statements_off():
    result = read_settings(DATABASE_URL=POSTGRES, DATABASE_POOLER="pgbouncer")
    assert result.returncode == 0, result.stderr
    # The process keeps its own pool: its clients of PgBouncer are reused.
    assert json.loads(result.stdout.splitlines()[-1]) == [True, None, True]


def test_without_a_pooler_server_side_cursors_stay_on():
    result = read_settings(DATABASE_URL=POSTGRES)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [False, "unset", True]


def test_an_unknown_pooler_is_refused_by_name():
    result = read_settings(DATABASE_URL=POSTGRES, DATABASE_POOLER="pgpool")
    assert result.returncode != 0
    assert "DATABASE_POOLER='pgpool': use pgbouncer, or leave it unset" in result.stderr


def test_a_pooler_without_postgresql_is_refused():
    result = read_settings(DATABASE_POOLER="pgbouncer")  # the SQLite default
    assert result.returncode != 0
    assert "DATABASE_POOLER needs a postgres DATABASE_URL" in result.stderr


def test_compose_puts_pgbouncer_between_the_hub_and_postgresql():
    """The app services go through PgBouncer (transaction pooling) with the
    switch; migrations go straight to PostgreSQL."""
    services = load_compose()["services"]
    bouncer = services["pgbouncer"]
    assert bouncer["image"].startswith("edoburu/pgbouncer:v1.")  # a pinned tag
    assert bouncer["environment"]["POOL_MODE"] == "transaction"
    assert bouncer["environment"]["DB_HOST"] == "postgres"
    for name in ("asgi-1", "asgi-2", "worker-1", "worker-2", "scheduler"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://hub:hub@pgbouncer:"), name
        assert env["DATABASE_POOLER"] == "pgbouncer", name
        assert "pgbouncer" in services[name]["depends_on"], name
    migrate = services["migrate"]["environment"]
    assert migrate["DATABASE_URL"].startswith("postgres://hub:hub@postgres:")
    assert migrate["DATABASE_POOLER"] == ""
