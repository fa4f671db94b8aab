"""Start the topology of ``compose.yaml`` from local processes.

N ASGI processes (Daphne, or uvicorn as ``compose.yaml`` runs them:
``--server``) on consecutive ports sharing one PostgreSQL database and one Redis, plus optionally the task worker and the scheduler: what
``docker compose up`` runs, without containers or nginx, so benchmarks and
fault tests can measure it and stop or restart one process at will.

As a command (Ctrl-C or SIGTERM stops everything)::

    .venv/bin/python scripts/topology.py --asgi 2 --port 8200
    .venv/bin/python scripts/topology.py --asgi 2 --server uvicorn
    .venv/bin/python scripts/topology.py --asgi 3 --worker --scheduler --keep \\
        --database hub_topo_dev --print-env

As a context manager (``scripts`` is importable from the repository root)::

    from scripts.topology import Topology

    with Topology(asgi=2) as topo:  # Topology(asgi=2, server="uvicorn")
        topo.urls          # ["http://127.0.0.1:20417", "http://127.0.0.1:20418"]
        topo.ws_urls       # ["ws://127.0.0.1:20417/ws/", ...]
        topo.pids          # ASGI process ids (None for a stopped one)
        topo.database_url  # postgres://postgres@127.0.0.1:5432/hub_topo_1a2b3c4d
        topo.env           # the variables the processes got (for django.setup())
        topo.stop_process(1)   # SIGTERM, then SIGKILL after stop_timeout
        topo.start_process(1)  # same port, waits for /healthz
        topo.kill_process(0)   # SIGKILL at once (a crash)
        topo.manage("shell", "-c", "...")  # a manage.py command against it

What it does, in order:

1. **Database.** A new PostgreSQL database (``--database NAME``, or
   ``hub_topo_<random>``) on the server of ``--postgres`` (default: the
   server of ``DATABASE_URL`` when it is a postgres URL, else
   ``postgres://postgres@127.0.0.1:5432``). It is dropped on exit unless
   ``--keep``. A database that already exists is reused and never dropped.
   ``Topology(database_url=...)`` uses an existing database as it is (the
   tests pass their own test database).
2. **Redis.** ``--redis`` (default ``REDIS_URL``, else
   ``redis://127.0.0.1:6379/0``) and a prefix of its own for the hub's Redis
   channels (``--prefix``, default ``topo<random>``), given to the processes as
   ``HUB_CHANNEL_PREFIX``. Redis pub/sub ignores database numbers, so
   the prefix is what keeps two topologies on one Redis apart. Processes that
   ring doorbells into this topology (a bench calling ``hub.send_event``) must
   use the same settings: ``os.environ.update(topo.env)`` before
   ``django.setup()``.
3. **Migrations** (``manage.py migrate``), and ``collectstatic`` with
   ``--static`` (the command does it by default, so pages have their CSS).
4. **Processes**, each in its own process group, output to
   ``<log dir>/<name>.log``:
   per ASGI process (``asgi-1``, ``asgi-2``, ... on ``--port``, ``--port`` + 1,
   ...; free ports when no port is given), with ``--server daphne`` (the
   default) ``daphne -b 127.0.0.1 -p PORT`` :data:`DAPHNE_OPTIONS`
   ``core.asgi:application``, with
   ``--server uvicorn`` ``uvicorn core.asgi:application --host 127.0.0.1
   --port PORT`` and :data:`UVICORN_OPTIONS` (those of ``compose.yaml``);
   ``server_args`` (``--server-arg``) appends options, ``manage.py db_worker --queue-name '*'``
   (``--worker``) and ``manage.py run_scheduler`` (``--scheduler``).
   Environment: ``DEBUG=0``, a random ``SECRET_KEY``, a new Fernet key in
   ``MESSAGE_KEYS``, ``ALLOWED_HOSTS=127.0.0.1,localhost``,
   ``SECURE_COOKIES=0`` (plain http), ``DATABASE_URL``, ``REDIS_URL``,
   ``HUB_POLL_SECONDS=0``, ``VAR_DIR`` (a temporary folder) and ``SITE_URL``
   (the first process); ``Topology(env={...})`` adds or overrides variables.
   The soft limit on open files is raised to the hard limit first (the
   processes inherit it).
5. **Health.** Waits until ``GET /healthz`` answers 200 on every ASGI
   process, then prints the URLs.
6. **Stop.** SIGTERM to every process group (a hub process then drains: its
   sockets get ``bye`` and close code 4503, see ``hub/realtime/lifecycle.py``),
   SIGKILL to those still alive after ``--stop-timeout`` seconds (15: longer
   than the hub's own drain, ``HUB_DRAIN_SECONDS``, 10 by default), then the
   database is dropped. When the topology is started from the main thread,
   its processes also get SIGTERM if the parent dies without cleaning up
   (``PR_SET_PDEATHSIG``); the database then stays (``hub_topo_*``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import os
import resource
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_MODULE = "core.settings"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
HOST = "127.0.0.1"
# Ports tried when none is given: below Linux's ephemeral range (32768+), so a
# client socket never holds the port a restarted process needs.
AUTO_PORTS = (20000, 32000)
SERVERS = ("daphne", "uvicorn")
# The settings' HUB_WS_MAX_BYTES (core/settings.py; tests/test_deploy.py
# checks they agree): the largest WebSocket message a server reads.
WS_MAX_BYTES = 128 * 1024
# uvicorn as compose.yaml runs it (docs/decisions/0003): the sans-I/O
# `websockets` protocol (uvicorn's default; its older `--ws websockets` is
# deprecated and waits for the client's answer when closing) in the hub's
# lighter subclass (hub/realtime/uvicorn.py: less memory per idle socket), no
# permessage-deflate (CPU and memory per socket; Daphne never compressed),
# no lifespan (Channels' router has none), no access log (Daphne keeps none),
# 5 s at most for what is still open once the hub has drained (SIGTERM), and
# no WebSocket message over WS_MAX_BYTES read into memory.
UVICORN_OPTIONS = (
    "--ws",
    "hub.realtime.uvicorn:SlimWebSocketProtocol",
    "--ws-per-message-deflate",
    "false",
    "--lifespan",
    "off",
    "--no-access-log",
    "--timeout-graceful-shutdown",
    "5",
    "--ws-max-size",
    str(WS_MAX_BYTES),
)
# Daphne's own bound on a WebSocket message and frame (its default: 1 MiB).
DAPHNE_OPTIONS = (
    "--websocket-max-message-size",
    str(WS_MAX_BYTES),
    "--websocket-max-frame-size",
    str(WS_MAX_BYTES),
)

try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None
_PR_SET_PDEATHSIG = 1


def die_with_parent():
    """A ``preexec_fn`` that makes a child get SIGTERM when this process dies,
    or ``None`` (not Linux, or not the main thread: Linux sends it when the
    parent *thread* exits, and a worker thread may end before we do)."""
    if _prctl is None or threading.current_thread() is not threading.main_thread():
        return None

    def preexec() -> None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return preexec


class TopologyError(RuntimeError):
    """A process did not start, or the database could not be made."""


@dataclass
class Process:
    """One process of the topology and how to (re)start it."""

    name: str
    argv: list[str]
    log_path: Path
    port: int | None = None
    popen: subprocess.Popen | None = None
    stopping: bool = False

    @property
    def pid(self) -> int | None:
        """The process id while it runs, else ``None``."""
        if self.popen is None or self.popen.poll() is not None:
            return None
        return self.popen.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def free_ports(count: int, start: int | None = None) -> list[int]:
    """Return ``count`` consecutive free ports from ``start`` (or a random base)."""
    if start is not None:
        ports = list(range(start, start + count))
        busy = [port for port in ports if not port_free(port)]
        if busy:
            raise TopologyError(f"port(s) already in use: {busy}")
        return ports
    for _ in range(200):
        base = secrets.randbelow(AUTO_PORTS[1] - AUTO_PORTS[0] - count) + AUTO_PORTS[0]
        ports = list(range(base, base + count))
        if all(port_free(port) for port in ports):
            return ports
    raise TopologyError(f"no {count} consecutive free ports found")


def raise_nofile() -> int:
    """Raise this process's soft limit on open files to the hard limit.

    Processes started afterwards inherit it. Returns the soft limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fernet_key() -> str:
    """Return a new Fernet key (32 random bytes, URL-safe base64)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _with_db(url: str, name: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parsed._replace(path="/" + name))


def _is_postgres(url: str | None) -> bool:
    return bool(url) and urllib.parse.urlsplit(url).scheme.startswith("postgres")


def server_argv(
    server: str, port: int, extra: tuple[str, ...] | list[str] = ()
) -> list[str]:
    """The command serving ``core.asgi:application`` on ``HOST:port``."""
    if server == "daphne":
        return [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            HOST,
            "-p",
            str(port),
            *DAPHNE_OPTIONS,
            *extra,
            "core.asgi:application",
        ]
    if server == "uvicorn":
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "core.asgi:application",
            "--host",
            HOST,
            "--port",
            str(port),
            *UVICORN_OPTIONS,
            *extra,
        ]
    raise ValueError(f"server must be one of {SERVERS}, not {server!r}")


class Topology:
    """N ASGI processes (Daphne or uvicorn), the worker and the scheduler on one database and Redis.

    Use as a context manager (``with Topology(asgi=2) as topo:``) or call
    :meth:`start` and :meth:`stop`. See the module docstring.
    """

    def __init__(
        self,
        asgi: int = 2,
        *,
        port: int | None = None,
        database: str | None = None,
        database_url: str | None = None,
        postgres_url: str | None = None,
        redis_url: str | None = None,
        channel_prefix: str | None = None,
        worker: bool = False,
        scheduler: bool = False,
        keep: bool = False,
        migrate: bool = True,
        collectstatic: bool = False,
        env: dict[str, str] | None = None,
        server: str = "daphne",
        server_args: tuple[str, ...] | list[str] = (),
        daphne_args: tuple[str, ...] | list[str] = (),
        log_dir: str | Path | None = None,
        startup_timeout: float = 60.0,
        stop_timeout: float = 15.0,
    ) -> None:
        if asgi < 1:
            raise ValueError("asgi must be at least 1")
        if server not in SERVERS:
            raise ValueError(f"server must be one of {SERVERS}, not {server!r}")
        self.asgi = asgi
        self.base_port = port
        self.database_name = database
        self.given_database_url = database_url
        if postgres_url is None:
            from_env = os.environ.get("DATABASE_URL", "")
            postgres_url = (
                _with_db(from_env, "postgres")
                if _is_postgres(from_env)
                else DEFAULT_POSTGRES
            )
        self.postgres_url = postgres_url
        self.redis_url = redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS
        self.channel_prefix = channel_prefix or f"topo{secrets.token_hex(4)}"
        self.with_worker = worker
        self.with_scheduler = scheduler
        self.keep = keep
        self.run_migrate = migrate
        self.run_collectstatic = collectstatic
        self.extra_env = dict(env or {})
        self.server = server
        # daphne_args: the older name, for Daphne only.
        self.server_args = list(server_args) + (
            list(daphne_args) if server == "daphne" else []
        )
        self.given_log_dir = Path(log_dir) if log_dir else None
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout

        self.database_url: str | None = None
        self.created_database = False
        self.env: dict[str, str] = {}
        self.workdir: Path | None = None
        self.log_dir: Path | None = None
        self.ports: list[int] = []
        self.asgi_processes: list[Process] = []
        self.processes: list[Process] = []
        self.started = False
        self.nofile = 0

    # Public view -------------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        """``http://127.0.0.1:PORT`` of each ASGI process."""
        return [f"http://{HOST}:{port}" for port in self.ports]

    @property
    def ws_urls(self) -> list[str]:
        """``ws://127.0.0.1:PORT/ws/`` of each ASGI process."""
        return [f"ws://{HOST}:{port}/ws/" for port in self.ports]

    @property
    def origins(self) -> list[str]:
        """The ``Origin`` header each process accepts (its own URL)."""
        return self.urls

    @property
    def pids(self) -> list[int | None]:
        """Process ids of the ASGI processes (``None`` while one is stopped)."""
        return [process.pid for process in self.asgi_processes]

    @property
    def worker_pid(self) -> int | None:
        return self._pid_of("worker")

    @property
    def scheduler_pid(self) -> int | None:
        return self._pid_of("scheduler")

    def _pid_of(self, name: str) -> int | None:
        for process in self.processes:
            if process.name == name:
                return process.pid
        return None

    def dead(self) -> list[Process]:
        """Processes that exited without being asked to."""
        return [
            p
            for p in self.processes
            if p.popen is not None and not p.stopping and p.popen.poll() is not None
        ]

    # Lifecycle ---------------------------------------------------------------

    def __enter__(self) -> Topology:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> Topology:
        """Make the database, migrate, start every process, wait for health."""
        if self.started:
            return self
        self.started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        # Children inherit the limit: thousands of sockets need thousands of files.
        self.nofile = raise_nofile()
        self.workdir = Path(tempfile.mkdtemp(prefix="hub-topology-"))
        self.log_dir = self.given_log_dir or self.workdir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.ports = free_ports(self.asgi, self.base_port)
        self._make_database()
        self.env = self._environment()
        if self.run_migrate:
            self.manage("migrate", "--noinput", "-v", "0", timeout=300)
        if self.run_collectstatic:
            self.manage("collectstatic", "--noinput", "-v", "0", timeout=300)
        for index, port in enumerate(self.ports):
            process = Process(
                name=f"asgi-{index + 1}",
                argv=server_argv(self.server, port, self.server_args),
                log_path=self.log_dir / f"asgi-{index + 1}.log",
                port=port,
            )
            self.asgi_processes.append(process)
            self.processes.append(process)
        manage = [sys.executable, str(ROOT / "manage.py")]
        if self.with_worker:
            self.processes.append(
                Process(
                    name="worker",
                    argv=[
                        *manage,
                        "db_worker",
                        "--queue-name",
                        "*",
                        "--interval",
                        "0.5",
                    ],
                    log_path=self.log_dir / "worker.log",
                )
            )
        if self.with_scheduler:
            self.processes.append(
                Process(
                    name="scheduler",
                    argv=[*manage, "run_scheduler", "--interval", "60"],
                    log_path=self.log_dir / "scheduler.log",
                )
            )
        for process in self.processes:
            self._spawn(process)
        self._wait_healthy(self.asgi_processes)
        # The worker and the scheduler have no health check: make sure they
        # did not die at start (a bad setting, a missing table).
        time.sleep(0.2)
        for process in self.processes:
            if process.popen.poll() is not None:
                raise TopologyError(
                    f"{process.name} exited with {process.popen.returncode}:\n"
                    + process.log_tail()
                )

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL), drop the database."""
        self._terminate([p for p in self.processes if p.popen is not None])
        if self.created_database and not self.keep:
            self._drop_database()
            self.created_database = False
        if self.workdir is not None and not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    # One process -------------------------------------------------------------

    def stop_process(
        self, index: int, *, timeout: float | None = None, sig: int = signal.SIGTERM
    ) -> int | None:
        """Stop ASGI process ``index``: ``sig`` to its group, SIGKILL after
        ``timeout`` (default ``stop_timeout``). Returns its exit status."""
        process = self.asgi_processes[index]
        self._terminate([process], timeout=timeout, sig=sig)
        return process.popen.returncode if process.popen else None

    def kill_process(self, index: int) -> int | None:
        """SIGKILL ASGI process ``index`` at once (a crash: no clean close)."""
        return self.stop_process(index, timeout=0, sig=signal.SIGKILL)

    def start_process(self, index: int, *, wait: bool = True) -> int:
        """(Re)start ASGI process ``index`` on its port; return its pid."""
        process = self.asgi_processes[index]
        if process.pid is not None:
            return process.pid
        deadline = time.monotonic() + 10
        while not port_free(process.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._spawn(process)
        if wait:
            self._wait_healthy([process])
        return process.popen.pid

    def manage(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess:
        """Run ``manage.py *args`` against this topology; raise on failure."""
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=self._full_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise TopologyError(
                f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    # Internals ---------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        env = {
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "MESSAGE_KEYS": fernet_key(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_COOKIES": "0",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "HUB_CHANNEL_PREFIX": self.channel_prefix,
            "HUB_POLL_SECONDS": "0",
            "VAR_DIR": str(self.workdir / "var"),
            "SITE_URL": self.urls[0],
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
            "PYTHONUNBUFFERED": "1",
        }
        env.update(self.extra_env)
        return env

    def _full_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        path = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
        return env

    def _spawn(self, process: Process) -> None:
        with open(process.log_path, "ab") as log:
            log.write(
                f"--- {time.strftime('%H:%M:%S')} start {process.name}\n".encode()
            )
            log.flush()
            process.popen = subprocess.Popen(
                process.argv,
                cwd=ROOT,
                env=self._full_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group
                preexec_fn=die_with_parent(),
            )
        process.stopping = False

    def _wait_healthy(self, processes: list[Process]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        waiting = list(processes)
        while waiting:
            for process in list(waiting):
                if process.popen.poll() is not None:
                    raise TopologyError(
                        f"{process.name} exited with {process.popen.returncode} "
                        f"before answering /healthz:\n{process.log_tail()}"
                    )
                if _healthy(process.port):
                    waiting.remove(process)
            if not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(p.name for p in waiting)
                raise TopologyError(
                    f"{names} did not answer /healthz within "
                    f"{self.startup_timeout:.0f} s:\n{waiting[0].log_tail()}"
                )
            time.sleep(0.1)

    def _terminate(
        self,
        processes: list[Process],
        *,
        timeout: float | None = None,
        sig: int = signal.SIGTERM,
    ) -> None:
        timeout = self.stop_timeout if timeout is None else timeout
        running = []
        for process in processes:
            process.stopping = True
            if process.popen is not None and process.popen.poll() is None:
                _signal_group(process.popen, sig)
                running.append(process)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for process in running:
            # The group too: a process may have left children behind.
            _signal_group(process.popen, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(5)

    def _make_database(self) -> None:
        if self.given_database_url:
            self.database_url = self.given_database_url
            return
        import psycopg

        name = self.database_name or f"hub_topo_{secrets.token_hex(4)}"
        if not name.replace("_", "").isalnum():
            raise TopologyError(f"database name {name!r}: letters, digits and _ only")
        with psycopg.connect(self.postgres_url, autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{name}"')
                self.created_database = True
        self.database_name = name
        self.database_url = _with_db(self.postgres_url, name)

    def _drop_database(self) -> None:
        import psycopg

        with psycopg.connect(self.postgres_url, autocommit=True) as connection:
            connection.execute(
                f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)'
            )


def _signal_group(popen: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)  # start_new_session: pgid == pid


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://{HOST}:{port}/healthz", timeout=2
        ) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


# Command line ----------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Start N ASGI processes (+ worker, scheduler) on a new "
        "PostgreSQL database and Redis, as compose.yaml does; Ctrl-C stops them.",
    )
    parser.add_argument("--asgi", type=int, default=2, help="ASGI processes (2)")
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default="daphne",
        help="ASGI server (daphne); uvicorn runs with "
        + " ".join(UVICORN_OPTIONS)
        + ", as compose.yaml",
    )
    parser.add_argument(
        "--server-arg",
        dest="server_args",
        action="append",
        default=[],
        help="extra option for the server, e.g. --server-arg=--ws-per-message-"
        "deflate=false (repeatable)",
    )
    parser.add_argument(
        "--port", type=int, default=8200, help="first port (8200); 0: free ports"
    )
    parser.add_argument("--worker", action="store_true", help="start db_worker")
    parser.add_argument("--scheduler", action="store_true", help="start run_scheduler")
    parser.add_argument("--database", help="database name (default: random)")
    parser.add_argument(
        "--postgres",
        help="server to create it on (default: DATABASE_URL's server, else "
        f"{DEFAULT_POSTGRES})",
    )
    parser.add_argument(
        "--redis", help=f"REDIS_URL (default: env, else {DEFAULT_REDIS})"
    )
    parser.add_argument(
        "--prefix",
        help="prefix of the hub's Redis pub/sub channels, HUB_CHANNEL_PREFIX "
        "(default: random)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database and logs on exit"
    )
    parser.add_argument(
        "--no-static", action="store_true", help="skip collectstatic (pages lose CSS)"
    )
    parser.add_argument(
        "--print-env",
        action="store_true",
        help="print the environment as export lines (to run manage.py against it)",
    )
    parser.add_argument("--stop-timeout", type=float, default=15.0)
    args = parser.parse_args(argv)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    topo = Topology(
        asgi=args.asgi,
        port=args.port or None,
        database=args.database,
        postgres_url=args.postgres,
        redis_url=args.redis,
        channel_prefix=args.prefix,
        worker=args.worker,
        scheduler=args.scheduler,
        keep=args.keep,
        collectstatic=not args.no_static,
        stop_timeout=args.stop_timeout,
        server=args.server,
        server_args=args.server_args,
    )
    started = time.monotonic()
    try:
        with topo:
            print(
                f"topology up in {time.monotonic() - started:.1f} s "
                f"({topo.server}: {shlex.join(topo.asgi_processes[0].argv[1:])})"
            )
            for process in topo.processes:
                where = f"http://{HOST}:{process.port}" if process.port else ""
                print(f"  {process.name:10} pid {process.pid:<8} {where}")
            fate = "kept" if topo.keep or not topo.created_database else "dropped"
            print(f"  DATABASE_URL={topo.database_url}  ({fate} on exit)")
            print(
                f"  REDIS_URL={topo.redis_url}  Redis channel prefix {topo.channel_prefix}"
            )
            print(f"  logs: {topo.log_dir}  (open files limit {topo.nofile})")
            if args.print_env:
                for name, value in topo.env.items():
                    print(f"export {name}={shlex.quote(value)}")
            print("Ctrl-C to stop.", flush=True)
            reported = set()
            while True:
                time.sleep(1)
                for process in topo.dead():
                    if process.name not in reported:
                        reported.add(process.name)
                        print(
                            f"!! {process.name} exited with "
                            f"{process.popen.returncode}:\n{process.log_tail(10)}",
                            flush=True,
                        )
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    except TopologyError as error:
        print(f"topology failed: {error}", file=sys.stderr)
        return 1
    print("stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
