"""Send -> other participant's socket latency of messaging, end to end.

One command::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hub \\
    REDIS_URL=redis://127.0.0.1:6379/3 \\
    .venv/bin/python bench/messaging_latency.py --messages 1000

What it does:

1. creates a throwaway database next to ``DATABASE_URL`` (PostgreSQL: a new
   database ``hub_bench_<pid>`` on that server, dropped at the end; SQLite or
   unset: a file in a temporary folder) and migrates it;
2. creates a school, a teacher (the sender), a guardian (the receiver) and
   one conversation between them;
3. starts real Daphne servers on free ports (subprocesses; with ``REDIS_URL``
   two of them, so the message crosses processes through Redis: the sender
   posts to one, the receiver's socket is held by the other);
4. logs both users in through the login page, opens the guardian's WebSocket
   (``websockets`` client) and subscribes to ``user:<id>``;
5. sends the messages one after another through the real HTTP path
   (``POST /messages/<id>/api/messages/``, as the page's script does) and
   times each from the start of the POST to the arrival of the matching
   ``messaging.message`` event frame on the guardian's socket;
6. as a baseline on the same socket, times ``ping`` -> ``pong`` round trips
   (paced under the socket's rate limit of 10 frames a second), and, for
   scale, plain ``GET /healthz`` round trips (a new database connection and
   ``SELECT 1``: Django closes connections after each request,
   ``conn_max_age=0``).

It prints median, p90, p99 and max in milliseconds, and the ratio of the
medians. The server's send rate limit (20 a minute, burst 5) is lifted in
the bench's processes only, or 1,000 sends would take 50 minutes; the token
bucket row is still read and written on every send.
"""

import argparse
import asyncio
import http.client
import json
import math
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-" + secrets.token_hex(8)
# The teacher's authenticator app: staff pass a second factor (core/twofactor).
TOTP_KEY = secrets.token_hex(20)
BODY = (
    "Bonjour, la sortie au musée est confirmée pour jeudi. Départ à 8 h 15 "
    "devant le collège, retour vers 16 h 30. Pensez au pique-nique. — n°{n}"
)


# Server side (run in the Daphne subprocesses) -------------------------------


def lift_limits_and_isolate() -> None:
    """Lift the send rate limit; give the hub's Redis channels this run's prefix.

    Called after ``django.setup()`` in every process of the bench, never in
    the hub itself.
    """
    from django.conf import settings

    from core.messaging import actions

    actions.SEND_BURST = 10**9
    actions.SEND_RATE_PER_SECOND = 10.0**9
    prefix = os.environ.get("BENCH_CHANNEL_PREFIX")
    if prefix:
        settings.HUB_CHANNEL_PREFIX = prefix


def serve(port: int) -> None:
    """Run Daphne on ``port`` with the bench's adjustments (a subprocess)."""
    import django

    django.setup()
    lift_limits_and_isolate()
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(
        ["-b", "127.0.0.1", "-p", str(port), "-v", "0", "core.asgi:application"]
    )


# Throwaway database ---------------------------------------------------------


class Database:
    """A database made for this run, dropped by :meth:`drop`."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.admin_url = None
        parsed = urllib.parse.urlsplit(url) if url else None
        if parsed and parsed.scheme.startswith("postgres"):
            import psycopg

            self.name = f"hub_bench_{os.getpid()}"
            self.admin_url = urllib.parse.urlunsplit(parsed._replace(path="/postgres"))
            with psycopg.connect(self.admin_url, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{self.name}"')
            self.url = urllib.parse.urlunsplit(parsed._replace(path="/" + self.name))
            self.kind = "PostgreSQL"
        else:
            self.name = str(workdir / "bench.sqlite3")
            self.url = "sqlite:///" + self.name
            self.kind = "SQLite"

    def drop(self) -> None:
        if self.admin_url is None:
            return
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def server_count(asked: int | None) -> int:
    """The hub processes to start: ``asked``, else 2 with ``REDIS_URL`` and 1
    without. Several need ``REDIS_URL`` (the in-memory layer is local to one
    process): without it, asking for more than one stops the bench."""
    redis_url = os.environ.get("REDIS_URL", "")
    servers = asked or (2 if redis_url else 1)
    if servers > 1 and not redis_url:
        raise SystemExit(
            "several servers need REDIS_URL (the in-memory layer is local)"
        )
    return servers


def bench_environment(
    prefix: str, allowed_hosts: str = "127.0.0.1", **extra: str
) -> tuple[Path, Database]:
    """Make a work directory (named from ``prefix``) and a throwaway database,
    and set the environment the hub's settings read, for this process and the
    servers it starts: fresh secret and message keys, no debug, plain cookies,
    warnings only, plus ``extra``. The caller drops the database and removes
    the directory when done."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    database = Database(os.environ.get("DATABASE_URL", ""), workdir)
    from cryptography.fernet import Fernet

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "core.settings",
            "DATABASE_URL": database.url,
            "VAR_DIR": str(workdir),
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "ALLOWED_HOSTS": allowed_hosts,
            "SECURE_COOKIES": "0",
            "MESSAGE_KEYS": Fernet.generate_key().decode(),
            "LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    return workdir, database


def bench_cleanup(workdir: Path, database: Database) -> None:
    """Undo :func:`bench_environment` once the servers are stopped: close
    this process's connections, drop the database, remove the directory."""
    try:
        from django.db import connections

        connections.close_all()
    except Exception:
        pass
    database.drop()
    shutil.rmtree(workdir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_school():
    """Create the school, sender, receiver and their conversation."""
    import datetime as dt

    from core.messaging import actions
    from core.roster.models import (
        AcademicSession,
        Enrollment,
        GuardianLink,
        Org,
        SchoolClass,
        User,
    )

    org = Org.objects.create(name="Collège du banc d'essai", uai="0000000X")
    session = AcademicSession.objects.create(
        org=org,
        title="2025-2026",
        start_date=dt.date(2025, 9, 1),
        end_date=dt.date(2026, 7, 4),
    )
    school_class = SchoolClass.objects.create(org=org, session=session, title="4e B")

    def user(username, role, first, last):
        return User.objects.create_user(
            username=username,
            password=PASSWORD,
            role=role,
            first_name=first,
            last_name=last,
        )

    teacher = user("bench.prof", User.Role.TEACHER, "Alice", "Martin")
    teacher.orgs.add(org)
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=teacher, name="bench", key=TOTP_KEY)
    pupil = user("bench.eleve", User.Role.STUDENT, "Léa", "Dubois")
    guardian = user("bench.parent", User.Role.GUARDIAN, "Karim", "Dubois")
    Enrollment.objects.create(user=teacher, school_class=school_class, role="teacher")
    Enrollment.objects.create(user=pupil, school_class=school_class, role="student")
    GuardianLink.objects.create(guardian=guardian, student=pupil)
    conversation = actions.start_conversation(
        sender=teacher,
        org=org,
        subject="Sortie au musée",
        recipients=[guardian],
        body="Bonjour",
        idempotency_key=uuid.uuid4().hex,
    )
    return teacher, guardian, conversation


# HTTP client ----------------------------------------------------------------


class Browser:
    """A logged-in HTTP/1.1 client on one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form=None, headers=None):
        """Return ``(status, headers, body)``; keeps cookies."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.connection.close()  # the server closed a kept-alive connection
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        data = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                self.cookies[name] = morsel.value
        return response.status, response.headers, data

    def login(self, username: str) -> None:
        self.request("GET", "/login/")
        status, headers, _ = self.request(
            "POST",
            "/login/",
            {
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.cookies["csrftoken"],
            },
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"cannot log in as {username} (HTTP {status})")
        self.second_step(username)

    def second_step(self, username: str) -> None:
        """Type the app's code if the hub asks for it (staff)."""
        from django_otp.oath import totp

        status, _, _ = self.request("GET", "/connexion/verification/")
        if status != 200:
            return  # nothing owed: redirected on
        status, _, _ = self.request(
            "POST",
            "/connexion/verification/",
            {
                "code": f"{totp(bytes.fromhex(TOTP_KEY)):06d}",
                "csrfmiddlewaretoken": self.cookies["csrftoken"],
            },
        )
        if status != 302:
            raise SystemExit(f"second factor of {username} refused (HTTP {status})")

    def send(self, conversation_id: int, n: int) -> tuple[float, int]:
        """Post message ``n``; return ``(response time, message id)``."""
        started = time.perf_counter()
        status, _, data = self.request(
            "POST",
            f"/messages/{conversation_id}/api/messages/",
            {"body": BODY.format(n=n), "idempotency_key": uuid.uuid4().hex},
            {"Accept": "application/json", "X-CSRFToken": self.cookies["csrftoken"]},
        )
        if status != 200:
            raise SystemExit(f"send {n}: HTTP {status} {data[:300]!r}")
        return time.perf_counter() - started, json.loads(data)["message"]["id"]


def wait_until_up(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"daphne on port {port} exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"daphne on port {port} did not answer /healthz")


# Measuring ------------------------------------------------------------------


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile ``p`` (0-100) of ``samples``."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {
        "median": statistics.median(ms),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
        "max": max(ms),
    }


async def measure(args, sender: Browser, receiver: Browser, receiver_port, ids):
    from websockets.asyncio.client import connect

    conversation_id, guardian_id = ids
    frames: asyncio.Queue = asyncio.Queue()
    async with connect(
        f"ws://127.0.0.1:{receiver_port}/ws/",
        origin=f"http://127.0.0.1:{receiver_port}",
        additional_headers={"Cookie": f"sessionid={receiver.cookies['sessionid']}"},
        max_size=2**20,
    ) as ws:

        async def read() -> None:
            async for raw in ws:
                frames.put_nowait((time.perf_counter(), json.loads(raw)))

        reader = asyncio.create_task(read())

        async def next_frame(kind: str) -> tuple[float, dict]:
            while True:
                arrived, frame = await asyncio.wait_for(frames.get(), 10)
                if frame["type"] == kind:
                    return arrived, frame
                if frame["type"] == "error":
                    raise SystemExit(f"socket error: {frame}")

        await next_frame("hello")
        stream = f"user:{guardian_id}"
        await ws.send(json.dumps({"type": "subscribe", "streams": [stream]}))
        await next_frame("subscribed")

        async def one_message(n: int) -> tuple[float, float]:
            started = time.perf_counter()
            post = asyncio.create_task(
                asyncio.to_thread(sender.send, conversation_id, n)
            )
            while True:
                arrived, frame = await next_frame("event")
                if frame["kind"] == "messaging.message" and frame["op"] == "new":
                    break
            answered, message_id = await post
            if frame["data"]["message_id"] != message_id:
                raise SystemExit(
                    f"frame for {frame['data']} while sending {message_id}"
                )
            return arrived - started, answered

        for n in range(args.warmup):
            await one_message(-n)
        socket_times, http_times = [], []
        for n in range(args.messages):
            to_socket, answered = await one_message(n)
            socket_times.append(to_socket)
            http_times.append(answered)

        ping_times = []
        for n in range(args.pings):
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "ping", "id": n}))
            arrived, _ = await next_frame("pong")
            ping_times.append(arrived - started)
            # The socket allows 10 frames a second after a burst of 60.
            await asyncio.sleep(max(0.0, 0.105 - (time.perf_counter() - started)))
        reader.cancel()
    return socket_times, http_times, ping_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--pings", type=int, default=300, help="ping round trips (10 a second)"
    )
    parser.add_argument(
        "--servers",
        type=int,
        default=None,
        help="Daphne processes (default: 2 with REDIS_URL, else 1)",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    redis_url = os.environ.get("REDIS_URL", "")
    servers = server_count(args.servers)
    workdir, database = bench_environment(
        "hub-bench-", BENCH_CHANNEL_PREFIX=f"bench{os.getpid()}"
    )
    processes = []
    try:
        import django

        django.setup()
        lift_limits_and_isolate()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        teacher, guardian, conversation = make_school()
        connections.close_all()

        ports = [free_port() for _ in range(servers)]
        for port in ports:
            processes.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--serve", str(port)], cwd=ROOT
                )
            )
        for port, process in zip(ports, processes, strict=True):
            wait_until_up(port, process)
        sender, receiver = Browser(ports[0]), Browser(ports[-1])
        sender.login(teacher.username)
        receiver.login(guardian.username)

        socket_times, http_times, ping_times = asyncio.run(
            measure(args, sender, receiver, ports[-1], (conversation.pk, guardian.pk))
        )
        health_times = []
        for _ in range(args.pings):
            started = time.perf_counter()
            status, _, _ = sender.request("GET", "/healthz")
            health_times.append(time.perf_counter() - started)
            assert status == 200, status
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        bench_cleanup(workdir, database)

    layer = "Redis pub/sub layer" if redis_url else "in-memory layer"
    print(
        f"\nmessaging latency: {args.messages} messages ({args.warmup} warm-up), "
        f"{database.kind} + {layer}, {servers} Daphne process(es)"
        + (" (sender on one, receiver's socket on the other)" if servers > 1 else "")
    )
    rows = [
        ("send -> receiver socket frame", summary(socket_times)),
        ("send -> HTTP response", summary(http_times)),
        (f"socket ping -> pong ({args.pings})", summary(ping_times)),
        (f"HTTP GET /healthz ({args.pings})", summary(health_times)),
    ]
    print(f"{'':34}{'median':>9}{'p90':>9}{'p99':>9}{'max':>9}  (ms)")
    for label, figures in rows:
        print(f"{label:34}" + "".join(f"{figures[k]:9.2f}" for k in figures))
    ratio = rows[0][1]["median"] / rows[2][1]["median"]
    print(f"median send -> socket is {ratio:.1f}x the median ping round trip")


if __name__ == "__main__":
    main()
