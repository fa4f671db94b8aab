"""Roster import of a synthetic département: ours against row-by-row ORM.

One command::

    .venv/bin/python bench/roster_import.py \\
        [--database-url postgres://postgres@127.0.0.1:5432/hub_bench_roster] \\
        [--scales 0.5,1] [--naive-orgs 8]

What one run does:

1. generates, with ``bench/aaf_synth.py``, an AAF ``Complet`` feed of a
   département at each ``--scales`` (1 = 20,000 pupils, 30,000 guardians,
   1,500 staff, 40 orgs) in a temporary folder;
2. for each scale, on a fresh PostgreSQL database of its own (created from
   ``--database-url``, migrated, dropped at the end), imports it with
   the steps of :func:`core.roster.importing.run_import` (parse, plan,
   apply, timed apart: **first import**), then imports the same files again
   (**re-import, no change**). Each import runs in a
   process of its own, so its peak RSS (``ru_maxrss``) is that import's;
   queries are counted with ``connection.execute_wrapper``;
3. at the largest scale, on another fresh database, imports the same parsed
   roster the naive way: ``get_or_create`` / ``save`` per row, each
   username probed with a query until free, ``user.orgs.add`` per staff
   member, in one transaction (the model signals run as they would for
   anyone writing rows with the ORM). With ``--naive-orgs N`` (N < the
   number of orgs) it imports only the records of the first N orgs and
   scales its time and queries linearly to the whole roster (said so in the
   output); ``--naive-orgs 0`` imports everything;
4. prints each figure and the ratios: naive / ours (write phase: everything
   after parsing; and total), re-import / first import, and peak RSS at
   each scale.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hub_bench_roster"
FULL = {"pupils": 20000, "guardians": 30000, "staff": 1500, "orgs": 40}


# Child processes (one per measured import) ---------------------------------


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def child(what: str, directory: Path, url: str, naive_orgs: int) -> dict:
    """Run one import in this process; return its figures."""
    setup_django(url)
    from django.db import connection

    from core.roster.sources import read_roster

    paths = sorted(directory.glob("*.xml"))
    if what == "baseline":  # Django and the import's modules, nothing read
        from core.roster import actions, importing  # noqa: F401

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"peak_rss_mib": rss}
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        if what in ("first", "again"):
            # The steps of core.roster.importing.run_import, timed apart.
            from core.roster import sync
            from core.roster.report import ImportReport

            roster = read_roster(paths)
            parsed = time.perf_counter()
            report = ImportReport()
            the_plan = sync.plan(roster, report)
            planned = time.perf_counter()
            sync.apply(the_plan)
            done = time.perf_counter()
            result = {
                "wall": done - started,
                "parse": parsed - started,
                "plan": planned - parsed,
                "apply": done - planned,
                "counts": report.as_dict()["counts"],
                "rejected": len(report.rejections),
            }
        else:
            roster = read_roster(paths)
            parsed = time.perf_counter()
            total = _records(roster)
            if naive_orgs and naive_orgs < len(roster.orgs):
                roster = _sample(roster, naive_orgs)
            sample = _records(roster)
            naive_import(roster)
            wall = time.perf_counter() - started
            result = {
                "wall": wall,
                "parse": parsed - started,
                "records": total,
                "sample_records": sample,
            }
    result["queries"] = counter.count
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _records(roster) -> int:
    return sum(
        len(getattr(roster, kind))
        for kind in (
            "orgs",
            "sessions",
            "courses",
            "classes",
            "people",
            "enrollments",
            "guardian_links",
        )
    )


def _sample(roster, n: int):
    """The records of ``roster``'s first ``n`` orgs (their classes, pupils,
    the pupils' guardians and links, their staff)."""
    import dataclasses

    orgs = {o.sourced_id for o in roster.orgs[:n]}
    classes = {c.sourced_id for c in roster.classes if c.org in orgs}
    enrollments = [e for e in roster.enrollments if e.school_class in classes]
    members = {e.person for e in enrollments}
    links = [g for g in roster.guardian_links if g.student in members]
    people = members | {g.guardian for g in links}
    people |= {p.sourced_id for p in roster.people if set(p.orgs) & orgs}
    return dataclasses.replace(
        roster,
        orgs=roster.orgs[:n],
        sessions=[s for s in roster.sessions if s.org in orgs],
        courses=[c for c in roster.courses if c.org in orgs],
        classes=[c for c in roster.classes if c.org in orgs],
        people=[p for p in roster.people if p.sourced_id in people],
        enrollments=enrollments,
        guardian_links=links,
    )


def naive_import(roster) -> None:
    """Row by row with the ORM, as one would write it without thinking of
    volume: get_or_create per record, a save when a field differs."""
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from core.roster.models import (
        AcademicSession,
        Course,
        Enrollment,
        GuardianLink,
        Org,
        SchoolClass,
        User,
    )
    from core.roster.sync import username_base

    source = str(roster.source)
    today = timezone.localdate()
    start = today.year if today.month >= 8 else today.year - 1
    with transaction.atomic():
        orgs, sessions, courses, classes, people = {}, {}, {}, {}, {}
        for r in roster.orgs:
            org, _ = Org.objects.get_or_create(
                uai=r.uai,
                defaults={
                    "name": r.name or r.uai,
                    "source": source,
                    "sourced_id": r.sourced_id,
                },
            )
            orgs[r.sourced_id] = org
        for r in roster.sessions:
            sessions[r.sourced_id], _ = AcademicSession.objects.get_or_create(
                source=source,
                sourced_id=r.sourced_id,
                defaults={
                    "org": orgs[r.org],
                    "title": r.title,
                    "start_date": r.start_date,
                    "end_date": r.end_date,
                },
            )
        for r in roster.courses:
            courses[r.sourced_id], _ = Course.objects.get_or_create(
                source=source,
                sourced_id=r.sourced_id,
                defaults={"org": orgs[r.org], "title": r.title, "code": r.code},
            )
        for r in roster.classes:
            session = sessions.get(r.session)
            if session is None:
                session, _ = AcademicSession.objects.get_or_create(
                    org=orgs[r.org],
                    title=f"{start}-{start + 1}",
                    defaults={
                        "start_date": dt.date(start, 9, 1),
                        "end_date": dt.date(start + 1, 8, 31),
                    },
                )
            klass, created = SchoolClass.objects.get_or_create(
                source=source,
                sourced_id=r.sourced_id,
                defaults={
                    "org": orgs[r.org],
                    "session": session,
                    "title": r.title
                    if r.class_type == "homeroom"
                    else f"{r.title} (groupe)",
                    "class_type": r.class_type,
                    "course": courses.get(r.course),
                },
            )
            classes[r.sourced_id] = klass
        for r in roster.people:
            user = User.objects.filter(source=source, sourced_id=r.sourced_id).first()
            if user is None:
                base = username_base(r.given_name, r.family_name)
                username, n = base, 1
                while User.objects.filter(username=username).exists():
                    n += 1
                    username = f"{base}{n}"
                user = User(username=username, source=source, sourced_id=r.sourced_id)
                user.set_unusable_password()
            user.first_name, user.last_name = r.given_name, r.family_name
            user.email, user.role = r.email, str(r.role)
            user.national_id = r.national_id
            user.save()
            for org in r.orgs:
                if org in orgs:
                    user.orgs.add(orgs[org])
            people[r.sourced_id] = user
        for r in roster.enrollments:
            if r.person in people and r.school_class in classes:
                Enrollment.objects.get_or_create(
                    user=people[r.person],
                    school_class=classes[r.school_class],
                    role=str(r.role),
                    defaults={
                        "source": source,
                        "sourced_id": f"{r.person}|{r.school_class}|{r.role}",
                    },
                )
        for r in roster.guardian_links:
            if r.guardian in people and r.student in people:
                GuardianLink.objects.get_or_create(
                    guardian=people[r.guardian],
                    student=people[r.student],
                    defaults={
                        "relationship": r.relationship,
                        "source": source,
                        "sourced_id": f"{r.guardian}|{r.student}",
                    },
                )


# The driver --------------------------------------------------------------------


def database_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_connection(base: str):
    import psycopg

    return psycopg.connect(database_url(base, "postgres"), autocommit=True)


def fresh_database(base: str, name: str) -> str:
    """Drop and create ``name`` on the server of ``base``; migrate it."""
    with admin_connection(base) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = database_url(base, name)
    env = dict(os.environ, DATABASE_URL=url, DEBUG="1")
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"],
        check=True,
        env=env,
        cwd=ROOT,
    )
    return url


def drop_database(base: str, name: str) -> None:
    with admin_connection(base) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_child(what: str, directory: Path, url: str, naive_orgs: int = 0) -> dict:
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            what,
            "--dir",
            str(directory),
            "--database-url",
            url,
            "--naive-orgs",
            str(naive_orgs),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def generate(directory: Path, scale: float) -> int:
    sys.path.insert(0, str(ROOT / "bench"))
    import aaf_synth

    counts = {k: v if k == "orgs" else round(v * scale) for k, v in FULL.items()}
    aaf_synth.generate(directory, **counts)
    return sum(p.stat().st_size for p in directory.glob("*.xml"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--scales", default="0.5,1")
    parser.add_argument("--naive-orgs", type=int, default=8)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child, args.dir, args.database_url, args.naive_orgs)
        print(json.dumps(result))
        return

    name = urlsplit(args.database_url).path.lstrip("/") or "hub_bench_roster"
    scales = [float(s) for s in args.scales.split(",")]
    results = {}
    baseline = None
    try:
        with tempfile.TemporaryDirectory(prefix="roster-bench-") as tmp:
            for scale in scales:
                directory = Path(tmp) / f"scale-{scale}"
                size = generate(directory, scale)
                print(f"scale {scale}: {size / 2**20:.1f} MiB of AAF XML", flush=True)
                url = fresh_database(args.database_url, name)
                if baseline is None:
                    baseline = run_child("baseline", directory, url)["peak_rss_mib"]
                    print(f"baseline process (Django set up): {baseline:.0f} MiB")
                first = run_child("first", directory, url)
                print(f"  first import: {_line(first)}", flush=True)
                again = run_child("again", directory, url)
                print(f"  re-import, no change: {_line(again)}", flush=True)
                results[scale] = {"size": size, "first": first, "again": again}
            scale = max(scales)
            directory = Path(tmp) / f"scale-{scale}"
            url = fresh_database(args.database_url, name)
            naive = run_child("naive", directory, url, args.naive_orgs)
            print(f"  naive row by row: {_line(naive)}", flush=True)
    finally:
        drop_database(args.database_url, name)
    report(results, naive, scale, args.naive_orgs, baseline)


def _line(r: dict) -> str:
    steps = f"parse {r['parse']:.1f} s"
    if "plan" in r:
        steps += f", plan {r['plan']:.1f} s, apply {r['apply']:.1f} s"
    return (
        f"{r['wall']:.1f} s ({steps}), {r['queries']:,} queries, "
        f"peak RSS {r['peak_rss_mib']:.0f} MiB"
    )


def report(
    results: dict, naive: dict, scale: float, naive_orgs: int, baseline: float
) -> None:
    first, again = results[scale]["first"], results[scale]["again"]
    counts = first["counts"]
    print()
    print(f"At scale {scale}:")
    print(
        "  created: "
        + ", ".join(f"{kind} {c['created']:,}" for kind, c in counts.items())
        + f"; rejected rows {first['rejected']}"
    )
    assert all(
        c["created"] + c["updated"] + c["deactivated"] == 0
        for c in again["counts"].values()
    ), "the re-import changed something"
    factor = naive["records"] / naive["sample_records"]
    naive_writes = (naive["wall"] - naive["parse"]) * factor
    naive_queries = naive["queries"] * factor
    ours_writes = first["wall"] - first["parse"]
    if factor > 1.0001:
        print(
            f"  naive: imported {naive['sample_records']:,} of "
            f"{naive['records']:,} records ({naive_orgs} orgs) in "
            f"{naive['wall'] - naive['parse']:.1f} s and {naive['queries']:,} "
            f"queries; scaled linearly x{factor:.2f}: {naive_writes:.0f} s, "
            f"{naive_queries:,.0f} queries"
        )
    print(
        f"  write phase (after parsing): ours {ours_writes:.1f} s, "
        f"naive {naive_writes:.1f} s -> naive / ours = {naive_writes / ours_writes:.1f}x"
    )
    naive_total = naive["parse"] + naive_writes
    print(
        f"  whole import (parse included): ours {first['wall']:.1f} s, naive "
        f"{naive_total:.1f} s -> {naive_total / first['wall']:.1f}x; queries "
        f"{first['queries']:,} vs {naive_queries:,.0f} "
        f"({naive_queries / first['queries']:.0f}x)"
    )
    print(
        f"  re-import with no change / first import: whole "
        f"{again['wall']:.1f} / {first['wall']:.1f} s = "
        f"{again['wall'] / first['wall']:.2f}; sync alone (plan + apply) "
        f"{again['plan'] + again['apply']:.1f} / "
        f"{first['plan'] + first['apply']:.1f} s = "
        f"{(again['plan'] + again['apply']) / (first['plan'] + first['apply']):.2f}"
        f"; queries {again['queries']:,} / {first['queries']:,}"
    )
    for s, r in sorted(results.items()):
        first_rss, again_rss = r["first"]["peak_rss_mib"], r["again"]["peak_rss_mib"]
        print(
            f"  peak RSS at scale {s} ({r['size'] / 2**20:.0f} MiB of XML): "
            f"first import {first_rss:.0f} MiB ({first_rss - baseline:+.0f} over "
            f"the baseline), re-import {again_rss:.0f} MiB "
            f"({again_rss - baseline:+.0f})"
        )


if __name__ == "__main__":
    main()
