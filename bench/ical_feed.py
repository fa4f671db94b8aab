"""A pupil's iCalendar feed for a whole school year: time to first byte and size.

One command::

    .venv/bin/python bench/ical_feed.py --requests 30

(``DATABASE_URL=postgres://…`` measures PostgreSQL instead of SQLite.)

What it does:

1. creates a throwaway database (as ``bench/messaging_latency.py``: a new
   PostgreSQL database ``hub_bench_<pid>`` next to ``DATABASE_URL``, dropped
   at the end, or a SQLite file in a temporary folder) and migrates it;
2. creates one pupil in a class whose timetable is a school year from next
   Monday: ``--lessons-per-week`` weekly lessons (default 30, Monday to
   Friday 08:00-17:00, five teachers linked) over ``--weeks`` weeks (default
   36), that is 1,080 occurrences, with a few cancelled, moved and re-roomed
   through ``change_occurrence`` (each recorded, as a re-import does);
3. starts a real Daphne server on a free port and fetches the pupil's feed
   (``/calendar/<token>.ics``, no session) with ``http.client``:
   ``--requests`` times cold, each after a lesson change (a new version: the
   server renders the whole calendar), then ``--requests`` times again
   without ``If-None-Match`` (the same version: its body comes from the
   cache), then ``--requests`` times with ``If-None-Match`` set to the ETag
   it got (304: the version only);
4. prints, for each, the median / p90 / max of the time to first byte
   (request sent → status line and headers read) and of the whole exchange,
   the body size (and gzip size, what a proxy that compresses would send),
   the event count, and the SQL queries of one request of each kind
   (measured in-process through Django's test client).
"""

import argparse
import datetime as dt
import gzip
import http.client
import math
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fanout_common import stop_process  # noqa: E402
from bench.messaging_latency import (  # noqa: E402
    bench_cleanup,
    bench_environment,
    free_port,
    wait_until_up,
)

PARIS = ZoneInfo("Europe/Paris")
SUBJECTS = [
    ("Mathématiques", "B12"),
    ("Français", "A03"),
    ("Histoire-géographie", "A05"),
    ("Anglais LV1", "C21"),
    ("Allemand LV2", "C22"),
    ("Physique-chimie", "Labo 1"),
    ("SVT", "Labo 2"),
    ("Technologie", "T01"),
    ("Éducation physique et sportive", "Gymnase"),
    ("Arts plastiques", "Arts"),
]


def serve(port: int) -> None:
    """Run Daphne on ``port`` (a subprocess)."""
    import django

    django.setup()
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(
        ["-b", "127.0.0.1", "-p", str(port), "-v", "0", "core.asgi:application"]
    )


def make_year(weeks: int, per_week: int):
    """Create the pupil and a school year of lessons; return (pupil, count)."""
    from core.roster.models import AcademicSession, Enrollment, Org, SchoolClass, User
    from core.timetable.actions import change_occurrence
    from core.timetable.models import Feed, Lesson, Occurrence

    org = Org.objects.create(name="Collège du banc d'essai", uai="0359999Z")
    today = dt.date.today()
    monday = today + dt.timedelta(days=7 - today.weekday())
    session = AcademicSession.objects.create(
        org=org,
        title="année",
        start_date=monday,
        end_date=monday + dt.timedelta(weeks=weeks),
    )
    school_class = SchoolClass.objects.create(org=org, session=session, title="4e B")
    pupil = User.objects.create_user(
        username="eleve", role="student", first_name="Léa", last_name="Moreau"
    )
    Enrollment.objects.create(user=pupil, school_class=school_class, role="student")
    teachers = []
    for n in range(5):
        teacher = User.objects.create_user(
            username=f"prof{n}",
            role="teacher",
            first_name=f"Prof{n}",
            last_name="Martin",
            timetable_code=f"P{n}",
        )
        teacher.orgs.add(org)
        teachers.append(teacher)
    feed = Feed.objects.create(school_class=school_class, name="bench.ics")
    slots = [(day, hour) for day in range(5) for hour in (8, 9, 10, 11, 13, 14, 15, 16)]
    rows, links = [], []
    for index in range(per_week):
        day, hour = slots[index % len(slots)]
        subject, room = SUBJECTS[index % len(SUBJECTS)]
        lesson = Lesson.objects.create(
            feed=feed,
            school_class=school_class,
            uid=f"bench-{index}@hub",
            subject=subject,
            room=room,
            rrule="FREQ=WEEKLY",
        )
        for week in range(weeks):
            start = dt.datetime.combine(
                monday + dt.timedelta(weeks=week, days=day), dt.time(hour), PARIS
            )
            rows.append(
                Occurrence(
                    lesson=lesson,
                    school_class=school_class,
                    recurrence_key=start.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
                    start=start,
                    end=start + dt.timedelta(minutes=55),
                    subject=subject,
                    room=room,
                    teacher_names=teachers[index % 5].timetable_code,
                )
            )
    Occurrence.objects.bulk_create(rows, batch_size=500)
    through = Occurrence.teachers.through
    for row in rows:
        teacher = teachers[int(row.lesson.uid.split("-")[1].split("@")[0]) % 5]
        links.append(through(occurrence_id=row.pk, user_id=teacher.pk))
    through.objects.bulk_create(links, batch_size=1000)
    feed.imported_at = dt.datetime.now(dt.UTC)
    feed.save()
    # A few changes, as a year brings: cancelled, moved, re-roomed.
    for n, occurrence in enumerate(Occurrence.objects.order_by("start")[::97]):
        if n % 3 == 0:
            change_occurrence(
                occurrence=occurrence, actor=None, reason="Absent", cancelled=True
            )
        elif n % 3 == 1:
            change_occurrence(
                occurrence=occurrence,
                actor=None,
                reason="Échange",
                start=occurrence.start + dt.timedelta(hours=1),
            )
        else:
            change_occurrence(occurrence=occurrence, actor=None, reason="", room="CDI")
    return pupil, len(rows)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def fetch(
    port: int, path: str, etag: str = ""
) -> tuple[float, float, int, bytes, dict]:
    """GET ``path``; return (ttfb, total, status, body, headers), times in seconds."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Host": "127.0.0.1"}
    if etag:
        headers["If-None-Match"] = etag
    started = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()  # returns once status and headers are in
    first_byte = time.perf_counter() - started
    body = response.read()
    total = time.perf_counter() - started
    connection.close()
    return first_byte, total, response.status, body, dict(response.getheaders())


def queries_per_request(path: str, etag: str) -> tuple[int, int]:
    """Return the SQL queries of a cold and of a 304 request (in-process)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    cache.clear()  # this process's cache: the request renders
    with CaptureQueriesContext(connection) as cold:
        assert client.get(path).status_code == 200
    with CaptureQueriesContext(connection) as conditional:
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    return len(cold), len(conditional)


def line(label: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return f"{label:34}{percentile(ms, 50):9.1f}{percentile(ms, 90):9.1f}{max(ms):9.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--weeks", type=int, default=36)
    parser.add_argument("--lessons-per-week", type=int, default=30)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    workdir, database = bench_environment(
        "hub-bench-", allowed_hosts="127.0.0.1,testserver"
    )
    process = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        from core.timetable.actions import change_occurrence
        from core.timetable.feed import feed_token_for
        from core.timetable.models import Occurrence

        call_command("migrate", verbosity=0)
        pupil, occurrences = make_year(args.weeks, args.lessons_per_week)
        path = f"/calendar/{feed_token_for(pupil)}.ics"
        connections.close_all()

        port = free_port()
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port)], cwd=ROOT
        )
        wait_until_up(port, process)
        fetch(port, path)  # warm-up: imports, first connection
        cold, cold_total, cached, cached_total = [], [], [], []
        conditional, conditional_total = [], []
        body, etag = b"", ""
        lessons = list(Occurrence.objects.order_by("start")[1::53])
        for n in range(args.requests):
            # A change between fetches: a new version, rendered by the server.
            change_occurrence(
                occurrence=lessons[n % len(lessons)],
                actor=None,
                reason="",
                room=f"S{n}",
            )
            connections.close_all()
            ttfb, total, status, body, headers = fetch(port, path)
            assert status == 200 and headers["ETag"] != etag, status
            etag = headers["ETag"]
            cold.append(ttfb)
            cold_total.append(total)
        for _ in range(args.requests):
            ttfb, total, status, again, headers = fetch(port, path)
            assert status == 200 and again == body, status
            cached.append(ttfb)
            cached_total.append(total)
        for _ in range(args.requests):
            ttfb, total, status, empty, headers = fetch(port, path, etag)
            assert status == 304 and not empty, status
            conditional.append(ttfb)
            conditional_total.append(total)
        cold_queries, conditional_queries = queries_per_request(path, etag)
        connections.close_all()
    finally:
        stop_process(process)
        bench_cleanup(workdir, database)

    events = body.count(b"BEGIN:VEVENT")
    print(
        f"\niCalendar feed of one pupil: {occurrences} occurrences over "
        f"{args.weeks} weeks, {events} in the feed's window; {database.kind}, "
        f"1 Daphne process, {args.requests} requests of each kind"
    )
    print(f"{'':34}{'median':>9}{'p90':>9}{'max':>9}  (ms)")
    print(line("cold (new version): first byte", cold))
    print(line("cold (new version): whole", cold_total))
    print(line("same version, cached: first byte", cached))
    print(line("same version, cached: whole", cached_total))
    print(line("If-None-Match (304): first byte", conditional))
    print(line("If-None-Match (304): whole", conditional_total))
    print(
        f"size: {len(body):,} bytes ({len(gzip.compress(body)):,} gzipped), "
        f"{len(body) / max(events, 1):.0f} bytes an event; 304: 0 bytes of body"
    )
    print(
        f"SQL queries: cold {cold_queries}, If-None-Match {conditional_queries}; "
        f"median first byte cold / 304: "
        f"{percentile(cold, 50) / percentile(conditional, 50):.1f}x"
    )


if __name__ == "__main__":
    main()
