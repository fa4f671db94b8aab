"""S3 "morning rush": roll calls at a rising rate, absence -> guardian's socket.

One command::

    .venv/bin/python bench/morning_rush.py [--sockets 10000] [--steps 2,5,10,20,40]

The issue (fan-out at scale): 10,000 sockets over 400 classes of 25 and
their guardians; roll calls and timetable changes at a rising rate through
the real HTTP endpoints and PostgreSQL; the highest rate that keeps
absence -> guardian socket p99 under 100 ms.

What one run does:

1. **Topology.** ``Topology(asgi=2, worker=False)`` (``--server daphne`` or
   ``uvicorn``): two hub processes on one new PostgreSQL database and Redis.
2. **Population.** :func:`scripts.population.populate` through
   ``fanout_common.hub_topology``: ``--classes`` (400) classes of 25 pupils,
   one guardian per pupil, one teacher per class, the school-life staff
   member (CPE), a logged-in session for each (no password hashing). Then
   :func:`prepare` adds what a morning needs: per class a timetable feed and
   ``K`` lessons that have already begun (the current one, then the earlier
   ones of the day: enough for every roll call of the run to be a first roll
   call, ``K = ceil(roll calls / classes)``), all taught by the class's
   teacher (``Occurrence.teachers``), one later lesson per class for
   timetable changes, and a superuser with a session for the admin.
3. **Sockets.** ``--sockets`` (10,000): ``1 - --pupil-share`` (80 %) are
   guardians' (20 per class), each subscribed to its ``user:<id>`` stream
   (where absences arrive), the rest pupils' (5 per class), each subscribed
   to its ``class:<id>`` stream (timetable changes). They are opened by
   ``--clients`` (4) client processes, half on each hub process: the
   client machinery of ``fanout_common`` (``Tabs``, ``Fleet``), with each
   socket's own streams and a record of the frames this bench matches.
4. **Load**, per step of ``--steps`` (roll calls a second) for
   ``--step-seconds`` (15) each, open loop (a roll call starts on time
   whether or not earlier ones finished): a teacher's browser loads the
   roll-call page (``GET /absences/roll-call/<lesson>/``, sessionid cookie;
   the first visit gets the ``csrftoken`` cookie), POSTs the form as the
   page does (``csrfmiddlewaretoken`` and every ``status-<pupil>`` /
   ``minutes-<pupil>`` field; 1 to 3 pupils ``absent``, the others
   ``present``; ``X-CSRFToken`` and ``Origin``/``Referer`` of the process
   that gets it) and follows the ``302`` back to the page, as a browser
   does. Every HTTP request goes to the next hub process in turn, as a
   round-robin balancer would. Absent pupils are drawn among those whose
   guardian has a socket, so every absence is measured. ``--timetable-share``
   (0.1): one timetable change for every ten roll calls, through the admin
   (``GET /admin/timetable/occurrence/<id>/change/``, then ``POST`` of the
   form with a new room and a reason): :func:`change_occurrence` runs in
   the hub, and the class's pupils get ``timetable.occurrence``.
5. **Measured per step**: absence -> guardian socket latency (from just
   before the ``POST`` to the receipt of ``attendance.record`` with ``op``
   ``recorded`` on the guardian's socket, matched by lesson and pupil id;
   one machine, one clock: ``time.time()``), the expected and delivered
   absences; HTTP latency of the POSTs (to the ``302``) and of the
   page GET requests; errors (any other status, time-outs) and the error
   lines of the hub's logs; timetable change -> pupils' sockets latency;
   per hub process its CPU % (``/proc``), split into the event loop (the
   main thread) and the other threads (Django runs each HTTP request in a
   thread of its own, ``ThreadSensitiveContext``); PostgreSQL: the time its
   statements ran in this database (``pg_stat_database.active_time``, 100 %
   = one statement at all times, lock waits included), connections opened
   and commits, and every 0.25 s (``pg_stat_activity``) the connections to
   this database and to the whole server (against ``max_connections``) and
   the statements waiting on a lock (with their text); the client
   processes' and the bench's own CPU, the whole machine's (``/proc/stat``,
   other runs included); ``ping`` -> ``pong`` on one probe socket per hub
   process every 0.2 s (the hub's event-loop lag); the bench's own
   event-loop lag (a late timer would inflate every figure); the load
   average.

The answer is the highest step whose absence p99 is under ``--target-ms``
(100) with no error and nothing lost, and, for the first step that misses,
what the figures say saturated. A step that ends with more than two
seconds' worth of roll calls still in flight stops the run (the next steps
would only queue). ``--env NAME=VALUE`` passes settings to the hub
processes (``--env DB_CONN_MAX_AGE=0``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from fanout_common import (
    Fleet,
    LogWatch,
    Tabs,
    code_revision,
    cpu_seconds,
    hub_topology,
    load_average,
    machine_info,
    percentile,
    raise_nofile,
    shares,
    summary_ms,
)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PUPILS = 25  # scripts.population's default class size


# Population: lessons happening now, an admin ------------------------------------


@dataclass
class ClassPlan:
    """One class of the population and what the run does with it."""

    class_id: int
    teacher: int
    pupils: list[int]
    guardian_of: dict[int, int]
    slots: list[int] = field(default_factory=list)  # lessons begun, for roll calls
    later: int = 0  # a later lesson, for timetable changes
    measured: list[int] = field(default_factory=list)  # pupils whose guardian listens
    listening_pupils: int = 0
    teacher_session: str = ""


def prepare(school, slots: int) -> tuple[list[ClassPlan], int, str]:
    """Give every class ``slots`` lessons that have begun and one later lesson,
    taught by its teacher; make a superuser with a session.

    Returns the classes, the superuser's id and its session key. Runs in the
    bench process against the topology's database (``django.setup()`` done).
    """
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from core.roster.models import Enrollment, GuardianLink, User
    from core.timetable.models import Feed, Lesson, Occurrence
    from scripts.population import create_sessions

    class_ids = [c.pk for c in school.classes]
    pupils = collections.defaultdict(list)
    teacher_of = {}
    for class_id, user_id, role in Enrollment.objects.filter(
        school_class_id__in=class_ids
    ).values_list("school_class_id", "user_id", "role"):
        if role == Enrollment.Role.STUDENT:
            pupils[class_id].append(user_id)
        else:
            teacher_of[class_id] = user_id
    guardian_of = dict(
        GuardianLink.objects.filter(student_id__in=school.students).values_list(
            "student_id", "guardian_id"
        )
    )
    now = timezone.now().replace(second=0, microsecond=0)
    plans = [
        ClassPlan(
            class_id=c,
            teacher=teacher_of[c],
            pupils=sorted(pupils[c]),
            guardian_of={p: guardian_of[p] for p in pupils[c]},
        )
        for c in class_ids
    ]
    with transaction.atomic():
        feeds = Feed.objects.bulk_create(
            [Feed(school_class_id=p.class_id, name="morning-rush.ics") for p in plans],
            batch_size=2000,
        )
        lessons, occurrences = [], []
        for plan, feed in zip(plans, feeds, strict=True):
            teacher_names = f"PROF{plan.class_id}"
            # j = 0: the lesson going on now; 1, 2, ...: the earlier ones of
            # the day, whose roll call is taken late; -1: a lesson this
            # afternoon, for timetable changes.
            for j in [*range(slots), -1]:
                start = (
                    now - dt.timedelta(minutes=5 + 60 * j)
                    if j >= 0
                    else now + dt.timedelta(hours=3)
                )
                lesson = Lesson(
                    feed=feed,
                    school_class_id=plan.class_id,
                    uid=f"rush-{plan.class_id}-{j}",
                    subject=f"Cours {j}" if j >= 0 else "Cours de l'après-midi",
                    room=f"S{j + 2}",
                    teacher_names=teacher_names,
                )
                lessons.append(lesson)
                occurrences.append(
                    Occurrence(
                        lesson=lesson,
                        school_class_id=plan.class_id,
                        recurrence_key="",
                        start=start,
                        end=start + dt.timedelta(minutes=55),
                        subject=lesson.subject,
                        room=lesson.room,
                        teacher_names=teacher_names,
                    )
                )
        Lesson.objects.bulk_create(lessons, batch_size=2000)
        for occurrence in occurrences:
            occurrence.lesson_id = occurrence.lesson.pk
        Occurrence.objects.bulk_create(occurrences, batch_size=2000)
        through = Occurrence.teachers.through
        per_class = slots + 1
        through.objects.bulk_create(
            [
                through(occurrence_id=o.pk, user_id=plans[i // per_class].teacher)
                for i, o in enumerate(occurrences)
            ],
            batch_size=2000,
        )
        for index, plan in enumerate(plans):
            mine = occurrences[index * per_class : (index + 1) * per_class]
            plan.slots = [o.pk for o in mine[:-1]]
            plan.later = mine[-1].pk
        admin = User.objects.create(
            username=f"rush.admin.{school.org.pk}",
            password=make_password(None),
            role=User.Role.ADMINISTRATOR,  # in no org: not the CPE of the school
            first_name="Admin",
            last_name="Bench",
            is_staff=True,
            is_superuser=True,
        )
        admin_session = create_sessions([admin])[admin.pk]
    return plans, admin.pk, admin_session


def allocate_sockets(
    plans: list[ClassPlan], sessions: dict[int, str], sockets: int, pupil_share: float
) -> list[tuple[str, list[str]]]:
    """Choose whose sockets open: ``(sessionid, [stream])`` per socket.

    Guardians' sockets (``user:<id>``) and pupils' (``class:<id>``), spread
    evenly over the classes: guardians of the first pupils of each class,
    pupils from the other end (another family). Marks on each plan the
    pupils whose guardian listens (the absences drawn) and how many pupils
    listen to the class.
    """
    total = sum(len(p.pupils) for p in plans)
    if sockets > 2 * total:
        raise SystemExit(f"{sockets} sockets asked, {2 * total} users made")
    n_pupils = round(sockets * pupil_share)
    n_guardians = min(total, sockets - n_pupils)
    n_pupils = sockets - n_guardians
    by_rank = [
        (plan, plan.pupils[rank])
        for rank in range(max(len(p.pupils) for p in plans))
        for plan in plans
        if rank < len(plan.pupils)
    ]
    chosen = []
    for plan, pupil in by_rank[:n_guardians]:
        plan.measured.append(pupil)
        chosen.append(
            (sessions[plan.guardian_of[pupil]], [f"user:{plan.guardian_of[pupil]}"])
        )
    for plan, pupil in reversed(by_rank[len(by_rank) - n_pupils :]):
        plan.listening_pupils += 1
        chosen.append((sessions[pupil], [f"class:{plan.class_id}"]))
    return chosen


# Client processes: fanout_common's tabs, each with its own streams ----------


def rush_tabs_main(conn, spec: dict) -> None:
    """Entry point of a client process (multiprocessing, spawn)."""
    raise_nofile()
    try:
        asyncio.run(RushTabs(conn, spec).run())
    except Exception as error:  # report, never hang the parent
        conn.send({"fatal": f"{type(error).__name__}: {error}"})


class RushTabs(Tabs):
    """``fanout_common.Tabs`` whose sockets each follow their own streams
    (``spec["tab_streams"]``, one list per cookie) and which records the
    receipt time of the frames this bench matches: ``attendance.record``
    ``recorded`` (lesson id, pupil id) and ``timetable.occurrence`` (its
    ``reason``, which carries the change's number)."""

    def __init__(self, conn, spec: dict) -> None:
        super().__init__(conn, spec)
        self.base_spec = spec
        self.receipts: list[tuple] = []

    async def session(self, tab, *, first: bool) -> bool:
        # Tabs.session reads ``spec["streams"]`` once, before its first await:
        # a spec of this tab's own, set just before, is the one it uses.
        self.spec = {
            **self.base_spec,
            "streams": self.base_spec["tab_streams"][tab.index],
        }
        return await super().session(tab, first=first)

    def on_frame(self, tab, frame: dict, now: float) -> str:
        duplicates = self.duplicates
        kind = super().on_frame(tab, frame, now)
        if kind != "event" or self.duplicates != duplicates:
            return kind
        data = frame.get("data") or {}
        if frame.get("kind") == "attendance.record" and frame.get("op") == "recorded":
            self.receipts.append(("a", data["lesson"]["id"], data["student_id"], now))
        elif frame.get("kind") == "timetable.occurrence":
            reason = data.get("occurrence", {}).get("reason", "")
            self.receipts.append(("t", reason, tab.index, now))
        return kind

    def result(self) -> dict:
        result = super().result()
        result["receipts"] = self.receipts
        return result


# HTTP: a teacher's browser, the admin --------------------------------------


class Browser:
    """One user's cookies (``sessionid``, then ``csrftoken`` and ``messages``)."""

    def __init__(self, session_key: str) -> None:
        self.cookies = {"sessionid": session_key}

    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def update(self, response) -> None:
        for name, morsel in response.cookies.items():
            if morsel.value == "" or morsel["max-age"] == "0":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value


class FormFields(HTMLParser):
    """The values a browser would submit from a page's forms (by name)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


ADMIN_FIELDS = ("start_0", "start_1", "end_0", "end_1", "room", "teacher_names")


@dataclass
class RollCall:
    step: int
    lesson: int
    absent: list[int]
    t0: float | None = None  # just before the POST
    get_s: float | None = None
    post_s: float | None = None
    follow_s: float | None = None
    post_status: int | None = None
    error: str | None = None


@dataclass
class Change:
    step: int
    number: int
    listeners: int
    t0: float | None = None
    post_s: float | None = None
    error: str | None = None


class Load:
    """The bench's HTTP side: roll calls and admin changes, round robin."""

    def __init__(self, args, urls, plans, admin_session, rng) -> None:
        import aiohttp

        self.args = args
        self.urls = urls
        self.turn = 0
        self.rng = rng
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=args.http_timeout),
        )
        self.teachers = {p.class_id: Browser(p.teacher_session) for p in plans}
        self.admin = Browser(admin_session)
        order = plans[:]
        rng.shuffle(order)
        # Every class's current lesson first, then the earlier ones.
        self.queue = collections.deque(
            (plan, plan.slots[j]) for j in range(len(plans[0].slots)) for plan in order
        )
        self.changeable = [p for p in plans if p.listening_pupils]
        self.busy: set[int] = set()  # classes whose teacher is mid-roll-call
        self.roll_calls: list[RollCall] = []
        self.changes: list[Change] = []
        self.tasks: set[asyncio.Task] = set()

    def next_url(self) -> str:
        url = self.urls[self.turn % len(self.urls)]
        self.turn += 1
        return url

    def start(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _get(self, browser: Browser, path: str) -> tuple[int, str, float]:
        base = self.next_url()
        began = time.time()
        async with self.http.get(
            base + path,
            headers={"Cookie": browser.header()},
            allow_redirects=False,
        ) as response:
            text = await response.text()
            browser.update(response)
            return response.status, text, time.time() - began

    async def _post(
        self, browser: Browser, path: str, form: list[tuple[str, str]], before=None
    ) -> tuple[int, str, float, float]:
        base = self.next_url()
        headers = {
            "Cookie": browser.header(),
            "X-CSRFToken": browser.cookies.get("csrftoken", ""),
            "Origin": base,
            "Referer": base + path,
        }
        if before:
            before()
        t0 = time.time()
        async with self.http.post(
            base + path, data=form, headers=headers, allow_redirects=False
        ) as response:
            await response.read()
            browser.update(response)
            location = response.headers.get("Location", "")
            return response.status, location, t0, time.time() - t0

    async def roll_call(self, step: int) -> RollCall | None:
        if not self.queue:
            return None
        # A teacher takes one roll call at a time: the next lesson of a class
        # whose teacher is free (the queue is in class order, so this is
        # almost always the first).
        index = next(
            (i for i, (p, _) in enumerate(self.queue) if p.class_id not in self.busy),
            0,
        )
        plan, lesson = self.queue[index]
        del self.queue[index]
        self.busy.add(plan.class_id)
        try:
            return await self._roll_call(step, plan, lesson)
        finally:
            self.busy.discard(plan.class_id)

    async def _roll_call(self, step: int, plan: ClassPlan, lesson: int) -> RollCall:
        absent = self.rng.sample(
            plan.measured, min(len(plan.measured), self.rng.randint(1, 3))
        )
        call = RollCall(step=step, lesson=lesson, absent=absent)
        self.roll_calls.append(call)
        browser = self.teachers[plan.class_id]
        path = f"/absences/roll-call/{lesson}/"
        try:
            status, _, call.get_s = await self._get(browser, path)
            if status != 200:
                call.error = f"GET {status}"
                return call
            form = [("csrfmiddlewaretoken", browser.cookies.get("csrftoken", ""))]
            for pupil in plan.pupils:
                form.append(
                    (f"status-{pupil}", "absent" if pupil in absent else "present")
                )
                form.append((f"minutes-{pupil}", ""))
            status, location, call.t0, call.post_s = await self._post(
                browser, path, form
            )
            call.post_status = status
            if status != 302 or not location.endswith(path):
                call.error = f"POST {status}"
                return call
            status, _, call.follow_s = await self._get(browser, location)
            if status != 200:
                call.error = f"GET after POST {status}"
        except Exception as error:  # time-out, connection refused or reset
            call.error = type(error).__name__
        return call

    async def change(self, step: int, number: int) -> Change:
        plan = self.rng.choice(self.changeable)
        change = Change(step=step, number=number, listeners=plan.listening_pupils)
        self.changes.append(change)
        path = f"/admin/timetable/occurrence/{plan.later}/change/"
        try:
            status, page, _ = await self._get(self.admin, path)
            if status != 200:
                change.error = f"GET {status}"
                return change
            parser = FormFields()
            parser.feed(page)
            form = [(name, parser.fields.get(name, "")) for name in ADMIN_FIELDS]
            form = [(k, v if k != "room" else f"R{number}") for k, v in form] + [
                ("csrfmiddlewaretoken", parser.fields.get("csrfmiddlewaretoken", "")),
                ("status", parser.fields.get("status", "scheduled")),
                ("reason", f"rush {number}"),
                ("_save", "Enregistrer"),
            ]
            status, _, change.t0, change.post_s = await self._post(
                self.admin, path, form
            )
            if status != 302:
                change.error = f"POST {status}"
        except Exception as error:
            change.error = type(error).__name__
        return change

    async def close(self) -> None:
        await self.http.close()


# Measurements -------------------------------------------------------------


def thread_cpu(pid: int | None) -> dict[int, float]:
    """CPU seconds (utime + stime) of each thread of ``pid``."""
    out = {}
    if not pid:
        return out
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return out


def postgres_backends(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``database``."""
    out = {}
    marker = f" {database} "
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                title = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres:") and marker in title:
            out[int(entry)] = cpu_seconds(int(entry))
    return out


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from ``/proc/stat``."""
    with open("/proc/stat") as stat:
        values = [int(x) for x in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Snapshot:
    """The CPU counters read at a step's boundaries."""

    def __init__(self, pids, clients, database, db_stats=None) -> None:
        self.at = time.monotonic()
        self.hubs = [thread_cpu(pid) for pid in pids]
        self.hub_totals = [cpu_seconds(pid) for pid in pids]
        self.pids = pids
        self.db = db_stats() if db_stats else {}
        self.postgres = postgres_backends(database)
        self.clients = sum(cpu_seconds(pid) for pid in clients)
        self.bench = cpu_seconds(os.getpid())
        self.machine = machine_cpu()


def cpu_between(a: Snapshot, b: Snapshot) -> dict:
    """CPU % (100 = one core) between two snapshots: per hub process (all
    threads, the event loop, the other threads), the live PostgreSQL backends
    of the run's database, the client processes, the bench, the sum of these
    (``ours``), the whole machine (other runs included) and, from
    ``pg_stat_database``, the statement time, connections and commits."""
    seconds = b.at - a.at

    def pct(x: float) -> float:
        return round(100 * x / seconds, 1)

    hubs = []
    for n, pid in enumerate(b.pids):
        # The process's counters include threads that ended (Django runs each
        # request in a thread of its own): the threads' share is the total
        # minus the event loop's (the main thread).
        total = b.hub_totals[n] - a.hub_totals[n]
        loop = b.hubs[n].get(pid, 0.0) - a.hubs[n].get(pid, 0.0)
        hubs.append(
            {"total": pct(total), "loop": pct(loop), "threads": pct(total - loop)}
        )
    figures = {
        "hubs": hubs,
        "postgres": pct(
            sum(v - a.postgres.get(pid, 0.0) for pid, v in b.postgres.items())
        ),
        "clients": pct(b.clients - a.clients),
        "bench": pct(b.bench - a.bench),
    }
    figures["ours"] = round(
        sum(h["total"] for h in hubs)
        + figures["postgres"]
        + figures["clients"]
        + figures["bench"],
        1,
    )
    busy = b.machine[0] - a.machine[0]
    total = b.machine[1] - a.machine[1]
    cores = os.cpu_count() or 1
    figures["machine"] = round(100 * cores * busy / total, 1) if total else None
    if a.db and b.db:
        # pg_stat_database of the run's database: time spent running
        # statements (all its backends, ended ones included), connections.
        figures["postgres_active"] = pct((b.db["active_ms"] - a.db["active_ms"]) / 1000)
        figures["db_sessions"] = b.db["sessions"] - a.db["sessions"]
        figures["db_commits"] = b.db["commits"] - a.db["commits"]
    return figures


class Database:
    """The bench's own view of PostgreSQL (a connection of its own)."""

    def __init__(self, url: str, name: str) -> None:
        import psycopg

        self.name = name
        self.connection = psycopg.connect(url, autocommit=True)
        self.samples: list[tuple[float, int, int, int]] = []
        self.waiting: list[tuple[float, str]] = []  # statements waiting on a lock
        self.max_connections = int(
            self.connection.execute("SHOW max_connections").fetchone()[0]
        )

    def stats(self) -> dict:
        self.connection.execute("SELECT pg_stat_clear_snapshot()")
        row = self.connection.execute(
            "SELECT active_time, sessions, xact_commit FROM pg_stat_database"
            " WHERE datname = %s",
            [self.name],
        ).fetchone()
        return {"active_ms": row[0] or 0.0, "sessions": row[1], "commits": row[2]}

    def connections(self) -> tuple[int, int, int]:
        """(this database's, every database's, waiting on a lock) backends."""
        row = self.connection.execute(
            "SELECT count(*) FILTER (WHERE datname = %s),"
            " count(*) FILTER (WHERE backend_type = 'client backend'),"
            " count(*) FILTER (WHERE datname = %s AND wait_event_type = 'Lock')"
            " FROM pg_stat_activity",
            [self.name, self.name],
        ).fetchone()
        return row

    def waiting_statements(self) -> list[str]:
        rows = self.connection.execute(
            "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 200)"
            " FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            [self.name],
        ).fetchall()
        return [row[0] for row in rows]

    async def sample(self, stop) -> None:
        while not stop.is_set():
            ours, everyone, locked = await asyncio.to_thread(self.connections)
            now = time.time()
            self.samples.append((now, ours, everyone, locked))
            if locked:
                for query in await asyncio.to_thread(self.waiting_statements):
                    self.waiting.append((now, query))
            await asyncio.sleep(0.25)

    def close(self) -> None:
        self.connection.close()


async def probe(url: str, origin: str, cookie: str, samples: list, stop) -> None:
    """``ping`` every 0.2 s on one socket of a hub process; keep (sent, rtt)."""
    from websockets.asyncio.client import connect

    async with connect(
        url,
        origin=origin,
        additional_headers={"Cookie": f"sessionid={cookie}"},
        proxy=None,
        ping_interval=None,
        max_queue=None,
    ) as ws:
        await ws.recv()  # hello
        n = 0
        while not stop.is_set():
            n += 1
            sent = time.time()
            await ws.send(json.dumps({"type": "ping", "id": n}))
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("type") == "pong" and frame.get("id") == n:
                    break
            samples.append((sent, time.time() - sent))
            await asyncio.sleep(0.2)


async def loop_lag(samples: list, stop) -> None:
    """The bench's own event-loop lag: how late a 50 ms timer fires."""
    while not stop.is_set():
        began = time.monotonic()
        await asyncio.sleep(0.05)
        samples.append((time.time(), time.monotonic() - began - 0.05))


# The run ------------------------------------------------------------------


async def bench(args) -> dict:
    steps = args.steps
    planned = sum(round(rate * args.step_seconds) for rate in steps) + args.warmup
    slots = math.ceil(planned / args.classes) + 1
    users = args.classes * PUPILS * 2
    env = dict(item.split("=", 1) for item in args.env)
    async with hub_topology(2, users, env=env, server=args.server, guardians=1) as (
        topo,
        school,
    ):
        from channels.db import database_sync_to_async

        started = time.monotonic()
        plans, _, admin_session = await database_sync_to_async(prepare)(school, slots)
        for plan in plans:
            plan.teacher_session = school.cookie(plan.teacher)
        sockets = allocate_sockets(
            plans, school.sessions, args.sockets, args.pupil_share
        )
        guardians = sum(len(p.measured) for p in plans)
        print(
            f"   {len(plans)} classes, {slots} lessons begun + 1 later per class, "
            f"in {time.monotonic() - started:.1f} s; sockets: {guardians} "
            f"guardians (user:<id>), {len(sockets) - guardians} pupils "
            f"(class:<id>)",
            flush=True,
        )
        database = topo.database_url.rsplit("/", 1)[1]
        rng = random.Random(args.seed)
        rng.shuffle(sockets)
        print(f"\n== opening {len(sockets)} sockets on 2 hub processes", flush=True)
        specs = []
        for index, share in enumerate(shares(sockets, args.clients)):
            specs.append(
                {
                    "urls": topo.ws_urls,
                    "origins": topo.origins,
                    "cookies": [cookie for cookie, _ in share],
                    "tab_streams": [streams for _, streams in share],
                    "start": index % 2,
                    "concurrency": args.connect_concurrency,
                    "open_timeout": 120,
                    "compression": None if args.no_compression else "deflate",
                    "reconnect": False,
                    "latencies": False,
                }
            )
        fleet = Fleet(rush_tabs_main, specs)
        load = None
        stop = asyncio.Event()
        db = Database(topo.database_url, database)
        logs = [
            LogWatch(process.log_path, ERROR_LINE) for process in topo.asgi_processes
        ]
        try:
            opened = await fleet.ready(args.setup_timeout)
            print(
                f"{Fleet.opened_line(opened)}; load average {load_average()}",
                flush=True,
            )
            await asyncio.sleep(args.settle)
            load = Load(args, topo.urls, plans, admin_session, rng)
            probes = [[] for _ in topo.urls]
            lag: list = []
            watchers = [
                asyncio.create_task(
                    probe(
                        topo.ws_urls[i], topo.origins[i], admin_session, probes[i], stop
                    )
                )
                for i in range(len(topo.urls))
            ]
            watchers += [
                asyncio.create_task(loop_lag(lag, stop)),
                asyncio.create_task(db.sample(stop)),
            ]

            print(f"\n== warm-up: {args.warmup} roll calls, 2 timetable changes")
            for _ in range(args.warmup):
                call = await load.roll_call(-1)
                if call and call.error:
                    raise SystemExit(f"warm-up roll call failed: {call.error}")
            for n in range(2):
                change = await load.change(-1, -1 - n)
                if change.error:
                    raise SystemExit(f"warm-up timetable change failed: {change.error}")
            await asyncio.sleep(2)

            windows = []
            number = 0
            share_acc = 0.0
            for index, rate in enumerate(steps):
                count = round(rate * args.step_seconds)
                print(
                    f"\n== step {index + 1}: {rate} roll calls/s for "
                    f"{args.step_seconds:g} s ({count})",
                    flush=True,
                )
                loop = asyncio.get_running_loop()
                begin = Snapshot(topo.pids, fleet.pids, database, db.stats)
                t_begin = time.time()
                origin = loop.time()
                for i in range(count):
                    delay = origin + i / rate - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    load.start(load.roll_call(index))
                    share_acc += args.timetable_share
                    if share_acc >= 1:
                        share_acc -= 1
                        number += 1
                        load.start(load.change(index, number))
                await asyncio.sleep(max(0.0, origin + args.step_seconds - loop.time()))
                end = Snapshot(topo.pids, fleet.pids, database, db.stats)
                in_flight = len(load.tasks)
                windows.append(
                    {
                        "rate": rate,
                        "from": t_begin,
                        "to": time.time(),
                        "cpu": cpu_between(begin, end),
                        "in_flight": in_flight,
                        "load": load_average(),
                    }
                )
                done = [c for c in load.roll_calls if c.step == index and c.post_s]
                posts = sorted(c.post_s * 1000 for c in done)
                print(
                    f"   POST p50 {percentile(posts, 50):.0f} ms, p99 "
                    f"{percentile(posts, 99):.0f} ms so far; {in_flight} requests "
                    f"in flight; hub CPU "
                    + " / ".join(f"{h['total']} %" for h in windows[-1]["cpu"]["hubs"])
                    + f"; load {windows[-1]['load']}",
                    flush=True,
                )
                if in_flight > 2 * rate and index + 1 < len(steps):
                    print(
                        f"   more than 2 s of roll calls still in flight: the hub "
                        f"is saturated, steps {steps[index + 1 :]} skipped",
                        flush=True,
                    )
                    break
            if load.tasks:
                print(f"   waiting for {len(load.tasks)} requests", flush=True)
                await asyncio.wait(list(load.tasks), timeout=args.http_timeout + 5)
            await asyncio.sleep(args.settle)
            stop.set()
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            results = [m["result"] for m in await fleet.ask("stop", "result", 120)]
        finally:
            stop.set()
            if load is not None:
                await load.close()
            fleet.close()
            db.close()
            log_lines = sorted(line for watch in logs for line in watch.stop())
    run = Run(
        opened=opened,
        windows=windows,
        load=load,
        results=results,
        probes=probes,
        lag=lag,
        sockets=len(sockets),
        db_samples=db.samples,
        db_waiting=db.waiting,
        labels={f"'user:{pk}'": "the CPE's stream" for pk in school.staff},
        max_connections=db.max_connections,
        log_lines=log_lines,
    )
    return analyse(args, run)


# The hub's log lines worth counting: the last line of a traceback,
# PostgreSQL's refusals, and garbage collections long enough to stall the
# event loop (hub/realtime/gcwatch.py).
ERROR_LINE = (
    r"^\S*(Error|Exception)\b|FATAL|Internal Server Error|garbage collection of"
)


@dataclass
class Run:
    """What a run collected, for :func:`analyse`."""

    opened: dict
    windows: list[dict]
    load: Load
    results: list[dict]
    probes: list[list]
    lag: list
    sockets: int
    db_samples: list
    db_waiting: list
    labels: dict  # what a quoted stream name in a statement is
    max_connections: int
    log_lines: list


def analyse(args, run: Run) -> dict:
    opened, windows, load, results = run.opened, run.windows, run.load, run.results
    absences: dict[tuple[int, int], float] = {}
    changes = collections.defaultdict(list)
    totals = collections.Counter()
    for r in results:
        for key in ("gaps", "duplicates", "resets", "errors", "events"):
            totals[key] += r[key]
        for receipt in r["receipts"]:
            if receipt[0] == "a":
                _, lesson, pupil, at = receipt
                absences.setdefault((lesson, pupil), at)
            else:
                _, reason, _, at = receipt
                changes[reason].append(at)
    closes = collections.Counter()
    for r in results:
        closes.update(r["closes"])
    steps = []
    for index, window in enumerate(windows):
        calls = [c for c in load.roll_calls if c.step == index]
        ok = [c for c in calls if c.error is None]
        latencies, after_answer, missing = [], [], 0
        for call in calls:
            if call.post_status != 302:
                continue
            for pupil in call.absent:
                at = absences.get((call.lesson, pupil))
                if at is None:
                    missing += 1
                else:
                    latencies.append(at - call.t0)
                    after_answer.append(at - call.t0 - call.post_s)
        timetable, tt_missing = [], 0
        tt_calls = [c for c in load.changes if c.step == index]
        for change in tt_calls:
            if change.error is None:
                seen = changes.get(f"rush {change.number}", [])
                timetable += [at - change.t0 for at in seen]
                tt_missing += max(0, change.listeners - len(seen))
        errors = collections.Counter(c.error for c in calls if c.error)
        errors.update(f"admin {c.error}" for c in tt_calls if c.error)
        within = window["from"], window["to"]
        ping = [
            summary_ms([rtt for sent, rtt in samples if within[0] <= sent < within[1]])
            for samples in run.probes
        ]
        bench_lag = [x for t, x in run.lag if within[0] <= t < within[1]]
        db = [x for x in run.db_samples if within[0] <= x[0] < within[1]]
        # Log lines until the next step starts (late answers of this one).
        until = windows[index + 1]["from"] if index + 1 < len(windows) else math.inf
        lines = [
            line.strip()
            for seen, line in run.log_lines
            if within[0] <= seen < until and "Internal Server Error" not in line
        ]
        logged = collections.Counter(line[:160] for line in lines)
        # Django's last line of each failed request's traceback.
        final = [x for x in lines if x.startswith("django.db.utils.OperationalError")]
        steps.append(
            {
                "rate": window["rate"],
                "roll_calls": len(calls),
                "ok": len(ok),
                "errors": dict(errors),
                "absences_expected": len(latencies) + missing,
                "absences_delivered": len(latencies),
                "absence_ms": summary_ms(latencies),
                # Receipt minus the POST's answer: < 0, the guardian had it first.
                "absence_after_answer_ms": summary_ms(after_answer),
                "post_ms": summary_ms([c.post_s for c in calls if c.post_s]),
                "get_ms": summary_ms([c.get_s for c in calls if c.get_s]),
                "timetable_changes": len(tt_calls),
                "timetable_ms": summary_ms(timetable),
                "timetable_missing": tt_missing,
                "cpu": window["cpu"],
                "ping_ms": ping,
                "bench_lag_max_ms": round(1000 * max(bench_lag, default=0.0), 1),
                "db_connections_max": max((x[1] for x in db), default=None),
                "db_connections_all_max": max((x[2] for x in db), default=None),
                "db_lock_waits_max": max((x[3] for x in db), default=None),
                "db_waiting_on": dict(
                    collections.Counter(
                        label(q, run.labels)
                        for t, q in run.db_waiting
                        if within[0] <= t < within[1]
                    ).most_common(3)
                ),
                "max_connections": run.max_connections,
                "hub_log": dict(logged.most_common(4)),
                "db_refused": sum("too many clients" in x for x in final),
                "db_deadlocks": sum("deadlock detected" in x for x in final),
                "in_flight_at_end": window["in_flight"],
                "load": window["load"],
            }
        )
    passing = [
        s
        for s in steps
        if s["absence_ms"]["p99"] is not None
        and s["absence_ms"]["p99"] < args.target_ms
        and not s["errors"]
        and s["absences_delivered"] == s["absences_expected"]
    ]
    # The highest passing step below the first failing one.
    best = None
    for s in steps:
        if s in passing:
            best = s["rate"]
        else:
            break
    first_miss = next((s for s in steps if s not in passing), None)
    for s in steps:
        s["passes"] = s in passing
        s["diagnosis"] = None if s in passing else diagnose(s)
    return {
        "sockets": run.sockets,
        "open": opened["open"],
        "open_s": round(opened["seconds"], 1),
        "open_failures": opened["failures"],
        "steps": steps,
        "best_rate": best,
        "breaks_at": first_miss["rate"] if first_miss else None,
        "diagnosis": first_miss["diagnosis"] if first_miss else None,
        "socket_totals": dict(totals),
        "closes": dict(closes),
    }


def label(query: str, labels: dict) -> str:
    """``query`` with what the stream it names is, when the bench knows."""
    for quoted, what in labels.items():
        if quoted in query:
            return f"{query} [{what}]"
    return query


def diagnose(step: dict) -> str:
    """Name what saturated in ``step``, from its figures."""
    cpu = step["cpu"]
    cores = os.cpu_count() or 1
    found = []
    refused = step["db_refused"]
    if refused or (step["db_connections_all_max"] or 0) >= step["max_connections"] - 5:
        found.append(
            f"PostgreSQL's connections: up to {step['db_connections_max']} to this "
            f"database, {step['db_connections_all_max']} of max_connections "
            f"{step['max_connections']} on the server"
            + (f", {refused} requests refused a connection" if refused else "")
        )
    if step["db_deadlocks"]:
        found.append(f"{step['db_deadlocks']} deadlocks detected by PostgreSQL")
    if (step["db_lock_waits_max"] or 0) > 0:
        top = next(iter(step["db_waiting_on"]), "")
        found.append(
            f"up to {step['db_lock_waits_max']} statements waiting on a row lock "
            f"at once" + (f" (most often: {top})" if top else "")
        )
    for n, hub in enumerate(cpu["hubs"], 1):
        if hub["total"] >= 85:
            found.append(
                f"hub process {n}: {hub['total']} % CPU (event loop {hub['loop']} %, "
                f"request threads {hub['threads']} %: one GIL)"
            )
        elif hub["loop"] >= 70:
            found.append(f"hub process {n}: event loop {hub['loop']} % busy")
    active = cpu.get("postgres_active")
    if active is not None and active >= 100:
        found.append(
            f"PostgreSQL statements running {active / 100:.1f} at a time on average"
        )
    if cpu["machine"] is not None and cpu["machine"] >= 0.9 * 100 * cores:
        found.append(
            f"the machine's CPUs ({cpu['machine']} % of {100 * cores} %; this "
            f"run's processes {cpu['ours']} %, the rest other runs)"
        )
    if step["bench_lag_max_ms"] >= 50:
        found.append(f"the bench's own loop lagged {step['bench_lag_max_ms']} ms")
    if 0 < step["absence_ms"]["count"] < 100:
        found.append(
            f"(p99 of {step['absence_ms']['count']} absences is the slowest: "
            f"{step['absence_ms']['max']} ms)"
        )
    return "; ".join(found) or "nothing saturated that the bench sees"


# Report -------------------------------------------------------------------


def fmt(summary: dict) -> str:
    if not summary["count"]:
        return "-"
    return f"{summary['p50']:.0f} / {summary['p99']:.0f}"


def report(args, f: dict, load_before: str) -> None:
    print(
        f"\nS3 morning rush: {f['open']}/{f['sockets']} sockets open (in "
        f"{f['open_s']} s) on 2 hub processes ({args.server}), {args.classes} "
        f"classes; roll calls over HTTP (GET page, POST, follow the 302), "
        f"{args.timetable_share:g} admin timetable change per roll call"
        + (f"; hub environment {' '.join(args.env)}" if args.env else "")
    )
    print(f"machine: {machine_info()}")
    print(
        f"code: {code_revision()}; load average before {load_before}, after "
        f"{load_average()}"
    )
    header = (
        "| rate/s | roll calls ok/all | absences delivered | absence -> guardian "
        "p50 / p99 ms | POST p50 / p99 ms | GET p50 / p99 ms | timetable changes, "
        "-> pupils p50 / p99 ms | hub CPU % total (loop + threads) | PostgreSQL "
        "statement time % | DB connections max (ours / server) | ping p99 ms | "
        "ours / machine CPU % | load |"
    )
    print("\n" + header)
    print("|" + "---|" * (header.count("|") - 1))
    for s in f["steps"]:
        cpu = s["cpu"]
        hubs = " · ".join(
            f"{h['total']:.0f} ({h['loop']:.0f} + {h['threads']:.0f})"
            for h in cpu["hubs"]
        )
        pings = " · ".join(
            f"{p['p99']:.0f}" if p["count"] else "-" for p in s["ping_ms"]
        )
        print(
            f"| {s['rate']:g} | {s['ok']}/{s['roll_calls']} | "
            f"{s['absences_delivered']}/{s['absences_expected']} | "
            f"**{fmt(s['absence_ms'])}** | {fmt(s['post_ms'])} | {fmt(s['get_ms'])} | "
            f"{s['timetable_changes']}, {fmt(s['timetable_ms'])} | {hubs} | "
            f"{cpu.get('postgres_active', float('nan')):.0f} | "
            f"{s['db_connections_max']} / {s['db_connections_all_max']} | {pings} | "
            f"{cpu['ours']:.0f} / {cpu['machine']:.0f} | {s['load']} |"
        )
    print(
        "\nper step: errors, PostgreSQL backends' CPU % (live ones), connections "
        "opened, commits, clients + bench CPU %, the hub's log"
    )
    for s in f["steps"]:
        cpu = s["cpu"]
        print(
            f"   {s['rate']:g}/s: errors {s['errors'] or 'none'}; PostgreSQL CPU "
            f"{cpu['postgres']:.0f} %, {cpu.get('db_sessions')} connections opened, "
            f"{cpu.get('db_commits')} commits; clients {cpu['clients']:.0f} % + "
            f"bench {cpu['bench']:.0f} %; timetable receipts missing "
            f"{s['timetable_missing']}; absence receipt - POST answer p50 "
            f"{s['absence_after_answer_ms']['p50']} ms"
        )
        for line, count in s["hub_log"].items():
            print(f"      log x{count}: {line}")
        for query, count in s["db_waiting_on"].items():
            print(f"      waiting on a lock, seen x{count}: {query}")
    print(
        f"\nsockets: {f['socket_totals']}; closes during the run "
        f"{f['closes'] or 'none'}; bench loop lag max per step (ms) "
        f"{[s['bench_lag_max_ms'] for s in f['steps']]}"
    )
    if f["best_rate"] is None:
        print(f"\nno step kept absence -> guardian p99 under {args.target_ms:g} ms")
    else:
        print(
            f"\nhighest rate with absence -> guardian p99 < {args.target_ms:g} ms "
            f"(no error, nothing lost): {f['best_rate']:g} roll calls/s"
        )
    if f["breaks_at"] is not None:
        print(f"breaks at {f['breaks_at']:g} roll calls/s: {f['diagnosis']}")
        for s in f["steps"]:
            if not s["passes"] and s["rate"] != f["breaks_at"]:
                print(f"   also misses at {s['rate']:g}/s: {s['diagnosis']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=10000)
    parser.add_argument("--classes", type=int, default=400, help="of 25 pupils (400)")
    parser.add_argument(
        "--steps",
        type=lambda v: [float(x) for x in v.split(",") if x.strip()],
        default=[2, 5, 10, 20, 40],
        help="roll calls a second, one step each (2,5,10,20,40)",
    )
    parser.add_argument("--step-seconds", type=float, default=15.0)
    parser.add_argument(
        "--timetable-share",
        type=float,
        default=0.1,
        help="admin timetable changes per roll call (0.1)",
    )
    parser.add_argument(
        "--pupil-share", type=float, default=0.2, help="share of pupils' sockets (0.2)"
    )
    parser.add_argument("--target-ms", type=float, default=100.0)
    parser.add_argument("--server", choices=("daphne", "uvicorn"), default="daphne")
    parser.add_argument("--clients", type=int, default=4, help="client processes (4)")
    parser.add_argument("--connect-concurrency", type=int, default=25)
    parser.add_argument("--no-compression", action="store_true")
    parser.add_argument("--warmup", type=int, default=6, help="roll calls (6)")
    parser.add_argument("--http-timeout", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--setup-timeout", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the hub processes, e.g. DB_CONN_MAX_AGE=0",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.sockets > args.classes * PUPILS * 2:
        parser.error(f"at most {args.classes * PUPILS * 2} sockets")
    for item in args.env:
        if not item.partition("=")[0] or "=" not in item:
            parser.error(f"--env wants NAME=VALUE, not {item!r}")
    raise_nofile()
    load_before = load_average()
    print(f"machine: {machine_info()}; load average {load_before}", flush=True)
    print(f"\n== topology: 2 hub processes ({args.server}), population", flush=True)
    figures = asyncio.run(bench(args))
    report(args, figures, load_before)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    sys.exit(main())
