"""The hub behind a real PgBouncer in transaction pooling mode.

SLOW (it starts ``pgbouncer``, a uvicorn process, task workers and
management commands), and only on the PostgreSQL pass of the suite
(``DATABASE_URL`` a postgres URL); the socket test also needs ``REDIS_URL``.
Deselect with ``-k 'not test_pgbouncer'``. In CI (``CI`` set, as ``.ci/run``
does) a missing ``pgbouncer`` fails the tests; elsewhere they are skipped
with the reason.

PgBouncer (:mod:`tests.pgbouncer`) serves this test's own database with a
pool of 2 server connections, so the processes' clients really share them.
The processes get ``DATABASE_URL`` pointing at PgBouncer and
``DATABASE_POOLER=pgbouncer`` (core/settings.py); this process writes and
checks directly. The last tests show what the switch prevents, and what it
sets.
"""

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import connection
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from core.attendance.actions import take_roll_call
from core.roster.models import RosterImport, User
from core.timetable.models import Occurrence
from hub.delivery.models import Notification
from hub.events import HubEvent
from scripts.topology import ROOT, Topology
from tests.conftest import make_occurrence
from tests.pgbouncer import PgBouncer, pgbouncer_binary
from tests.test_topology import Socket, _database_url, session_of

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
DATA = Path(__file__).parent / "data"
POOLER = {"DATABASE_POOLER": "pgbouncer"}

pytestmark = [
    pytest.mark.skipif(
        not DATABASE_URL.startswith(("postgres://", "postgresql://")),
        reason="slow PgBouncer test: needs DATABASE_URL=postgres://... "
        "(PgBouncer pools PostgreSQL connections)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
]


class PgBouncerTick(HubEvent):
    """This module's event kind (published by other processes)."""

    kind = "test.pgbouncer"
    notify = False
    op: Literal["tick"]
    n: int


@task()
def rendezvous(expected: int) -> int:
    """Wait until ``expected`` tasks are running at once (each worker holds
    one): proof that the workers take tasks concurrently."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        running = DBTaskResult.objects.filter(status="RUNNING").count()
        if running >= expected:
            return running
        time.sleep(0.05)
    raise TimeoutError(f"fewer than {expected} tasks running at once")


@pytest.fixture(scope="module")
def pgbouncer(django_db_setup):
    """PgBouncer (transaction pooling, 2 server connections) in front of the
    test database; stopped after the module."""
    if pgbouncer_binary() is None:
        reason = "pgbouncer is not installed (apt-get install pgbouncer)"
        if os.environ.get("CI"):
            pytest.fail(reason + ": .ci/run installs it")
        pytest.skip(reason + "; outside CI")
    settings_dict = connection.settings_dict
    with PgBouncer(settings_dict, settings_dict["NAME"], pool_size=2) as bouncer:
        yield bouncer


def process_env(settings, bouncer: PgBouncer, **extra: str) -> dict[str, str]:
    """The environment of a hub process on the test database through PgBouncer."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_POOLER"}
    env.update(
        DJANGO_SETTINGS_MODULE="core.settings",
        DATABASE_URL=bouncer.url,
        SECRET_KEY=settings.SECRET_KEY,
        MESSAGE_KEYS=",".join(settings.MESSAGE_KEYS),
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


# The socket path ------------------------------------------------------------


def start_hub(settings, database_url: str, **extra: str) -> Topology:
    """One uvicorn hub process on ``database_url``, its connections named
    ``hub-asgi`` (``PGAPPNAME``), no cap of sockets per user."""
    if not REDIS_URL:
        pytest.skip("needs REDIS_URL: the events come from another process")
    return Topology(
        asgi=1,
        server="uvicorn",
        database_url=database_url,
        migrate=False,
        redis_url=REDIS_URL,
        channel_prefix=f"pgbtest{uuid.uuid4().hex[:10]}",
        env={
            "SECRET_KEY": settings.SECRET_KEY,
            "MESSAGE_KEYS": ",".join(settings.MESSAGE_KEYS),
            "LOG_LEVEL": "WARNING",
            "PGAPPNAME": "hub-asgi",
            "HUB_MAX_SOCKETS_PER_USER": "0",
            **extra,
        },
        startup_timeout=30,
        stop_timeout=5,
    ).start()


@pytest.fixture
def hub_process(settings, pgbouncer):
    """One uvicorn hub process on the test database through PgBouncer."""
    topo = start_hub(settings, pgbouncer.url, **POOLER)
    try:
        yield topo
    finally:
        topo.stop()


def publish(topo: Topology, stream: str, numbers: range) -> None:
    """``hub.send_event`` from another process (a management shell), also
    through PgBouncer."""
    code = (
        "from django.db import transaction\n"
        "import hub\n"
        "from tests.test_pgbouncer import PgBouncerTick\n"
        f"for n in {list(numbers)!r}:\n"
        "    with transaction.atomic():\n"
        f"        hub.send_event([{stream!r}], PgBouncerTick(op='tick', n=n))\n"
    )
    topo.manage("shell", "-c", code, timeout=120)


async def test_a_socket_gets_events_from_another_process_and_resumes(
    school, hub_process
):
    pupil = school.pupil
    mine = f"user:{pupil.pk}"
    cookie = await session_of(pupil)
    socket = Socket(hub_process, 0, cookie)
    await socket.open()
    _, reply = await socket.request(
        {"type": "subscribe", "id": "s", "streams": [mine]}, "subscribed"
    )
    base = reply["streams"][mine]["offset"]

    await asyncio.to_thread(publish, hub_process, mine, range(1, 2))
    (frame,) = await socket.events(1)
    assert (frame["offset"], frame["data"]["n"]) == (base + 1, 1)
    position = {mine: {"epoch": frame["epoch"], "offset": frame["offset"]}}
    await socket.ws.close()

    await asyncio.to_thread(publish, hub_process, mine, range(2, 4))  # while away
    again = Socket(hub_process, 0, cookie)
    await again.open()
    replayed, reply = await again.request(
        {"type": "resume", "id": "r", "streams": position}, "resumed"
    )
    assert [(f["offset"], f["data"]["n"]) for f in replayed] == [
        (base + 2, 2),
        (base + 3, 3),
    ]
    await asyncio.to_thread(publish, hub_process, mine, range(4, 5))  # live again
    (frame,) = await again.events(1)
    assert (frame["offset"], frame["data"]["n"]) == (base + 4, 4)
    await again.ws.close()


SOCKETS = 50
REQUESTS = 40


def http_burst(url: str, count: int) -> None:
    """``count`` GET requests at once (each a thread of its own), all 200."""

    def get(_):
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status

    with ThreadPoolExecutor(count) as pool:
        assert set(pool.map(get, range(count))) == {200}


class Peaks(threading.Thread):
    """Samples, every 10 ms until stopped, the connections of the hub process:
    to PostgreSQL (``pg_stat_activity``, application ``hub-asgi``) and, when
    it goes through ``bouncer``, to PgBouncer and from PgBouncer to PostgreSQL
    (``SHOW CLIENTS``, ``SHOW SERVERS``). Keeps the highest of each."""

    def __init__(self, bouncer: PgBouncer | None) -> None:
        super().__init__(daemon=True)
        self.bouncer = bouncer
        self.peaks = {"postgresql": 0, "pgbouncer clients": 0, "pgbouncer servers": 0}
        self.running = True

    def run(self) -> None:
        settings_dict = connection.settings_dict
        with psycopg.connect(
            host=settings_dict["HOST"] or "127.0.0.1",
            port=settings_dict["PORT"] or 5432,
            user=settings_dict["USER"] or "postgres",
            dbname=settings_dict["NAME"],
            autocommit=True,
        ) as direct:
            while self.running:
                (hub,) = direct.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() "
                    "AND application_name = 'hub-asgi'"
                ).fetchone()
                self.keep("postgresql", hub)
                if self.bouncer:
                    alias = self.bouncer.alias
                    clients = self.bouncer.admin("SHOW CLIENTS")
                    servers = self.bouncer.admin("SHOW SERVERS")
                    self.keep(
                        "pgbouncer clients",
                        sum(c["application_name"] == "hub-asgi" for c in clients),
                    )
                    self.keep(
                        "pgbouncer servers",
                        sum(s["database"] == alias for s in servers),
                    )
                time.sleep(0.01)

    def keep(self, name: str, value: int) -> None:
        self.peaks[name] = max(self.peaks[name], value)

    def stop(self) -> dict:
        self.running = False
        self.join(10)
        return self.peaks


@pytest.mark.parametrize("path", ["pgbouncer", "direct"])
async def test_connections_of_one_hub_process_under_a_socket_storm(
    school, settings, pgbouncer, path
):
    """Measured, printed (run with ``-s``), not asserted beyond PgBouncer's
    pool: the most connections one hub process holds while ``SOCKETS``
    sockets of one user connect and subscribe at once, directly and through
    PgBouncer."""
    through = pgbouncer if path == "pgbouncer" else None
    url = pgbouncer.url if through else _database_url()
    topo = await asyncio.to_thread(
        start_hub, settings, url, **(POOLER if through else {})
    )
    try:
        cookie = await session_of(school.pupil)
        mine = f"user:{school.pupil.pk}"
        sampler = Peaks(through)
        sampler.start()
        sockets = [Socket(topo, 0, cookie) for _ in range(SOCKETS)]
        await asyncio.gather(*(s.open() for s in sockets))
        await asyncio.gather(
            *(
                s.request(
                    {"type": "subscribe", "id": "s", "streams": [mine]}, "subscribed"
                )
                for s in sockets
            )
        )
        peaks = await asyncio.to_thread(sampler.stop)
        sampler = Peaks(through)
        sampler.start()
        await asyncio.to_thread(http_burst, topo.urls[0] + "/healthz", REQUESTS)
        http_peaks = await asyncio.to_thread(sampler.stop)
        print(
            f"\nOne hub process ({path}, HUB_DB_THREADS={settings.HUB_DB_THREADS}, "
            f"DB_POOL_SIZE 20): {SOCKETS} sockets connecting and subscribing: "
            f"peaks {peaks}; {REQUESTS} concurrent GET /healthz: peaks {http_peaks}"
        )
        if through:
            assert 0 < peaks["pgbouncer servers"] <= pgbouncer.pool_size, peaks
            assert peaks["pgbouncer clients"] > 0, peaks
        else:
            assert peaks["postgresql"] > 0, peaks
        for s in sockets:
            await s.ws.close()
    finally:
        await asyncio.to_thread(topo.stop)


# Tasks ----------------------------------------------------------------------


def test_two_workers_share_the_delivery_tasks_each_done_once(
    school, settings, pgbouncer
):
    """Two ``db_worker`` processes through PgBouncer: both take tasks at the
    same time (SELECT ... FOR UPDATE SKIP LOCKED in a transaction), every
    task runs once, every planned notification exists once."""
    rendezvous.using(priority=10).enqueue(2)
    rendezvous.using(priority=10).enqueue(2)
    start = school.session.start_date
    lessons = 12
    for number in range(lessons):  # one absence each: one plan_event task each
        when = dt_at(start, number)
        occurrence = make_occurrence(school.class_4b, when, teachers=[school.teacher])
        take_roll_call(
            occurrence=occurrence,
            teacher=school.teacher,
            marks={school.pupil.pk: ("absent", None)},
            now=when,
        )
    planned = DBTaskResult.objects.filter(task_path="hub.delivery.tasks.plan_event")
    assert planned.count() >= lessons  # the absence, and the roll call itself

    env = process_env(settings, pgbouncer, **POOLER)
    workers = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "db_worker"]
            + ["--queue-name", "*", "--batch", "--no-startup-delay"]
            + ["--interval", "0.1", "--worker-id", f"worker-{number}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for number in (1, 2)
    ]
    outputs = []
    for worker in workers:
        try:
            outputs.append(worker.communicate(timeout=120)[0])
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGKILL)
            outputs.append(worker.communicate()[0])
    assert [w.returncode for w in workers] == [0, 0], "\n".join(outputs)

    results = list(DBTaskResult.objects.all())
    assert {r.status for r in results} == {"SUCCESSFUL"}, [
        (r.task_path, r.traceback) for r in results if r.status != "SUCCESSFUL"
    ]
    assert all(len(r.worker_ids) == 1 for r in results)
    by_worker = {r.worker_ids[0] for r in results}
    assert by_worker == {"worker-1", "worker-2"}
    assert sorted(
        r.return_value for r in results if r.task_path.endswith("rendezvous")
    ) == [2, 2]
    guardians = Notification.objects.filter(user=school.parent)
    assert guardians.count() == lessons
    assert guardians.values("event").distinct().count() == lessons


def dt_at(day: dt.date, number: int) -> dt.datetime:
    """The ``number``-th lesson hour from 8:00 on consecutive days from ``day``."""
    moment = dt.datetime.combine(
        day + dt.timedelta(days=number // 8), dt.time(8 + number % 8)
    )
    return moment.replace(tzinfo=ZoneInfo("Europe/Paris"))


# Imports --------------------------------------------------------------------


def test_a_roster_import_runs_through_pgbouncer_and_again_unchanged(
    settings, pgbouncer
):
    files = [str(p) for p in sorted((DATA / "oneroster/catalyst-v1p1-full").iterdir())]
    env = process_env(settings, pgbouncer, **POOLER)
    first = manage(env, "import_roster", *files)
    assert first.stdout.startswith("Import oneroster")
    people = User.objects.count()
    assert people > 0
    second = manage(env, "import_roster", *files)  # compares every row (iterators)
    assert User.objects.count() == people
    assert RosterImport.objects.filter(status="done").count() == 2
    assert " 0 créés" in second.stdout, second.stdout


def test_a_timetable_import_runs_through_pgbouncer(school, settings, pgbouncer):
    ade = DATA / "ical" / "ADE_iut-lyon1_extrait_2016_redacted.ics"
    env = process_env(settings, pgbouncer, **POOLER)
    window = ("--from", "2016-06-01", "--to", "2016-06-30")
    result = manage(env, "import_ical", str(ade), "--class", "4e B", *window)
    assert "created 22" in result.stdout, result.stdout
    assert Occurrence.objects.filter(school_class=school.class_4b).count() == 22


# What the switch does ---------------------------------------------------------

# ``.iterator()`` outside a transaction, while another client of PgBouncer
# holds (in a transaction) the server connection where the iteration began:
# the next fetch goes to another server connection. Holders are opened until
# one sees the cursor in ``pg_cursors`` (a session's own cursors), at most one
# per server connection of the pool; the others are released.
ITERATE = """
import json, os, psycopg
from django.contrib.auth.models import Permission
from django.db import connection

rows = Permission.objects.order_by("pk").values_list("pk", flat=True)
rows = rows.iterator(chunk_size=1)
seen = [next(rows)]
holders, holding = [], None
for _ in range({pool_size}):
    holder = psycopg.connect(os.environ["DATABASE_URL"])
    cursors = holder.execute("SELECT count(*) FROM pg_cursors").fetchone()[0]
    if cursors:
        holding = holder
        break
    holders.append(holder)
for holder in holders:
    holder.close()
error = None
try:
    seen.extend(rows)
except Exception as exc:  # psycopg's own error, raised closing the cursor
    error = type(exc.__cause__ or exc).__name__ + ": " + str(exc)
with connection.cursor() as cursor:
    cursor.execute("SHOW TimeZone")
    zone = cursor.fetchone()[0]
print(json.dumps({{"held": holding is not None, "rows": len(seen), "error": error,
                  "timezone": zone, "total": Permission.objects.count()}}))
"""


def iterate(settings, bouncer: PgBouncer, **extra: str) -> dict:
    env = process_env(settings, bouncer, **extra)
    result = manage(env, "shell", "-c", ITERATE.format(pool_size=bouncer.pool_size))
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_the_switch_an_iterator_loses_its_cursor(settings, pgbouncer):
    outcome = iterate(settings, pgbouncer)
    assert outcome["held"], outcome
    assert outcome["rows"] == 1, outcome
    assert outcome["error"].startswith("InvalidCursorName"), outcome
    assert "does not exist" in outcome["error"], outcome
    # Another server connection than the cursor's: PgBouncer set it to the
    # client's time zone (Django's session SET), not its own Europe/Paris.
    assert outcome["timezone"] == "UTC", outcome


def test_with_the_switch_the_iterator_reads_every_row(settings, pgbouncer):
    outcome = iterate(settings, pgbouncer, **POOLER)
    assert outcome["error"] is None and not outcome["held"], outcome
    assert outcome["rows"] == outcome["total"] > 1, outcome
    # Django sets the session's time zone once per connection; PgBouncer
    # carries it to whichever server connection runs the next transaction.
    assert outcome["timezone"] == "UTC", outcome
