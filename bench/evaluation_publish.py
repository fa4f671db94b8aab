"""Publishing one evaluation: events, deliveries and queries against the class size.

One command::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hub \\
    .venv/bin/python bench/evaluation_publish.py --sizes 10,30,60

Without ``DATABASE_URL`` it measures SQLite. In process, no server: what the
teacher's "Publish" runs (``core.grades.actions.publish``) and what the task
worker then runs for its events (``hub.delivery.tasks.plan_event``, i.e.
``planning.plan_events``), each timed and its queries counted
(``CaptureQueriesContext``).

What it does:

1. creates a throwaway database (``messaging_latency.Database``) and
   migrates it; one school with a grading period around today;
2. for each class size of ``--sizes``: a class of that many pupils, two
   guardians each (each with an e-mail address and a push device, so
   planning writes every kind of delivery row), its maths teacher (no
   timetable: any subject from its enrolled teacher);
3. ``--repeats`` times: a draft evaluation (out of 20, coefficient 2) with a
   mark for every pupil (``save_marks``), then ``publish`` (timed, queries
   counted), then the plan of every event it emitted (timed, counted);
4. prints, per size: events, notifications and deliveries planned; queries
   of ``publish`` and of the plan; the queries per pupil once the constant
   part is taken away (the constant is fitted on the two smallest sizes:
   the count is ``a + b × pupils`` when ``b`` stays the same at the larger
   sizes); the median time of each.
"""

import argparse
import collections
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

from homework_publish import commit, statement_shape
from messaging_latency import bench_cleanup, bench_environment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_school() -> dict:
    from django.utils import timezone

    from core.grades.models import Period
    from core.roster.models import AcademicSession, Org

    org = Org.objects.create(name="Collège du banc d'essai", uai="0000000X")
    today = timezone.localdate()
    year = today.year if today.month >= 9 else today.year - 1
    session = AcademicSession.objects.create(
        org=org,
        title=f"{year}-{year + 1}",
        start_date=dt.date(year, 9, 1),
        end_date=dt.date(year + 1, 7, 4),
    )
    Period.objects.create(
        org=org,
        session=session,
        kind=Period.Kind.values[0],
        title="Bench",
        start_date=today - dt.timedelta(days=30),
        end_date=today + dt.timedelta(days=30),
    )
    return {"org": org, "session": session}


def make_class(school: dict, pupils: int, tag: str):
    from django.contrib.auth.hashers import make_password

    from core.roster.models import Enrollment, GuardianLink, SchoolClass, User
    from hub.delivery.models import PushSubscription

    school_class = SchoolClass.objects.create(
        org=school["org"], session=school["session"], title=f"4e {tag}"
    )
    teacher = User.objects.create_user(
        username=f"bench.prof.{tag}",
        password=None,
        role=User.Role.TEACHER,
        first_name="Alice",
        last_name="Martin",
    )
    teacher.orgs.add(school["org"])
    Enrollment.objects.create(
        user=teacher, school_class=school_class, role=Enrollment.Role.TEACHER
    )
    unusable = make_password(None)
    family = []
    for n in range(pupils):
        pupil = User(
            username=f"bench.{tag}.eleve{n}",
            password=unusable,
            role=User.Role.STUDENT,
            first_name=f"Élève{n}",
            last_name="Dubois",
        )
        guardians = [
            User(
                username=f"bench.{tag}.parent{n}.{g}",
                password=unusable,
                role=User.Role.GUARDIAN,
                first_name=f"Parent{g}",
                last_name=f"Dubois{n}",
                email=f"{tag}.parent{n}.{g}@example.org",
            )
            for g in range(2)
        ]
        family.append((pupil, guardians))
    User.objects.bulk_create(
        [p for p, _ in family] + [g for _, gs in family for g in gs]
    )
    Enrollment.objects.bulk_create(
        Enrollment(user=p, school_class=school_class, role=Enrollment.Role.STUDENT)
        for p, _ in family
    )
    GuardianLink.objects.bulk_create(
        GuardianLink(guardian=g, student=p) for p, gs in family for g in gs
    )
    PushSubscription.objects.bulk_create(
        PushSubscription(
            user=g,
            endpoint=f"https://push.example.org/send/{tag}/{g.username}",
            p256dh="B" * 87,
            auth="a" * 22,
        )
        for _, gs in family
        for g in gs
    )
    return school_class, teacher, [p.pk for p, _ in family]


def one_publish(school_class, teacher, pupils: list[int], n: int) -> dict:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from core.grades import actions
    from hub.delivery import tasks
    from hub.delivery.models import Delivery, Notification
    from hub.models import Event

    evaluation = actions.create_evaluation(
        teacher=teacher,
        school_class=school_class,
        title=f"Contrôle n° {n} : fractions",
        subject="Mathématiques",
        date=timezone.localdate(),
        coefficient=Decimal(2),
        out_of=Decimal(20),
    )
    actions.save_marks(
        evaluation=evaluation,
        teacher=teacher,
        entries={
            pk: actions.Entry(mark="abs" if i % 10 == 9 else str(8 + i % 12))
            for i, pk in enumerate(pupils)
        },
    )
    mark = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    reset_queries()
    with CaptureQueriesContext(connection) as q_publish:
        began = time.perf_counter()
        actions.publish(evaluation=evaluation, teacher=teacher)
        publish_s = time.perf_counter() - began
    # Read now: ``captured_queries`` slices the connection's log, which the
    # next ``reset_queries()`` empties.
    publish_count = len(q_publish)
    publish_shapes = collections.Counter(
        statement_shape(q["sql"]) for q in q_publish.captured_queries
    )
    events = list(
        Event.objects.filter(pk__gt=mark, kind="grades.mark").values_list(
            "pk", flat=True
        )
    )
    reset_queries()
    with CaptureQueriesContext(connection) as q_plan:
        began = time.perf_counter()
        tasks.plan_event.call(events)  # what the worker runs
        plan_s = time.perf_counter() - began
    plan_count = len(q_plan)
    plan_shapes = collections.Counter(
        statement_shape(q["sql"]) for q in q_plan.captured_queries
    )
    # Event rows: one per stream (the pupil's and each guardian's user:).
    actions_sent = len(
        set(
            Event.objects.filter(pk__in=events).values_list(
                "payload__student_id", flat=True
            )
        )
    )
    return {
        "publish_s": publish_s,
        "publish_queries": publish_count,
        "plan_s": plan_s,
        "plan_queries": plan_count,
        "event_rows": len(events),
        "events": actions_sent,
        "notifications": Notification.objects.filter(event_id__in=events).count(),
        "deliveries": Delivery.objects.filter(
            notification__event_id__in=events
        ).count(),
        "publish_shapes": publish_shapes.most_common(12),
        "plan_shapes": plan_shapes.most_common(12),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,30,60")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    workdir, database = bench_environment("hub-bench-evaluation-")
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        school = make_school()
        results = {}
        for size in sizes:
            school_class, teacher, pupils = make_class(school, size, f"S{size}")
            runs = [
                one_publish(school_class, teacher, pupils, n)
                for n in range(args.repeats + 1)
            ][1:]  # the first warms the caches up
            results[size] = runs
    finally:
        bench_cleanup(workdir, database)

    print(
        f"\nevaluation publish: {database.kind}, {args.repeats} publishes per size "
        f"(after one warm-up), machine {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}, load "
        f"{load_before} before, "
        + " ".join(Path("/proc/loadavg").read_text().split()[:3])
        + f" after, commit {commit()}"
    )
    first = {size: runs[0] for size, runs in results.items()}
    a, b = sizes[0], sizes[1] if len(sizes) > 1 else sizes[0]
    fits = {}
    for key in ("publish_queries", "plan_queries"):
        slope = (first[b][key] - first[a][key]) / max(1, b - a)
        fits[key] = (first[a][key] - slope * a, slope)
    print(
        f"{'pupils':>6} {'events':>6} {'rows':>5} {'notif':>6} {'deliv':>6} "
        f"{'publish q':>9} {'(q-c)/pupil':>11} {'plan q':>7} {'(q-c)/pupil':>11} "
        f"{'publish ms':>10} {'plan ms':>8} {'ms/pupil':>8}"
    )
    table = []
    for size, runs in results.items():
        r = runs[0]
        pc, _ = fits["publish_queries"]
        lc, _ = fits["plan_queries"]
        publish_ms = statistics.median(x["publish_s"] for x in runs) * 1000
        plan_ms = statistics.median(x["plan_s"] for x in runs) * 1000
        row = {
            "pupils": size,
            "events": r["events"],
            "event_rows": r["event_rows"],
            "notifications": r["notifications"],
            "deliveries": r["deliveries"],
            "publish_queries": sorted({x["publish_queries"] for x in runs}),
            "publish_per_pupil": (r["publish_queries"] - pc) / size,
            "plan_queries": sorted({x["plan_queries"] for x in runs}),
            "plan_per_pupil": (r["plan_queries"] - lc) / size,
            "publish_ms": publish_ms,
            "plan_ms": plan_ms,
        }
        table.append(row)
        print(
            f"{size:6d} {r['events']:6d} {r['event_rows']:5d} "
            f"{r['notifications']:6d} {r['deliveries']:6d} "
            f"{'/'.join(map(str, row['publish_queries'])):>9} "
            f"{row['publish_per_pupil']:11.2f} "
            f"{'/'.join(map(str, row['plan_queries'])):>7} "
            f"{row['plan_per_pupil']:11.2f} {publish_ms:10.1f} {plan_ms:8.1f} "
            f"{(publish_ms + plan_ms) / size:8.2f}"
        )
    for key, (constant, slope) in fits.items():
        print(
            f"{key}: {constant:.0f} + {slope:.2f} x pupils "
            f"(fitted on {a} and {b} pupils)"
        )
    biggest = results[sizes[-1]][0]
    print(f"statements of one publish of {sizes[-1]} pupils:")
    for shape, count in biggest["publish_shapes"]:
        print(f"  {count:5d}  {shape}")
    print("statements of the plan of that publish's events:")
    for shape, count in biggest["plan_shapes"]:
        print(f"  {count:5d}  {shape}")
    if args.json:
        args.json.write_text(json.dumps(table, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
