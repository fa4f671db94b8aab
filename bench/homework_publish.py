"""Homework published to a class → every socket, beside the roll call, one run.

One command::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hub \\
    REDIS_URL=redis://127.0.0.1:6379/15 \\
    .venv/bin/python bench/homework_publish.py --rounds 50

Without ``DATABASE_URL`` and ``REDIS_URL`` it measures the embedded default
(SQLite, in-memory layer, one hub process).

What it does:

1. creates a throwaway database (``messaging_latency.Database``: PostgreSQL
   ``hub_bench_<pid>`` on the server of ``DATABASE_URL``, dropped at the
   end; else a SQLite file) and migrates it;
2. creates one school: a class of ``--pupils`` (30) pupils with two
   guardians each (60; each with an e-mail address and one push device, so
   planning writes every kind of delivery row), its teacher (with a TOTP
   device), one lesson a round for the roll calls (the first going on now,
   the others earlier, so every roll call is a first one) and the class's
   next maths lessons (a homework's default due date is the next lesson of
   its subject);
3. starts real hub processes (``scripts.topology.server_argv``: uvicorn as
   in ``compose.yaml`` by default, ``--server daphne``). With ``REDIS_URL``
   two: the teacher's requests go to the first, every socket is held by the
   second, so each event crosses processes through Redis;
4. logs the teacher in through ``/login/`` and the second factor; writes
   the families' sessions (``scripts.population.create_sessions``: what
   ``login()`` stores, without 90 password hashes); opens one socket per
   pupil and per guardian, each subscribed to every stream its ``hello``
   offers, as ``hub-client.js`` does on the notebook page (its ``user:``,
   ``class:`` and ``org:`` streams);
5. runs ``--warmup`` then ``--rounds`` rounds; each round, in alternating
   order:

   - **homework**: ``GET /homework/class/<id>/``, then ``POST`` of its form
     (multipart, as the page's form) with a new title and an empty due date,
     then the ``GET`` of the redirect. Timed from just before the ``POST`` to
     the arrival of ``homework.item`` (``published``, matched by title) on
     **every** socket (the class stream: 30 pupils, 60 guardians);
   - **roll call**: ``GET /absences/roll-call/<lesson>/``, ``POST`` marking
     1 to 3 pupils absent, ``GET`` of the redirect. Timed from just before
     the ``POST`` to the arrival of ``attendance.record`` (matched by lesson
     and pupil) on each absent pupil's guardians' sockets;
   - **ping**: ``ping`` on every socket at once → its ``pong``: the sockets'
     own round trip, with as many frames in flight as a homework delivers;

6. stops the hub processes, then plans the delivery of every event of the
   measured rounds in the bench process, against the same database:
   ``hub.delivery.planning.plan_event(event_id)``, as the worker would (no
   worker runs during the HTTP phase, so none was planned before), timed and
   its queries counted (``CaptureQueriesContext``).

It prints p50/p99/max per path, the per-round "last socket" latency, the
ratios homework/roll call and homework/ping, and the planning figures per
event and per action. ``--json FILE`` keeps them.
"""

import argparse
import asyncio
import collections
import datetime as dt
import gc
import json
import os
import platform
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from messaging_latency import (
    PASSWORD,
    TOTP_KEY,
    Browser,
    bench_cleanup,
    bench_environment,
    free_port,
    percentile,
    server_count,
    wait_until_up,
)
from morning_rush import FormFields

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MATHS = "Mathématiques"
HISTORY = "Histoire-géographie"
TITLE = "Exercices 12 à 15 p. 87 (fractions), série {token}"
TEXT = (
    "Refaire les exercices du cours. Rédiger proprement sur la copie double ; "
    "les calculs intermédiaires doivent apparaître."
)


# School ---------------------------------------------------------------------


def make_school(pupils: int, roll_calls: int) -> dict:
    """The class, its people and lessons; returns ids the run needs."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from core.roster.models import (
        AcademicSession,
        Enrollment,
        GuardianLink,
        Org,
        SchoolClass,
        User,
    )
    from core.timetable.models import Feed, Lesson, Occurrence
    from hub.delivery.models import PushSubscription
    from scripts.population import create_sessions

    org = Org.objects.create(name="Collège du banc d'essai", uai="0000000X")
    today = timezone.localdate()
    year = today.year if today.month >= 9 else today.year - 1
    session = AcademicSession.objects.create(
        org=org,
        title=f"{year}-{year + 1}",
        start_date=dt.date(year, 9, 1),
        end_date=dt.date(year + 1, 7, 4),
    )
    school_class = SchoolClass.objects.create(org=org, session=session, title="4e B")
    teacher = User.objects.create_user(
        username="bench.prof",
        password=PASSWORD,
        role=User.Role.TEACHER,
        first_name="Alice",
        last_name="Martin",
        email="alice.martin@example.org",
    )
    teacher.orgs.add(org)
    TOTPDevice.objects.create(user=teacher, name="bench", key=TOTP_KEY)
    Enrollment.objects.create(
        user=teacher, school_class=school_class, role=Enrollment.Role.TEACHER
    )
    unusable = make_password(None)
    family = []
    for n in range(pupils):
        pupil = User(
            username=f"bench.eleve{n}",
            password=unusable,
            role=User.Role.STUDENT,
            first_name=f"Élève{n}",
            last_name="Dubois",
        )
        guardians = [
            User(
                username=f"bench.parent{n}.{g}",
                password=unusable,
                role=User.Role.GUARDIAN,
                first_name=f"Parent{g}",
                last_name=f"Dubois{n}",
                email=f"parent{n}.{g}@example.org",
            )
            for g in range(2)
        ]
        family.append((pupil, guardians))
    User.objects.bulk_create(
        [p for p, _ in family] + [g for _, gs in family for g in gs]
    )
    Enrollment.objects.bulk_create(
        [
            Enrollment(user=p, school_class=school_class, role=Enrollment.Role.STUDENT)
            for p, _ in family
        ]
    )
    GuardianLink.objects.bulk_create(
        [GuardianLink(guardian=g, student=p) for p, gs in family for g in gs]
    )
    PushSubscription.objects.bulk_create(
        [
            PushSubscription(
                user=g,
                endpoint=f"https://push.example.org/send/{secrets.token_hex(16)}",
                p256dh="B" + secrets.token_urlsafe(64)[:86],
                auth=secrets.token_urlsafe(16)[:22],
            )
            for _, gs in family
            for g in gs
        ]
    )

    # Lessons: one per roll call (the first going on now, then one an hour
    # earlier each), and the next maths lessons (due dates).
    feed = Feed.objects.create(school_class=school_class, name="bench.ics")
    now = timezone.now().replace(second=0, microsecond=0)
    starts = [
        (HISTORY, now - dt.timedelta(minutes=5 + 60 * j)) for j in range(roll_calls)
    ]
    first_day = timezone.localtime(now).date() + dt.timedelta(days=1)
    starts += [
        (
            MATHS,
            timezone.make_aware(
                dt.datetime.combine(first_day + dt.timedelta(days=d), dt.time(8))
            ),
        )
        for d in (0, 2, 7, 9)
    ]
    occurrences = []
    for n, (subject, start) in enumerate(starts):
        lesson = Lesson.objects.create(
            feed=feed,
            school_class=school_class,
            uid=f"bench-{n}",
            subject=subject,
            room="B12",
            teacher_names="MARTIN A.",
        )
        occurrence = Occurrence.objects.create(
            lesson=lesson,
            school_class=school_class,
            recurrence_key="",
            start=start,
            end=start + dt.timedelta(minutes=55),
            subject=subject,
            room="B12",
            teacher_names="MARTIN A.",
        )
        occurrence.teachers.add(teacher)
        occurrences.append(occurrence)
    sessions = create_sessions([u for p, gs in family for u in (p, *gs)])
    return {
        "class_id": school_class.pk,
        "org_id": org.pk,
        "teacher": teacher.username,
        "pupils": [p.pk for p, _ in family],
        "guardians": {p.pk: [g.pk for g in gs] for p, gs in family},
        "sockets": [
            (u.pk, "pupil" if u is p else "guardian", sessions[u.pk])
            for p, gs in family
            for u in (p, *gs)
        ],
        "roll_call_lessons": [o.pk for o in occurrences[:roll_calls]],
    }


# Teacher's browser ----------------------------------------------------------


class Teacher(Browser):
    """``messaging_latency.Browser`` plus the page forms' multipart ``POST``."""

    def post_multipart(self, path: str, fields: list[tuple[str, str]]):
        from urllib3 import encode_multipart_formdata

        body, content_type = encode_multipart_formdata(fields)
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "Content-Type": content_type,
            "Origin": f"http://127.0.0.1:{self.port}",
            "Referer": f"http://127.0.0.1:{self.port}{path}",
        }
        self.connection.request("POST", path, body=body, headers=headers)
        response = self.connection.getresponse()
        response.read()
        self.remember(response)
        return response.status, response.headers.get("Location", "")

    def remember(self, response) -> None:
        from http.cookies import SimpleCookie

        for value in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                self.cookies[name] = morsel.value

    def form(self, path: str) -> dict[str, str]:
        status, _, body = self.request("GET", path)
        if status != 200:
            raise SystemExit(f"GET {path}: HTTP {status}")
        parser = FormFields()
        parser.feed(body.decode())
        return parser.fields

    def publish(self, class_id: int, title: str):
        """GET the class page, POST its form; return (t0, POST s, status)."""
        path = f"/homework/class/{class_id}/"
        fields = self.form(path)
        fields.update(
            subject=MATHS,
            title=title,
            kind="exercise",
            text=TEXT,
            links="",
            due_date="",
            handin_deadline="",
            publish_at="",
            late_allowed="on",
        )
        fields.pop("handin_required", None)
        fields["csrfmiddlewaretoken"] = self.cookies["csrftoken"]
        return self._post_and_follow(path, list(fields.items()), multipart=True)

    def roll_call(self, lesson: int, pupils: list[int], absent: list[int]):
        path = f"/absences/roll-call/{lesson}/"
        self.form(path)
        fields = [("csrfmiddlewaretoken", self.cookies["csrftoken"])]
        for pupil in pupils:
            fields.append(
                (f"status-{pupil}", "absent" if pupil in absent else "present")
            )
            fields.append((f"minutes-{pupil}", ""))
        return self._post_and_follow(path, fields, multipart=False)

    def _post_and_follow(self, path, fields, *, multipart: bool):
        t0 = time.perf_counter()
        if multipart:
            status, location = self.post_multipart(path, fields)
        else:
            status, headers, _ = self.request(
                "POST",
                path,
                fields,
                {
                    "Origin": f"http://127.0.0.1:{self.port}",
                    "Referer": f"http://127.0.0.1:{self.port}{path}",
                },
            )
            location = headers.get("Location", "")
        post_s = time.perf_counter() - t0
        if status == 302:
            self.request("GET", urllib.parse.urlsplit(location).path)
        return t0, post_s, status


# Sockets --------------------------------------------------------------------


class Socket:
    """One page's socket: ``hello``, ``subscribe`` to what it offers, frames."""

    def __init__(self, index: int, user_id: int, role: str, session: str) -> None:
        self.index = index
        self.user_id = user_id
        self.role = role
        self.session = session
        self.ws = None
        self.streams: list[str] = []
        self.pending: dict[str, asyncio.Future] = {}
        self.seen = collections.Counter()

    async def open(self, port: int, on_event) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            f"ws://127.0.0.1:{port}/ws/",
            origin=f"http://127.0.0.1:{port}",
            additional_headers={"Cookie": f"sessionid={self.session}"},
            max_size=2**20,
        )
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        if hello.get("type") != "hello":
            raise SystemExit(f"socket {self.index}: {hello}")
        self.streams = list(hello["streams"])
        await self.ws.send(
            json.dumps({"type": "subscribe", "id": "s", "streams": self.streams})
        )
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            if frame.get("type") == "subscribed":
                break
            if frame.get("type") == "error":
                raise SystemExit(f"socket {self.index}: {frame}")
        self.on_event = on_event
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        async for raw in self.ws:
            now = time.perf_counter()
            frame = json.loads(raw)
            kind = frame.get("type")
            self.seen[kind] += 1
            if kind == "event":
                self.on_event(self, frame, now)
            elif kind == "pong":
                future = self.pending.pop(str(frame.get("id")), None)
                if future and not future.done():
                    future.set_result(now)
            elif kind in ("error", "reset", "bye"):
                self.seen[f"{kind}:{frame.get('code', '')}"] += 1

    async def ping(self, n: int) -> float:
        future = asyncio.get_running_loop().create_future()
        self.pending[str(n)] = future
        started = time.perf_counter()
        await self.ws.send(json.dumps({"type": "ping", "id": str(n)}))
        arrived = await asyncio.wait_for(future, 10)
        return arrived - started


class Expect:
    """Arrivals awaited for one action: ``key -> set of socket indexes``."""

    def __init__(self, keys: dict) -> None:
        self.left = {key: set(indexes) for key, indexes in keys.items()}
        self.arrivals: list[float] = []
        self.done = asyncio.Event()
        if not any(self.left.values()):
            self.done.set()

    def arrive(self, key, index: int, now: float) -> None:
        waiting = self.left.get(key)
        if waiting and index in waiting:
            waiting.discard(index)
            self.arrivals.append(now)
            if not any(self.left.values()):
                self.done.set()


# Measuring ------------------------------------------------------------------


def ms(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0}
    values = [s * 1000 for s in samples]
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
    }


async def run_rounds(args, school: dict, teacher: Teacher, socket_port: int) -> dict:
    sockets = [Socket(i, *spec) for i, spec in enumerate(school["sockets"])]
    by_user = collections.defaultdict(list)
    for s in sockets:
        by_user[s.user_id].append(s.index)
    current: dict[str, Expect | None] = {"homework": None, "absence": None}
    stray = collections.Counter()

    def on_event(sock: Socket, frame: dict, now: float) -> None:
        data = frame.get("data") or {}
        if frame.get("kind") == "homework.item" and frame.get("op") == "published":
            expect = current["homework"]
            if expect:
                expect.arrive(data["homework"]["title"], sock.index, now)
        elif frame.get("kind") == "attendance.record":
            expect = current["absence"]
            if expect:
                expect.arrive(
                    (data["lesson"]["id"], data["student_id"]), sock.index, now
                )
        else:
            stray[frame.get("kind")] += 1

    opened = time.perf_counter()
    for chunk in range(0, len(sockets), 10):
        await asyncio.gather(
            *(s.open(socket_port, on_event) for s in sockets[chunk : chunk + 10])
        )
    open_s = time.perf_counter() - opened
    rng = random.Random(args.seed)
    everyone = [s.index for s in sockets]
    pupils = school["pupils"]
    lessons = list(school["roll_call_lessons"])
    result = {
        "homework": [],  # the latency of every arrival (s)
        "homework_last": [],
        "homework_post": [],
        "absence": [],
        "absence_last": [],
        "absence_post": [],
        "absences": 0,
        "ping": [],
        "ping_last": [],
        "lost": collections.Counter(),
        "event_mark": None,
    }

    async def timed(name: str, keys: dict, call) -> tuple[list[float], float, int]:
        expect = Expect(keys)
        current[name] = expect
        t0, post_s, status = await asyncio.to_thread(call)
        if status != 302:
            raise SystemExit(f"{name}: POST answered HTTP {status}")
        try:
            await asyncio.wait_for(expect.done.wait(), args.timeout)
        except TimeoutError:
            result["lost"][name] += sum(len(v) for v in expect.left.values())
        current[name] = None
        return [a - t0 for a in expect.arrivals], post_s, len(expect.arrivals)

    async def homework(n: int, measured: bool) -> None:
        title = TITLE.format(token=f"{n}-{secrets.token_hex(3)}")
        times, post_s, _ = await timed(
            "homework",
            {title: everyone},
            lambda: teacher.publish(school["class_id"], title),
        )
        if measured:
            result["homework"].extend(times)
            if times:
                result["homework_last"].append(max(times))
            result["homework_post"].append(post_s)

    async def roll_call(n: int, measured: bool) -> None:
        lesson = lessons.pop(0)
        absent = rng.sample(pupils, rng.randint(1, 3))
        keys = {
            (lesson, pupil): [i for g in school["guardians"][pupil] for i in by_user[g]]
            for pupil in absent
        }
        times, post_s, _ = await timed(
            "absence",
            keys,
            lambda: teacher.roll_call(lesson, pupils, absent),
        )
        if measured:
            result["absence"].extend(times)
            if times:
                result["absence_last"].append(max(times))
            result["absence_post"].append(post_s)
            result["absences"] += len(absent)

    async def pings(n: int, measured: bool) -> None:
        times = await asyncio.gather(*(s.ping(n) for s in sockets))
        if measured:
            result["ping"].extend(times)
            result["ping_last"].append(max(times))

    # The client's own collections during the rounds: a long one delays the
    # arrivals it reads, so the report shows them.
    started: list[float] = []

    def watch(phase: str, info: dict) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            result["client_gc_ms"].append((time.perf_counter() - started.pop()) * 1000)

    result["client_gc_ms"] = []
    gc.callbacks.append(watch)
    for n in range(args.warmup + args.rounds):
        measured = n >= args.warmup
        if n == args.warmup:
            result["event_mark"] = await asyncio.to_thread(last_event_id)
        steps = [homework, roll_call] if n % 2 == 0 else [roll_call, homework]
        for step in (*steps, pings):
            await step(n, measured)
            await asyncio.sleep(args.pause)
    gc.callbacks.remove(watch)
    result["open_s"] = open_s
    result["sockets"] = {
        "pupil": sum(s.role == "pupil" for s in sockets),
        "guardian": sum(s.role == "guardian" for s in sockets),
    }
    result["frames"] = sum((s.seen for s in sockets), collections.Counter())
    result["stray"] = stray
    for s in sockets:
        s.reader.cancel()
        await s.ws.close()
    return result


def log_errors(lines: list[str]) -> list[str]:
    """The ERROR lines of the hubs' logs and the last line of each traceback."""
    errors, in_traceback = [], False
    for line in lines:
        if line.startswith("Traceback"):
            in_traceback = True
        elif in_traceback and not line.startswith(" "):
            errors.append(line)
            in_traceback = False
        elif "ERROR" in line:
            errors.append(line)
    return errors


def last_event_id() -> int:
    from django.db import connections

    from hub.models import Event

    try:
        return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    finally:
        connections.close_all()


# Delivery planning ----------------------------------------------------------


def plan_all(mark: int) -> dict:
    """Plan every event after ``mark`` as the worker would; time and count."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from hub.delivery import planning
    from hub.delivery.models import Delivery
    from hub.models import Event

    events = list(
        Event.objects.filter(pk__gt=mark)
        .order_by("pk")
        .values_list("pk", "kind", "payload")
    )
    rows = []
    shapes: dict[str, collections.Counter] = {}
    pauses: list[float] = []  # this process's collections during the plans
    started: list[float] = []

    def watch(phase: str, info: dict) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            pauses.append(time.perf_counter() - started.pop())

    gc.callbacks.append(watch)
    for pk, kind, payload in events:
        # The query log keeps 9,000 entries; full, it would count none.
        reset_queries()
        pauses.clear()
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            counts = planning.plan_event(pk)
            elapsed = time.perf_counter() - began
        if kind not in shapes:  # what the statements of one plan are
            shapes[kind] = collections.Counter(
                statement_shape(q["sql"]) for q in queries.captured_queries
            )
        rows.append(
            {
                "event": pk,
                "kind": kind,
                "action": (
                    payload["homework"]["id"]
                    if kind == "homework.item"
                    else payload.get("lesson", {}).get("id")
                ),
                "s": elapsed,
                "gc_s": sum(pauses),
                "queries": len(queries),
                "notifications": counts["notifications"],
                "deliveries": Delivery.objects.filter(
                    notification__event_id=pk
                ).count(),
            }
        )
    gc.callbacks.remove(watch)
    return rows, {k: c.most_common(10) for k, c in shapes.items()}


def statement_shape(sql: str) -> str:
    """The first words of a statement; savepoints without their names."""
    words = sql.split()
    if words and words[0] in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return " ".join(w for w in words if not w.startswith(('"s', "s")))
    return " ".join(words[:4])[:70]


def planning_summary(rows: list[dict], kind: str) -> dict:
    mine = [r for r in rows if r["kind"] == kind]
    if not mine:
        return {"events": 0}
    per_action = collections.defaultdict(float)
    for r in mine:
        per_action[r["action"]] += r["s"]
    return {
        "events": len(mine),
        "per_event_ms": ms([r["s"] for r in mine]),
        "per_action_ms": ms(list(per_action.values())),
        "actions": len(per_action),
        "queries": {
            "p50": statistics.median(r["queries"] for r in mine),
            "max": max(r["queries"] for r in mine),
        },
        "notifications_per_event": statistics.mean(r["notifications"] for r in mine),
        "deliveries_per_event": statistics.mean(r["deliveries"] for r in mine),
        "ms_per_notification": 1000
        * sum(r["s"] for r in mine)
        / max(1, sum(r["notifications"] for r in mine)),
        "gc_ms_total": 1000 * sum(r["gc_s"] for r in mine),
        "gc_ms_max": 1000 * max(r["gc_s"] for r in mine),
        "queries_per_notification": sum(r["queries"] for r in mine)
        / max(1, sum(r["notifications"] for r in mine)),
    }


# Report ---------------------------------------------------------------------


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def report(figures: dict) -> None:
    print(
        f"\nhomework publish vs roll call: {figures['rounds']} rounds "
        f"({figures['warmup']} warm-up), {figures['database']} + {figures['layer']}, "
        f"{figures['servers']} {figures['server']} process(es), "
        f"{figures['sockets']['pupil']} pupils' + {figures['sockets']['guardian']} "
        f"guardians' sockets (opened in {figures['open_s']:.1f} s)"
    )
    print(
        f"machine: {figures['machine']}, load {figures['load']}, commit {figures['commit']}"
    )
    rows = [
        ("homework POST -> every socket", figures["homework"]),
        ("  per round, last socket", figures["homework_last"]),
        ("  POST -> 302", figures["homework_post"]),
        ("roll call POST -> guardians", figures["absence"]),
        ("  per round, last socket", figures["absence_last"]),
        ("  POST -> 302", figures["absence_post"]),
        ("ping -> pong, every socket", figures["ping"]),
        ("  per round, last socket", figures["ping_last"]),
    ]
    print(f"{'':34}{'n':>6}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}  (ms)")
    for label, f in rows:
        if f.get("n"):
            print(
                f"{label:34}{f['n']:6d}"
                + "".join(f"{f[k]:9.1f}" for k in ("p50", "p90", "p99", "max"))
            )
    r = figures["ratios"]
    print(
        f"homework / roll call: p50 {r['homework/absence p50']:.2f}x, "
        f"p99 {r['homework/absence p99']:.2f}x; "
        f"homework / ping: p50 {r['homework/ping p50']:.1f}x, p99 {r['homework/ping p99']:.1f}x"
    )
    print(
        f"lost: {dict(figures['lost']) or 'none'}; frames: {dict(figures['frames'])}; "
        f"other events: {dict(figures['stray']) or 'none'}"
    )
    pauses = figures["hub_gc_pauses_ms"]
    print(
        f"hub garbage collections of 100 ms or more: {len(pauses)}"
        + (f" (max {max(pauses)} ms)" if pauses else "")
        + f"; bench client's longest collection in the rounds "
        f"{figures['client_gc_max_ms']:.0f} ms ({figures['client_gc_over_20ms']} of 20 ms+)"
    )
    print(
        "\ndelivery planning (plan_event in the bench process, after the HTTP phase):"
    )
    for kind, p in figures["planning"].items():
        if not p["events"]:
            continue
        e, a = p["per_event_ms"], p["per_action_ms"]
        print(
            f"  {kind}: {p['events']} events ({p['actions']} actions), per event "
            f"p50 {e['p50']:.1f} / p99 {e['p99']:.1f} ms, per action p50 "
            f"{a['p50']:.1f} / p99 {a['p99']:.1f} ms; {p['notifications_per_event']:.1f} "
            f"notifications and {p['deliveries_per_event']:.1f} deliveries per event; "
            f"queries per event p50 {p['queries']['p50']:.0f} (max {p['queries']['max']}), "
            f"{p['queries_per_notification']:.2f} per notification, "
            f"{p['ms_per_notification']:.2f} ms per notification; garbage "
            f"collection inside the plans {p['gc_ms_total']:.0f} ms in all "
            f"(at most {p['gc_ms_max']:.0f} ms in one)"
        )
    for kind, shapes in figures["planning_statements"].items():
        print(f"  statements of one {kind} plan:")
        for shape, count in shapes:
            print(f"    {count:4d}  {shape}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--pupils", type=int, default=30)
    parser.add_argument("--server", choices=("uvicorn", "daphne"), default="uvicorn")
    parser.add_argument(
        "--servers", type=int, default=None, help="default: 2 with REDIS_URL, else 1"
    )
    parser.add_argument("--pause", type=float, default=0.2, help="s between steps")
    parser.add_argument("--timeout", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--json", type=Path, help="write the figures there")
    parser.add_argument("--log-dir", type=Path, help="keep the hubs' logs there")
    args = parser.parse_args()

    from scripts.topology import server_argv

    redis_url = os.environ.get("REDIS_URL", "")
    servers = server_count(args.servers)
    workdir, database = bench_environment(
        "hub-bench-homework-", HUB_CHANNEL_PREFIX=f"bench-homework-{os.getpid()}"
    )
    processes = []
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        school = make_school(args.pupils, args.warmup + args.rounds)
        connections.close_all()
        # The bench process holds Django, its migrations and the client: out
        # of the collector's sight as in the hub (hub/realtime/gcwatch.py), or its full
        # collections (0.3-0.7 s here) land in the measured rounds.
        from hub.realtime import gcwatch

        gcwatch.settle()

        ports = [free_port() for _ in range(servers)]
        logs = []
        for port in ports:
            log = open(workdir / f"hub-{port}.log", "w")  # noqa: SIM115
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    server_argv(args.server, port),
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for port, process in zip(ports, processes, strict=True):
            wait_until_up(port, process)
        teacher = Teacher(ports[0])
        teacher.login(school["teacher"])
        result = asyncio.run(run_rounds(args, school, teacher, ports[-1]))
        time.sleep(1)  # the hubs see the sockets' closes
        # The logs of the run, before the hubs stop (their drain is not measured).
        lines = [
            line.rstrip()
            for port in ports
            for line in (workdir / f"hub-{port}.log").read_text().splitlines()
        ]
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
        errors = log_errors(lines)
        pauses = [
            int(line.split(" took ")[1].split(" ms")[0])
            for line in lines
            if line.startswith("garbage collection of generation")
        ]
        if args.log_dir:
            args.log_dir.mkdir(parents=True, exist_ok=True)
            for port in ports:
                shutil.copy(workdir / f"hub-{port}.log", args.log_dir)
        rows, shapes = plan_all(result["event_mark"])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        bench_cleanup(workdir, database)

    h, a, p = ms(result["homework"]), ms(result["absence"]), ms(result["ping"])
    figures = {
        "commit": commit(),
        "machine": f"{os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "load": f"{load_before} before, "
        + " ".join(Path("/proc/loadavg").read_text().split()[:3])
        + " after",
        "database": database.kind,
        "layer": "Redis" if redis_url else "in-memory layer",
        "server": args.server,
        "servers": servers,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "pupils": args.pupils,
        "open_s": result["open_s"],
        "sockets": result["sockets"],
        "homework": h,
        "homework_last": ms(result["homework_last"]),
        "homework_post": ms(result["homework_post"]),
        "absence": a,
        "absence_last": ms(result["absence_last"]),
        "absence_post": ms(result["absence_post"]),
        "absences": result["absences"],
        "ping": p,
        "ping_last": ms(result["ping_last"]),
        "ratios": {
            "homework/absence p50": h["p50"] / a["p50"],
            "homework/absence p99": h["p99"] / a["p99"],
            "homework/ping p50": h["p50"] / p["p50"],
            "homework/ping p99": h["p99"] / p["p99"],
        },
        "lost": dict(result["lost"]),
        "frames": dict(result["frames"]),
        "stray": dict(result["stray"]),
        "hub_log_errors": errors[:20],
        "hub_gc_pauses_ms": pauses,
        "client_gc_max_ms": max(result["client_gc_ms"], default=0.0),
        "client_gc_over_20ms": sum(t >= 20 for t in result["client_gc_ms"]),
        "planning": {
            "homework.item": planning_summary(rows, "homework.item"),
            "attendance.record": planning_summary(rows, "attendance.record"),
        },
        "planning_statements": shapes,
    }
    report(figures)
    if errors:
        print("hub log errors:", *errors[:20], sep="\n  ")
    if args.json:
        figures["planning_rows"] = rows
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
