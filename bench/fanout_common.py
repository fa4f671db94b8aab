"""Shared pieces of the fan-out scenario benches.

Used by ``fanout_idle.py`` (S1, idle sockets), ``fanout_slow_readers.py`` (S4)
and ``fanout_reconnect.py`` (S5). The process measurements, the S2 client
(``Client``, ``client_main``) and its scenario runner (``run_scenario``) come
from ``fanout_broadcast.py`` (S2) and are imported, not copied. What is here:

- :func:`hub_topology`: a :class:`scripts.topology.Topology` plus
  ``django.setup()`` against it and a population of logged-in users;
- :class:`Tabs`, run in client processes by :func:`tabs_main`: sockets that
  behave like the hub's pages (``hub-client.js``): ``hello``, then
  ``subscribe`` to every stream ``hello`` lists (user, class, org), positions
  per stream checked for gaps and duplicates, and on a close (4503 first) a
  reconnection that sends ``resume`` with those positions;
- :class:`Fleet`: starts client processes and talks to them over pipes;
- :class:`LogWatch`: follows a server's log file and timestamps lines;
- :class:`Sampler`: a process's RSS and CPU over time.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Literal

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import fanout_broadcast as s2  # noqa: E402  (S2: measurements, client, runner)
from fanout_baselines import free_port, wait_for_port  # noqa: E402
from fanout_broadcast import (  # noqa: E402
    ROOT,
    code_revision,
    cpu_seconds,
    load_average,
    machine_info,
    percentile,
    raise_nofile,
    rss_mb,
)

from hub.events import HubEvent  # noqa: E402  (pydantic only: no Django needed)

__all__ = [
    "ROOT",
    "BenchEvent",
    "Fleet",
    "LogWatch",
    "Sampler",
    "code_revision",
    "cpu_seconds",
    "env_pairs",
    "free_port",
    "hub_topology",
    "load_average",
    "machine_info",
    "nofile_limits",
    "open_files",
    "percentile",
    "raise_nofile",
    "rss_mb",
    "s2",
    "shares",
    "summary_ms",
    "tabs_main",
    "user_streams",
    "vm_rss_kb",
    "wait_for_port",
]


class BenchEvent(HubEvent):
    """The scenario benches' event kind: publish time, a counter, padding."""

    kind = "bench.scenario"
    notify = False
    op: Literal["tick"]
    t0: float
    n: int = 0
    pad: str = ""


def summary_ms(seconds: list[float]) -> dict:
    """p50 / p90 / p99 / max of latencies given in seconds, in ms."""
    ms = sorted(x * 1000 for x in seconds)
    if not ms:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}
    return {
        "count": len(ms),
        "p50": round(percentile(ms, 50), 1),
        "p90": round(percentile(ms, 90), 1),
        "p99": round(percentile(ms, 99), 1),
        "max": round(ms[-1], 1),
    }


def vm_rss_kb(pid: int) -> int:
    """``VmRSS`` of ``pid`` in kB, from ``/proc/<pid>/status``."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def open_files(pid: int) -> int:
    """How many file descriptors ``pid`` holds."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def nofile_limits(pid: int) -> str:
    """The soft and hard open-files limits of ``pid`` (``/proc/<pid>/limits``)."""
    try:
        with open(f"/proc/{pid}/limits") as limits:
            for line in limits:
                if line.startswith("Max open files"):
                    soft, hard = line.split()[3:5]
                    return f"{soft}/{hard}"
    except OSError:
        pass
    return "?"


# The hub under test ----------------------------------------------------------


@contextlib.asynccontextmanager
async def hub_topology(
    asgi: int,
    users: int,
    *,
    env: dict | None = None,
    server: str = "daphne",
    guardians: int = 1,
    log_dir: str | Path | None = None,
    redis_url: str | None = None,
):
    """Start ``asgi`` ASGI processes (``server``: ``daphne`` or ``uvicorn``),
    set Django up against them, populate.

    Yields ``(topo, school)``: :class:`scripts.topology.Topology` and
    :class:`scripts.population.Population` of at least ``users`` users
    (pupils and guardians interleaved). This process can then write events
    with ``hub.send_event`` into the same database and Redis prefix. The
    servers' logs go to ``log_dir`` (kept) or to the topology's temporary
    folder (removed). Redis is ``redis_url``, or by default a private
    ``redis-server`` started for the run (:func:`private_redis`).
    """
    from scripts.topology import Topology

    private = None
    if redis_url is None:
        private, redis_url = private_redis()
    try:
        topo = Topology(
            asgi=asgi,
            env={**s2.NO_CAPS, **(env or {})},
            server=server,
            log_dir=log_dir,
            redis_url=redis_url,
        ).start()
    except BaseException:
        stop_process(private)
        raise
    try:
        os.environ.update(topo.env)
        import django

        django.setup()
        from channels.db import database_sync_to_async

        from scripts.population import populate

        started = time.monotonic()
        per_class = 25 * (1 + guardians)
        school = await database_sync_to_async(populate)(
            classes=math.ceil(users / per_class), guardians=guardians
        )
        print(
            f"   population: {len(school.sessions)} users and sessions in "
            f"{time.monotonic() - started:.1f} s (database {topo.database_url}, "
            f"logs {topo.log_dir})",
            flush=True,
        )
        yield topo, school
    finally:
        try:
            topo.stop()
        except Exception as error:  # keep the figures of a finished run
            print(
                f"warning: stopping the topology failed ({error}); database "
                f"{topo.database_name} may be left behind",
                flush=True,
            )
        stop_process(private)


def private_redis() -> tuple[subprocess.Popen, str]:
    """Start a Redis of the bench's own on a free port; return it and its URL.

    The shared Redis is also used by test runs, and a test that kills every
    pub/sub client (``CLIENT KILL TYPE pubsub``) would cut the hub's
    subscriptions in the middle of a measurement.
    """
    port = free_port()
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxclients",
            "20000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"redis-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("redis-server did not start in 10 s")


def stop_process(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def env_pairs(pairs: list[str]) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` (the benches' ``--env``) as a dict."""
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--env wants NAME=VALUE, not {pair!r}")
        env[name] = value
    return env


def user_streams(school) -> dict[int, list[str]]:
    """The streams a page of each pupil and guardian follows: user, class, org."""
    from core.roster.models import Enrollment, GuardianLink

    org = f"org:{school.org.pk}"
    class_of = dict(
        Enrollment.objects.filter(
            user_id__in=school.students, role=Enrollment.Role.STUDENT
        ).values_list("user_id", "school_class_id")
    )
    child_of = dict(
        GuardianLink.objects.filter(guardian_id__in=school.guardians).values_list(
            "guardian_id", "student_id"
        )
    )
    streams = {}
    for pk in school.students:
        streams[pk] = [f"user:{pk}", f"class:{class_of[pk]}", org]
    for pk in school.guardians:
        streams[pk] = [f"user:{pk}", f"class:{class_of[child_of[pk]]}", org]
    return streams


# Client processes: sockets that behave like the hub's pages ------------------

TCP_CLOSE_STATES = {7: "CLOSE", 8: "CLOSE_WAIT", 11: "CLOSING", 9: "LAST_ACK"}


def tabs_main(conn, spec: dict) -> None:
    """Entry point of a client process (multiprocessing, spawn)."""
    raise_nofile()
    try:
        asyncio.run(Tabs(conn, spec).run())
    except Exception as error:  # report, never hang the parent
        conn.send({"fatal": f"{type(error).__name__}: {error}"})


class Tab:
    """One socket of a page, across reconnections."""

    __slots__ = (
        "index",
        "cookie",
        "positions",
        "ws",
        "url_index",
        "attempts",
        "closed_at",
        "close_code",
        "bye",
        "resumed_at",
        "replayed",
        "paused",
        "tcp_closed_at",
        "tcp_state",
        "avoid",
    )

    def __init__(self, index: int, cookie: str) -> None:
        self.index = index
        self.cookie = cookie
        self.positions: dict[str, list] = {}  # stream -> [epoch, offset]
        self.ws = None
        self.url_index = 0
        self.attempts = 0  # connections opened after the first
        self.closed_at = None  # first close by the server, time.time()
        self.close_code = None
        self.bye = None
        self.resumed_at = None  # "resumed" on the connection after that close
        self.replayed = 0  # events that came before "resumed"
        self.paused = False
        self.tcp_closed_at = None
        self.tcp_state = None
        self.avoid = None  # the process that closed this socket with 4503


class Tabs:
    """A share of the sockets in one client process.

    ``spec`` keys: ``urls`` and ``origins`` (one per server process),
    ``cookies``, ``start`` (index of the URL to open first), ``concurrency``
    (handshakes in flight while opening), ``open_retries`` (a socket that
    fails to open tries again, up to this many times), ``open_timeout``,
    ``compression``
    (``"deflate"`` or ``None``), ``reconnect`` (reconnect and ``resume``
    after a close), ``base_delay`` (a 4503 reconnects after a random delay
    under it, as ``hub-client.js``), ``slow`` (these sockets announce an
    Ethernet MSS and a tiny receive buffer, then stop reading when told),
    ``rcvbuf``, ``streams`` (subscribe to these rather than every stream
    ``hello`` lists), ``latencies`` (record publish -> receipt).

    Parent -> child: ``"status"``, ``"pause"`` (slow sockets stop reading),
    ``"stop"``. Child -> parent: ``{"ready": ...}`` once every socket is open
    and subscribed, ``{"status": ...}``, ``{"paused": n}``, ``{"result": ...}``
    after ``"stop"``.
    """

    def __init__(self, conn, spec: dict) -> None:
        self.conn = conn
        self.spec = spec
        self.tabs = [Tab(i, c) for i, c in enumerate(spec["cookies"])]
        self.stopping = False
        self.gaps = 0
        self.duplicates = 0
        self.resets = 0
        self.errors = 0
        self.early = 0  # events of a stream before its position was known
        self.events = 0
        self.latencies: list[float] = []  # publish -> receipt, s
        self.closes = collections.Counter()
        self.failures = collections.Counter()
        self.other = collections.Counter()
        self.open_now = 0
        self.open_retries = 0
        self.opened_gate = asyncio.Semaphore(spec.get("concurrency", 25))
        self.reconnect_gate = (
            asyncio.Semaphore(spec["reconnect_concurrency"])
            if spec.get("reconnect_concurrency")
            else None
        )

    async def run(self) -> None:
        started = time.monotonic()
        firsts = [asyncio.get_running_loop().create_future() for _ in self.tabs]
        lives = [
            asyncio.create_task(self.life(tab, first))
            for tab, first in zip(self.tabs, firsts, strict=True)
        ]
        opened = await asyncio.gather(*firsts)
        self.conn.send(
            {
                "ready": sum(opened),
                "failures": dict(self.failures),
                "retries": self.open_retries,
                "seconds": time.monotonic() - started,
            }
        )
        watcher = None
        if self.spec.get("slow"):
            watcher = asyncio.create_task(self.watch_tcp())
        while True:
            command = await asyncio.to_thread(self.conn.recv)
            if command == "status":
                self.conn.send({"status": self.status()})
            elif command == "pause":
                for tab in self.tabs:
                    if tab.ws is not None:
                        tab.ws.transport.pause_reading()
                        tab.paused = True
                self.conn.send({"paused": sum(t.paused for t in self.tabs)})
            elif command == "stop":
                break
        self.stopping = True
        if watcher is not None:
            watcher.cancel()
        for tab in self.tabs:
            if tab.ws is not None:
                tab.ws.transport.abort()
        for task in lives:
            task.cancel()
        await asyncio.gather(*lives, return_exceptions=True)
        self.conn.send({"result": self.result()})

    def status(self) -> dict:
        return {
            "open": self.open_now,
            "closed": sum(1 for t in self.tabs if t.closed_at is not None),
            "resumed": sum(1 for t in self.tabs if t.resumed_at is not None),
            "tcp_closed": sum(1 for t in self.tabs if t.tcp_closed_at is not None),
            "events": self.events,
        }

    def result(self) -> dict:
        return {
            "tabs": [
                {
                    "closed_at": t.closed_at,
                    "close_code": t.close_code,
                    "bye": t.bye,
                    "resumed_at": t.resumed_at,
                    "attempts": t.attempts,
                    "replayed": t.replayed,
                    "url_index": t.url_index,
                    "positions": t.positions,
                    "tcp_closed_at": t.tcp_closed_at,
                    "tcp_state": t.tcp_state,
                }
                for t in self.tabs
            ],
            "gaps": self.gaps,
            "duplicates": self.duplicates,
            "resets": self.resets,
            "errors": self.errors,
            "early": self.early,
            "events": self.events,
            "latencies": self.latencies,
            "closes": dict(self.closes),
            "failures": dict(self.failures),
            "other": dict(self.other),
        }

    # One socket ---------------------------------------------------------------

    async def life(self, tab: Tab, first: asyncio.Future) -> None:
        """Open, subscribe, read; after a close, reconnect and resume."""
        spec = self.spec
        tab.url_index = spec.get("start", 0)
        async with self.opened_gate:
            ok = await self.session(tab, first=True)
            tries = 0
            while not ok and tries < spec.get("open_retries", 0):
                # A page that failed to connect tries again (back-off, jitter).
                tries += 1
                self.open_retries += 1
                await asyncio.sleep(random.uniform(0, min(10.0, 0.5 * 2**tries)))
                ok = await self.session(tab, first=True)
        first.set_result(ok)
        if not ok or not spec.get("reconnect"):
            await self.read(tab)
            return
        delay_base = spec.get("base_delay", 0.5)
        failures_in_row = 0
        while not self.stopping:
            code = await self.read(tab)
            if self.stopping:
                return
            if tab.closed_at is None:
                tab.closed_at = time.time()
                tab.close_code = code
            # hub-client.js: after 4503 reconnect at once (a random delay under
            # one base delay), elsewhere; otherwise exponential back-off with
            # full jitter.
            if code == 4503 and failures_in_row == 0:
                wait = random.uniform(0, delay_base)
            else:
                wait = random.uniform(0, min(30.0, delay_base * 2**failures_in_row))
            await asyncio.sleep(wait)
            # A proxy sends the new connection to another process than the
            # one that said 4503 (not to one that refuses connections).
            if code == 4503:
                tab.avoid = tab.url_index
            others = [i for i in range(len(spec["urls"])) if i != tab.avoid]
            tab.url_index = others[tab.attempts % len(others)] if others else 0
            tab.attempts += 1
            gate = self.reconnect_gate or contextlib.nullcontext()
            async with gate:
                ok = await self.session(tab, first=False)
            failures_in_row = 0 if ok else failures_in_row + 1

    async def session(self, tab: Tab, *, first: bool) -> bool:
        """Connect, read ``hello``, send ``subscribe`` (first time) or
        ``resume``, and read up to its reply. Returns whether it got there."""
        from websockets.asyncio.client import connect

        spec = self.spec
        url = spec["urls"][tab.url_index]
        extra = {}
        if spec.get("slow"):
            # A phone on a real network: an Ethernet MSS (on loopback the MSS
            # is 64 KiB and the kernel would buffer ~3 MB for the server) and
            # a small receive buffer, set before connecting.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1448)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, spec["rcvbuf"])
            sock.setblocking(False)
            host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
            try:
                await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
            except OSError as error:
                sock.close()
                self.failures[type(error).__name__] += 1
                return False
            extra["sock"] = sock
        try:
            ws = await connect(
                url,
                origin=spec["origins"][tab.url_index],
                additional_headers={"Cookie": f"sessionid={tab.cookie}"},
                compression=spec.get("compression"),
                proxy=None,
                open_timeout=spec.get("open_timeout", 60),
                ping_interval=None,
                close_timeout=2,
                max_queue=None,
                **extra,
            )
        except Exception as error:
            self.failures[_why(error)] += 1
            return False
        tab.ws = ws
        try:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if hello.get("type") != "hello":
                raise RuntimeError(f"first frame {hello.get('type')}")
            wanted_streams = spec.get("streams") or hello["streams"]
            if first:
                request = {"type": "subscribe", "id": "s", "streams": wanted_streams}
                reply_type = "subscribed"
            else:
                wanted = {
                    name: (
                        {
                            "epoch": tab.positions[name][0],
                            "offset": tab.positions[name][1],
                        }
                        if name in tab.positions
                        else None
                    )
                    for name in wanted_streams
                }
                request = {"type": "resume", "id": "r", "streams": wanted}
                reply_type = "resumed"
            await ws.send(json.dumps(request))
            replayed = 0
            while True:
                raw = await asyncio.wait_for(ws.recv(), 60)
                frame = json.loads(raw)
                kind = self.on_frame(tab, frame, time.time())
                if kind == reply_type:
                    break
                if kind == "event":
                    replayed += 1
                if kind == "error":
                    raise RuntimeError(f"error {frame.get('code')}")
        except Exception as error:
            self.failures[_why(error, ws)] += 1
            ws.transport.abort()
            tab.ws = None
            return False
        if not first:
            tab.replayed += replayed
            if tab.closed_at is not None and tab.resumed_at is None:
                tab.resumed_at = time.time()
        self.open_now += 1
        return True

    async def read(self, tab: Tab) -> int | None:
        """Read frames until the socket closes; return the close code."""
        from websockets.exceptions import ConnectionClosed

        ws = tab.ws
        if ws is None:
            return None
        try:
            async for raw in ws:
                self.on_frame(tab, json.loads(raw), time.time())
        except ConnectionClosed:
            pass
        except Exception as error:
            self.other[f"read: {type(error).__name__}"] += 1
        finally:
            self.open_now -= 1
            tab.ws = None
        code = ws.close_code
        if not self.stopping:
            self.closes[str(code)] += 1
        return code

    def on_frame(self, tab: Tab, frame: dict, now: float) -> str:
        """Check one frame against the tab's positions; return its type."""
        kind = frame.get("type")
        if kind == "event":
            self.events += 1
            name = frame["stream"]
            held = tab.positions.get(name)
            if held is None or held[0] != frame["epoch"]:
                self.early += 1
                tab.positions[name] = [frame["epoch"], frame["offset"]]
            else:
                offset, last = frame["offset"], held[1]
                if offset <= last:
                    self.duplicates += 1
                    return kind
                if offset > last + 1:
                    self.gaps += offset - last - 1
                held[1] = offset
            t0 = frame.get("data", {}).get("t0")
            if t0 is not None and self.spec.get("latencies", True):
                self.latencies.append(now - t0)
        elif kind in ("subscribed", "resumed"):
            for name, where in frame["streams"].items():
                held = tab.positions.get(name)
                if held is not None and held[0] == where["epoch"]:
                    if where["offset"] > held[1]:
                        # The server says we are further on than we were told.
                        self.gaps += where["offset"] - held[1]
                        held[1] = where["offset"]
                    elif where["offset"] < held[1]:
                        self.other["position went back"] += 1
                else:
                    tab.positions[name] = [where["epoch"], where["offset"]]
        elif kind == "reset":
            self.resets += 1
            tab.positions[frame["stream"]] = [frame["epoch"], frame["offset"]]
        elif kind == "bye":
            tab.bye = frame.get("reason")
        elif kind == "error":
            self.errors += 1
        else:
            self.other[kind] += 1
        return kind

    async def watch_tcp(self) -> None:
        """Slow sockets do not read, so they cannot see a close frame: watch
        their TCP state instead (the server aborts after its close times out)."""
        while True:
            now = time.time()
            for tab in self.tabs:
                ws = tab.ws
                if ws is None or tab.tcp_closed_at is not None:
                    continue
                sock = ws.transport.get_extra_info("socket")
                if sock is None:
                    continue
                try:
                    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
                except OSError:
                    continue
                state = struct.unpack("B", info[:1])[0]
                if state in TCP_CLOSE_STATES:
                    tab.tcp_closed_at = now
                    tab.tcp_state = TCP_CLOSE_STATES[state]
            await asyncio.sleep(0.1)


def _why(error: Exception, ws=None) -> str:
    code = getattr(ws, "close_code", None) if ws is not None else None
    if code:
        return f"closed {code}"
    status = getattr(getattr(error, "response", None), "status_code", None)
    if status:
        return f"HTTP {status}"
    return type(error).__name__


class Fleet:
    """Client processes (multiprocessing, spawn), each running ``target``.

    ``target`` is :func:`tabs_main` or S2's ``client_main``; ``specs`` one
    dict per process.
    """

    def __init__(self, target, specs: list[dict]) -> None:
        context = multiprocessing.get_context("spawn")
        self.target = target
        self.processes, self.pipes = [], []
        for spec in specs:
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=target, args=(child_end, spec), daemon=True
            )
            process.start()
            self.processes.append(process)
            self.pipes.append(parent_end)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    async def receive(self, index: int, key: str, timeout: float) -> dict:
        """The next message of process ``index`` that has ``key``."""
        pipe = self.pipes[index]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while pipe.poll():
                try:
                    message = pipe.recv()
                except EOFError:
                    raise SystemExit(
                        f"client process {index} died (exit code "
                        f"{self.processes[index].exitcode})"
                    ) from None
                if "fatal" in message:
                    raise SystemExit(f"client process {index}: {message['fatal']}")
                if key in message:
                    return message
            await asyncio.sleep(0.01)
        raise SystemExit(f"no {key!r} from client process {index} in {timeout:.0f} s")

    async def gather(self, key: str, timeout: float) -> list[dict]:
        return [await self.receive(i, key, timeout) for i in range(len(self.pipes))]

    async def ask(self, command: str, key: str, timeout: float = 60) -> list[dict]:
        for pipe in self.pipes:
            pipe.send(command)
        return await self.gather(key, timeout)

    async def ready(self, timeout: float) -> dict:
        """Wait for every ``ready``; return the total and failures."""
        readies = await self.gather("ready", timeout)
        failures = collections.Counter()
        for message in readies:
            failures.update(message.get("failures", {}))
        return {
            "open": sum(m["ready"] for m in readies),
            "failures": dict(failures),
            "retries": sum(m.get("retries", 0) for m in readies),
            "seconds": max(m["seconds"] for m in readies),
        }

    @staticmethod
    def opened_line(opened: dict) -> str:
        """``N open in S s[, failures {...}]`` for what :meth:`ready` returned."""
        failures = opened["failures"]
        return f"   {opened['open']} open in {opened['seconds']:.1f} s" + (
            f", failures {failures}" if failures else ""
        )

    def close(self) -> None:
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()


def shares(items: list, parts: int) -> list[list]:
    """``items`` dealt round-robin into ``parts`` lists (none empty)."""
    parts = max(1, min(parts, len(items)))
    return [items[i::parts] for i in range(parts)]


# Server-side observation -----------------------------------------------------


class LogWatch:
    """Follow a log file from its current end; keep matching lines with the
    time they were seen (Django's log lines carry no timestamp)."""

    def __init__(self, path: Path, pattern: str) -> None:
        self.path = Path(path)
        self.pattern = re.compile(pattern)
        self.lines: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._offset = self.path.stat().st_size if self.path.exists() else 0
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        partial = ""
        while not self._stop.is_set():
            try:
                with open(self.path, errors="replace") as log:
                    log.seek(self._offset)
                    chunk = log.read()
                    self._offset = log.tell()
            except OSError:
                chunk = ""
            if chunk:
                now = time.time()
                text = partial + chunk
                *complete, partial = text.split("\n")
                for line in complete:
                    if self.pattern.search(line):
                        self.lines.append((now, line))
            self._stop.wait(0.05)

    def stop(self) -> list[tuple[float, str]]:
        self._stop.set()
        self._thread.join(2)
        return self.lines


class Sampler:
    """Sample a process's RSS (MB) and CPU seconds every ``period`` seconds."""

    def __init__(self, pid: int, period: float = 0.5) -> None:
        self.pid = pid
        self.period = period
        self.samples: list[tuple[float, float, float]] = []  # (time, MB, cpu s)
        self.task: asyncio.Task | None = None

    def start(self) -> Sampler:
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            self.samples.append((time.time(), rss_mb(self.pid), cpu_seconds(self.pid)))
            await asyncio.sleep(self.period)

    async def stop(self) -> list[tuple[float, float, float]]:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.samples.append((time.time(), rss_mb(self.pid), cpu_seconds(self.pid)))
        return self.samples


def add_hub_arguments(parser, *, log_dir: bool = True) -> None:
    """Add the options every scenario bench gives its hub topology:
    ``--env``, ``--log-dir`` (when ``log_dir``), ``--redis``, ``--server``
    and ``--json``."""
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the hub's processes (repeatable)",
    )
    if log_dir:
        parser.add_argument(
            "--log-dir", type=Path, help="keep the hub processes' logs in this folder"
        )
    parser.add_argument(
        "--redis",
        help="the hub's Redis (default: a private redis-server for the run)",
    )
    parser.add_argument(
        "--server",
        choices=("daphne", "uvicorn"),
        default="daphne",
        help="the hub's ASGI server (scripts/topology.py --server; daphne)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")


def run_bench_main(args, bench, report) -> None:
    """Run ``bench(args)`` and ``report(args, results)`` with the machine and code
    printed first, the run time after, and the figures in ``--json`` if given.

    ``args`` needs ``sockets`` and ``json``; ``bench`` is an async function.
    """
    soft, hard = raise_nofile()
    if soft < args.sockets + 200:
        print(f"warning: open files limit {soft} (hard {hard}) < {args.sockets + 200}")
    print(f"machine: {machine_info()}; load average {load_average()}")
    print(f"code: {ROOT} at {code_revision()}")
    started = time.monotonic()
    results = asyncio.run(bench(args))
    report(args, results)
    print(f"total run time {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "machine": machine_info(),
                    "code": code_revision(),
                    "results": results,
                },
                indent=2,
            )
        )
