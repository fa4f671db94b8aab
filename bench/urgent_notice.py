"""A school-wide urgent notice → every socket, push and e-mail, beside the roll call.

One command::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hub \\
    REDIS_URL=redis://127.0.0.1:6379/15 \\
    .venv/bin/python bench/urgent_notice.py

Without ``DATABASE_URL`` and ``REDIS_URL`` it measures the embedded default
(SQLite, in-memory layer, one hub process).

What it does:

1. creates a throwaway database (as ``homework_publish.py``) and one school
   of ``--families`` (1,500) pupils in classes of 30, two guardians each
   (3,000), a teacher of the first class (roll calls) and a CPE (school-life
   staff, "Vie scolaire" group); both with a TOTP device;
2. gives the guardians what the product would: the first ``--online``
   (1,000, the first class's 60 among them) hold a socket **and** a push
   device (default preferences: push and daily digest); the next ``--push``
   (1,000) a push device only; the next ``--email`` (1,000) no device and
   the preference "announcements by e-mail" (their push would be
   suppressed); the rest (0 by default) nothing but the defaults. Devices are
   subscriptions of a local RFC 8030 service that checks VAPID and
   **decrypts** every push (``tests/delivery/push_endpoint.py``, in this
   process); e-mails go to a local aiosmtpd server
   (``tests/delivery/smtp_server.py``);
3. starts real hub processes (``scripts.topology.server_argv``, uvicorn by
   default; two with ``REDIS_URL``: the staff's requests go to the first,
   every socket is held by the second) and ``--workers`` (2, as in
   ``compose.yaml``) ``manage.py db_worker --queue-name '*' --interval 0.5``
   task workers that plan and send every delivery for real;
4. logs the CPE and the teacher in through ``/login/`` and the second
   factor, opens the online guardians' sockets subscribed to what their
   ``hello`` offers (as ``hub-client.js``);
5. **before**: ``--rounds`` roll calls (``POST /absences/roll-call/<id>/``
   marking 1 to 3 pupils absent → ``attendance.record`` on their guardians'
   sockets);
6. **notice**: ``GET /schoollife/new/`` then the ``POST`` of its form
   (``roles=guardian``, no level or class: the whole school, ``urgent``),
   timed from just before the ``POST`` to: each online guardian's
   ``schoollife.notice`` frame (p50/p99/max and the last socket); each push
   of the notice received and decrypted by the push service; each e-mail of
   the notice accepted by the SMTP server. **While** it spreads, roll calls
   go on back to back (the absence path under the notice's load);
7. **after**: ``--rounds`` roll calls again;
8. stops the servers and workers, then times in this process, with query
   counts, what the POST and the worker do for one more urgent notice to
   the same 3,000 guardians: ``publish_notice`` (the action: audience,
   one ``send_event`` to 3,000 ``user:`` streams) and ``plan_event`` (3,000
   notifications and their deliveries).

It prints the figures and the ratios against the roll call of the same
run. ``--json FILE`` keeps them.
"""

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import platform
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path

from homework_publish import (
    HISTORY,
    Expect,
    Socket,
    Teacher,
    commit,
    log_errors,
    ms,
    statement_shape,
)
from messaging_latency import (
    PASSWORD,
    TOTP_KEY,
    bench_cleanup,
    bench_environment,
    free_port,
    server_count,
    wait_until_up,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TITLE = "Grève jeudi : pas de cantine, sortie à 11 h 30 ({token})"
BODY = (
    "En raison d'un mouvement social, la cantine sera fermée jeudi. Les élèves "
    "sortiront à 11 h 30 ; merci de prendre vos dispositions."
)
LEVELS = ("6e", "5e", "4e", "3e")


# School ---------------------------------------------------------------------


def make_school(args, endpoint) -> dict:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from core.roster.access import SCHOOL_LIFE_GROUP
    from core.roster.models import (
        AcademicSession,
        Enrollment,
        GuardianLink,
        Org,
        SchoolClass,
        User,
    )
    from core.timetable.models import Feed, Lesson, Occurrence
    from hub.delivery.models import Preference, PushSubscription
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
    n_classes = -(-args.families // 30)
    classes = SchoolClass.objects.bulk_create(
        [
            SchoolClass(
                org=org,
                session=session,
                title=f"{LEVELS[n % 4]} {chr(65 + n // 4 % 26)}{n // 104 or ''}",
            )
            for n in range(n_classes)
        ]
    )
    staff = {}
    for username, role in (
        ("bench.prof", User.Role.TEACHER),
        ("bench.cpe", User.Role.ADMINISTRATOR),
    ):
        user = User.objects.create_user(
            username=username,
            password=PASSWORD,
            role=role,
            first_name="Alice",
            last_name=username.split(".")[1].upper(),
            email=f"{username}@example.org",
        )
        user.orgs.add(org)
        TOTPDevice.objects.create(user=user, name="bench", key=TOTP_KEY)
        staff[role] = user
    staff[User.Role.ADMINISTRATOR].groups.add(Group.objects.get(name=SCHOOL_LIFE_GROUP))
    teacher = staff[User.Role.TEACHER]
    Enrollment.objects.create(
        user=teacher, school_class=classes[0], role=Enrollment.Role.TEACHER
    )
    unusable = make_password(None)
    pupils, guardians = [], []
    for n in range(args.families):
        pupils.append(
            User(
                username=f"bench.eleve{n}",
                password=unusable,
                role=User.Role.STUDENT,
                first_name=f"Élève{n}",
                last_name="Dubois",
            )
        )
        guardians += [
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
    User.objects.bulk_create(pupils + guardians, batch_size=500)
    Enrollment.objects.bulk_create(
        [
            Enrollment(
                user=p, school_class=classes[n // 30], role=Enrollment.Role.STUDENT
            )
            for n, p in enumerate(pupils)
        ],
        batch_size=500,
    )
    GuardianLink.objects.bulk_create(
        [
            GuardianLink(guardian=guardians[2 * n + g], student=p)
            for n, p in enumerate(pupils)
            for g in range(2)
        ],
        batch_size=500,
    )
    # Guardians in order: the first class's come first, so they are online.
    online = guardians[: args.online]
    push_only = guardians[args.online : args.online + args.push]
    email_only = guardians[
        args.online + args.push : args.online + args.push + args.email
    ]
    subs = []
    for g in online + push_only:
        info = endpoint.subscribe(f"g{g.pk}")
        subs.append(
            PushSubscription(
                user=g,
                endpoint=info["endpoint"],
                p256dh=info["keys"]["p256dh"],
                auth=info["keys"]["auth"],
            )
        )
    PushSubscription.objects.bulk_create(subs, batch_size=500)
    Preference.objects.bulk_create(
        [
            Preference(user=g, category="announcement", push=False, email=True)
            for g in email_only
        ],
        batch_size=500,
    )

    # One lesson a roll call: the first going on now, then one an hour earlier.
    feed = Feed.objects.create(school_class=classes[0], name="bench.ics")
    now = timezone.now().replace(second=0, microsecond=0)
    lessons = []
    for j in range(args.roll_calls):
        start = now - dt.timedelta(minutes=5 + 60 * j)
        lesson = Lesson.objects.create(
            feed=feed,
            school_class=classes[0],
            uid=f"bench-{j}",
            subject=HISTORY,
            room="B12",
            teacher_names="MARTIN A.",
        )
        occurrence = Occurrence.objects.create(
            lesson=lesson,
            school_class=classes[0],
            recurrence_key="",
            start=start,
            end=start + dt.timedelta(minutes=55),
            subject=HISTORY,
            room="B12",
            teacher_names="MARTIN A.",
        )
        occurrence.teachers.add(teacher)
        lessons.append(occurrence.pk)
    sessions = create_sessions(online)
    return {
        "org_id": org.pk,
        "teacher": teacher.username,
        "cpe": staff[User.Role.ADMINISTRATOR].username,
        "class_pupils": [p.pk for p in pupils[:30]],
        "guardians": {
            p.pk: [guardians[2 * n].pk, guardians[2 * n + 1].pk]
            for n, p in enumerate(pupils[:30])
        },
        "sockets": [(g.pk, "guardian", sessions[g.pk]) for g in online],
        "lessons": lessons,
        "devices": len(subs),
        "email_only": len(email_only),
        "online_ids": {g.pk for g in online},
    }


class Staff(Teacher):
    """The teacher's browser plus the CPE's notice form."""

    def publish_notice(self, org_id: int, title: str):
        path = "/schoollife/new/"
        fields = self.form(path)
        fields.update(
            org=str(org_id),
            title=title,
            body=BODY,
            publish_at="",
            urgent="on",
            reply_kind="none",
            reply_options="",
        )
        skip = {"roles", "levels", "classes", "requires_ack", "attachments"}
        items = [
            (k, v)
            for k, v in fields.items()
            if k not in skip and k != "csrfmiddlewaretoken"
        ]
        items += [
            ("roles", "guardian"),
            ("csrfmiddlewaretoken", self.cookies["csrftoken"]),
        ]
        return self._post_and_follow(path, items, multipart=True)


# Push and e-mail arrivals ------------------------------------------------------


class Arrivals:
    """Polls the push service and the SMTP server for the notice's token."""

    def __init__(self, endpoint, smtp) -> None:
        self.endpoint, self.smtp = endpoint, smtp
        self.push: list[float] = []
        self.email: list[float] = []
        self.push_other = 0
        self.email_other = 0
        self._p = self._e = 0
        self.token = None

    def poll(self) -> None:
        now = time.perf_counter()
        records = self.endpoint.records
        for record in records[self._p :]:
            if record.payload is None:
                raise SystemExit(f"push refused: {record.error}")
            if self.token and self.token in json.dumps(record.payload):
                self.push.append(now)
            else:
                self.push_other += 1
        self._p = len(records)
        with self.smtp.lock:
            messages = list(self.smtp.messages[self._e :])
            self._e = len(self.smtp.messages)
        for received in messages:
            if self.token and self.token in str(received.message["Subject"]):
                self.email.append(now)
            else:
                self.email_other += 1


# Rounds ---------------------------------------------------------------------


async def run(args, school, staff, teacher, socket_port, arrivals) -> dict:
    sockets = [Socket(i, *spec) for i, spec in enumerate(school["sockets"])]
    by_user = collections.defaultdict(list)
    for s in sockets:
        by_user[s.user_id].append(s.index)
    current: dict[str, Expect | None] = {"notice": None, "absence": None}
    stray = collections.Counter()

    def on_event(sock, frame, now):
        data = frame.get("data") or {}
        if frame.get("kind") == "schoollife.notice" and frame.get("op") == "published":
            if current["notice"]:
                current["notice"].arrive(data["item"]["title"], sock.index, now)
        elif frame.get("kind") == "attendance.record":
            if current["absence"]:
                current["absence"].arrive(
                    (data["lesson"]["id"], data["student_id"]), sock.index, now
                )
        else:
            stray[frame.get("kind")] += 1

    opened = time.perf_counter()
    for chunk in range(0, len(sockets), 20):
        await asyncio.gather(
            *(s.open(socket_port, on_event) for s in sockets[chunk : chunk + 20])
        )
    open_s = time.perf_counter() - opened
    rng = random.Random(args.seed)
    pupils = school["class_pupils"]
    lessons = list(school["lessons"])
    out = {
        phase: {"all": [], "last": [], "post": []}
        for phase in ("before", "while", "after")
    }
    lost = collections.Counter()

    async def roll_call(phase: str) -> None:
        lesson = lessons.pop(0)
        absent = rng.sample(pupils, rng.randint(1, 3))
        keys = {
            (lesson, p): [i for g in school["guardians"][p] for i in by_user[g]]
            for p in absent
        }
        expect = Expect(keys)
        current["absence"] = expect
        t0, post_s, status = await asyncio.to_thread(
            teacher.roll_call, lesson, pupils, absent
        )
        if status != 302:
            raise SystemExit(f"roll call: HTTP {status}")
        try:
            await asyncio.wait_for(expect.done.wait(), args.timeout)
        except TimeoutError:
            lost[f"absence {phase}"] += sum(len(v) for v in expect.left.values())
        current["absence"] = None
        times = [a - t0 for a in expect.arrivals]
        out[phase]["all"] += times
        if times:
            out[phase]["last"].append(max(times))
        out[phase]["post"].append(post_s)

    for _ in range(args.rounds):
        await roll_call("before")
        await asyncio.sleep(args.pause)

    token = f"URG-{secrets.token_hex(4)}"
    title = TITLE.format(token=token)
    arrivals.token = token
    arrivals.poll()
    notice = Expect({title: [s.index for s in sockets]})
    current["notice"] = notice
    pushes_expected = school["devices"]
    emails_expected = school["email_only"]
    done = {"sockets": None, "push": None, "email": None}

    async def watch(t0: float) -> None:
        deadline = time.perf_counter() + args.delivery_timeout
        while time.perf_counter() < deadline:
            await asyncio.to_thread(arrivals.poll)
            if done["push"] is None and len(arrivals.push) >= pushes_expected:
                done["push"] = max(arrivals.push, default=t0) - t0
            if done["email"] is None and len(arrivals.email) >= emails_expected:
                done["email"] = max(arrivals.email, default=t0) - t0
            if done["push"] is not None and done["email"] is not None:
                return
            await asyncio.sleep(0.05)

    async def meanwhile(stop: asyncio.Event) -> None:
        await asyncio.sleep(0.05)  # the notice's POST is under way
        while not stop.is_set() and len(lessons) > args.rounds:
            await roll_call("while")
            await asyncio.sleep(args.while_pause)

    stop = asyncio.Event()
    side = asyncio.create_task(meanwhile(stop))
    t0, post_s, status = await asyncio.to_thread(
        staff.publish_notice, school["org_id"], title
    )
    if status != 302:
        raise SystemExit(f"notice: HTTP {status}")
    watcher = asyncio.create_task(watch(t0))
    try:
        await asyncio.wait_for(notice.done.wait(), args.timeout)
    except TimeoutError:
        lost["notice sockets"] += sum(len(v) for v in notice.left.values())
    current["notice"] = None
    socket_times = [a - t0 for a in notice.arrivals]
    # Roll calls go on while the workers plan and send.
    await watcher
    stop.set()
    await side
    for _ in range(args.rounds):
        if not lessons:
            break
        await roll_call("after")
        await asyncio.sleep(args.pause)
    for s in sockets:
        s.reader.cancel()
        await s.ws.close()
    return {
        "open_s": open_s,
        "sockets": len(sockets),
        "notice": socket_times,
        "notice_post": post_s,
        "push": [a - t0 for a in arrivals.push],
        "email": [a - t0 for a in arrivals.email],
        "push_expected": pushes_expected,
        "email_expected": emails_expected,
        "push_done": done["push"],
        "email_done": done["email"],
        "absence": out,
        "lost": dict(lost),
        "stray": dict(stray),
        "frames": dict(sum((s.seen for s in sockets), collections.Counter())),
    }


# In-process: the action and the plan --------------------------------------------


def measure_in_process(school: dict) -> dict:
    """One more urgent notice by the action, then its plan, timed and counted."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from core.roster.models import Org, User
    from core.schoollife import actions
    from hub.delivery import tasks
    from hub.delivery.models import Delivery
    from hub.models import Event

    cpe = User.objects.get(username=school["cpe"])
    org = Org.objects.get(pk=school["org_id"])
    mark = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    reset_queries()
    with CaptureQueriesContext(connection) as q_action:
        began = time.perf_counter()
        actions.publish_notice(
            author=cpe,
            org=org,
            title=TITLE.format(token="in-process"),
            body=BODY,
            audience={"roles": ["guardian"]},
            urgent=True,
        )
        action_s = time.perf_counter() - began
    action_statements = collections.Counter(
        statement_shape(q["sql"]) for q in q_action.captured_queries
    ).most_common(8)
    event_ids = list(
        Event.objects.filter(pk__gt=mark, kind="schoollife.notice").values_list(
            "pk", flat=True
        )
    )
    # The workers are stopped: plan here as the worker's task does (the send
    # tasks it enqueues stay queued). Its statements are counted by a wrapper:
    # more than the query log's 9,000.
    statements = collections.Counter()

    def count(execute, sql, params, many, context):
        statements[statement_shape(sql)] += 1
        return execute(sql, params, many, context)

    from django_tasks_db.models import DBTaskResult

    def send_tasks() -> int:
        return DBTaskResult.objects.filter(
            task_path__in=(
                "hub.delivery.push_deliveries.send_pushes",
                "hub.delivery.email_deliveries.send_emails",
            )
        ).count()

    tasks_before = send_tasks()
    with connection.execute_wrapper(count):
        began = time.perf_counter()
        counts = tasks.plan_event.call(event_ids)
    plan_s = time.perf_counter() - began
    return {
        "action_s": action_s,
        "action_queries": len(q_action),
        "action_statements": action_statements,
        "plan_s": plan_s,
        "plan_queries": sum(statements.values()),
        "send_tasks": send_tasks() - tasks_before,
        "plan_statements": statements.most_common(8),
        "events": len(event_ids),
        "notifications": counts["notifications"],
        "deliveries": Delivery.objects.filter(
            notification__event_id__in=event_ids
        ).count(),
        "push_queued": counts["push"],
        "email_queued": counts["email"],
    }


# Report ---------------------------------------------------------------------


def report(f: dict) -> None:
    print(
        f"\nurgent notice to {f['families']} families ({f['guardians']} guardians: "
        f"{f['sockets']} online, {f['devices']} push devices, {f['email_only']} "
        f"e-mail only), {f['database']} + {f['layer']}, {f['servers']} "
        f"{f['server']} process(es), {f['workers']} db_worker(s), "
        f"DELIVERY_SEEN_GRACE={f['seen_grace']} s; sockets opened in {f['open_s']:.1f} s"
    )
    print(f"machine: {f['machine']}, load {f['load']}, commit {f['commit']}")
    print(f"{'':40}{'n':>6}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}  (ms)")
    for label, m in f["rows"]:
        if m.get("n"):
            print(
                f"{label:40}{m['n']:6d}"
                + "".join(f"{m[k]:10.1f}" for k in ("p50", "p90", "p99", "max"))
            )
    print(
        f"notice POST -> 302: {f['notice_post_ms']:.0f} ms; last socket "
        f"{f['notice_last_ms']:.0f} ms; every push handed to the push service "
        f"({f['push_n']}/{f['push_expected']}): {f['push_done_s']} s; every e-mail "
        f"accepted by the SMTP server ({f['email_n']}/{f['email_expected']}): "
        f"{f['email_done_s']} s"
    )
    for name, value in f["ratios"].items():
        print(f"  {name}: {value:.1f}x")
    print(
        f"lost: {f['lost'] or 'none'}; frames: {f['frames']}; other events: "
        f"{f['stray'] or 'none'}; other pushes {f['push_other']}, other e-mails "
        f"{f['email_other']}"
    )
    p = f["in_process"]
    print(
        f"\nin process, one more urgent notice to the same audience:\n"
        f"  publish_notice (action): {p['action_s'] * 1000:.0f} ms, "
        f"{p['action_queries']} queries"
    )
    for shape, count in p["action_statements"]:
        print(f"    {count:5d}  {shape}")
    print(
        f"  plan_event of its {p['events']} events (one per user: stream): "
        f"{p['plan_s'] * 1000:.0f} ms, {p['plan_queries']} queries, "
        f"{p['notifications']} notifications, {p['deliveries']} deliveries "
        f"({p['push_queued']} pushes, {p['email_queued']} e-mails queued in "
        f"{p['send_tasks']} send tasks)"
    )
    for shape, count in p["plan_statements"]:
        print(f"    {count:5d}  {shape}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", type=int, default=1500)
    parser.add_argument("--online", type=int, default=1000)
    parser.add_argument("--push", type=int, default=1000, help="offline, device")
    parser.add_argument("--email", type=int, default=1000, help="offline, e-mail")
    parser.add_argument(
        "--rounds", type=int, default=15, help="roll calls before/after"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seen-grace", default="5", help="DELIVERY_SEEN_GRACE, s")
    parser.add_argument("--server", choices=("uvicorn", "daphne"), default="uvicorn")
    parser.add_argument("--servers", type=int, default=None)
    parser.add_argument("--pause", type=float, default=0.2)
    parser.add_argument(
        "--while-pause", type=float, default=1.0, help="s between roll calls while"
    )
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--delivery-timeout", type=float, default=240.0)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.online + args.push + args.email > 2 * args.families:
        parser.error("more guardians online, with push or e-mail than guardians")
    if args.online < 60:
        parser.error("--online must cover the roll-call class's 60 guardians")
    args.roll_calls = 2 * args.rounds + 200

    from scripts.topology import server_argv
    from tests.delivery.push_endpoint import PushEndpoint
    from tests.delivery.smtp_server import SmtpTestServer

    redis_url = os.environ.get("REDIS_URL", "")
    servers = server_count(args.servers)
    endpoint = PushEndpoint().start()
    smtp = SmtpTestServer().start()
    workdir, database = bench_environment(
        "hub-bench-urgent-",
        HUB_CHANNEL_PREFIX=f"bench-urgent-{os.getpid()}",
        EMAIL_HOST=smtp.host,
        EMAIL_PORT=str(smtp.port),
        PUSH_ALLOW_HTTP="1",
        PUSH_ALLOWED_HOSTS="127.0.0.1",
        DELIVERY_SEEN_GRACE=args.seen_grace,
        # Every socket comes from 127.0.0.1: lift the per-address cap.
        HUB_MAX_SOCKETS_PER_IP=str(args.online + 100),
    )
    processes = []
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        began = time.perf_counter()
        school = make_school(args, endpoint)
        print(f"school made in {time.perf_counter() - began:.1f} s", flush=True)
        connections.close_all()
        from hub.realtime import gcwatch

        gcwatch.settle()
        ports = [free_port() for _ in range(servers)]
        logs = {}
        for port in ports:
            logs[f"hub-{port}"] = server_argv(args.server, port)
        for n in range(args.workers):
            logs[f"worker-{n}"] = [
                sys.executable,
                "manage.py",
                "db_worker",
                "--queue-name",
                "*",
                "--interval",
                "0.5",
            ]
        for name, argv in logs.items():
            log = open(workdir / f"{name}.log", "w")  # noqa: SIM115
            processes.append(
                subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            )
        for port, process in zip(ports, processes, strict=False):
            wait_until_up(port, process)
        staff = Staff(ports[0])
        staff.login(school["cpe"])
        teacher = Staff(ports[0])
        teacher.login(school["teacher"])
        arrivals = Arrivals(endpoint, smtp)
        result = asyncio.run(run(args, school, staff, teacher, ports[-1], arrivals))
        time.sleep(1)
        lines = [
            line.rstrip()
            for name in logs
            for line in (workdir / f"{name}.log").read_text().splitlines()
        ]
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
        errors = log_errors(lines)
        in_process = measure_in_process(school)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        bench_cleanup(workdir, database)
        endpoint.stop()
        smtp.stop()

    a = result["absence"]
    notice = ms(result["notice"])
    rows = [
        ("notice POST -> every online socket", notice),
        ("notice POST -> each push received", ms(result["push"])),
        ("notice POST -> each e-mail received", ms(result["email"])),
    ]
    for phase in ("before", "while", "after"):
        rows.append((f"roll call -> guardians, {phase}", ms(a[phase]["all"])))
        rows.append(("  per roll call, last socket", ms(a[phase]["last"])))
        rows.append(("  POST -> 302", ms(a[phase]["post"])))
    before, during = ms(a["before"]["all"]), ms(a["while"]["all"])
    notice_last = max(result["notice"], default=0) * 1000
    ratios = {}
    if before.get("n"):
        ratios["notice p50 / roll call before p50"] = notice["p50"] / before["p50"]
        ratios["notice p99 / roll call before p99"] = notice["p99"] / before["p99"]
        ratios["notice last socket / roll call before p50"] = (
            notice_last / before["p50"]
        )
        if during.get("n"):
            ratios["roll call while / before, p50"] = during["p50"] / before["p50"]
            ratios["roll call while / before, p99"] = during["p99"] / before["p99"]

    def secs(value):
        return "not all" if value is None else f"{value:.1f}"

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
        "workers": args.workers,
        "seen_grace": args.seen_grace,
        "families": args.families,
        "guardians": 2 * args.families,
        "sockets": result["sockets"],
        "devices": school["devices"],
        "email_only": school["email_only"],
        "open_s": result["open_s"],
        "rows": rows,
        "notice_post_ms": result["notice_post"] * 1000,
        "notice_last_ms": notice_last,
        "push_n": len(result["push"]),
        "push_expected": result["push_expected"],
        "push_done_s": secs(result["push_done"]),
        "email_n": len(result["email"]),
        "email_expected": result["email_expected"],
        "email_done_s": secs(result["email_done"]),
        "ratios": ratios,
        "lost": result["lost"],
        "frames": result["frames"],
        "stray": result["stray"],
        "push_other": arrivals.push_other,
        "email_other": arrivals.email_other,
        "in_process": in_process,
        "errors": errors[:20],
    }
    report(figures)
    if errors:
        print("log errors:", *errors[:20], sep="\n  ")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
