"""S1 "idle": memory per idle socket, hub vs raw floor.

One command::

    .venv/bin/python bench/fanout_idle.py --sockets 10000

In one run, with the same load generator, one server after the other:

- **hub**: one Daphne process of a :class:`scripts.topology.Topology`
  (PostgreSQL and Redis). ``--sockets`` users (pupils and guardians,
  :func:`scripts.population.populate`) each open a socket as a page does:
  ``sessionid`` cookie and ``Origin``, wait for ``hello``, ``subscribe`` to
  every stream ``hello`` lists (their user stream, a class, the org), wait
  for ``subscribed``, then stay idle.
- **raw floor**: ``rawserver.py`` of the baselines (``fanout_baselines.py``:
  the copies in ``bench/baselines``; ``websockets``,
  one Redis subscription), the same number of idle sockets, through S2's
  client (``fanout_broadcast.client_main``). Twice: with permessage-deflate
  offered (as browsers do; ``websockets`` accepts it, Daphne does not) and
  without (the like-for-like floor: no compressor state per socket).

For each: ``--warmup`` sockets are opened and closed first (imports, pools),
then ``VmRSS`` (``/proc/<pid>/status``) is read, the sockets are opened,
``--settle`` seconds pass, ``VmRSS`` is read again. Memory per socket is the
delta divided by the sockets open. Also printed: the server CPU spent
opening them (per socket), the server's CPU while they sit idle
(``--idle-seconds``), its open files and their limit. Every process raises
``RLIMIT_NOFILE`` to its hard limit; the servers inherit it.
"""

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

import fanout_baselines as baselines
from fanout_common import (
    ROOT,
    Fleet,
    add_hub_arguments,
    code_revision,
    cpu_seconds,
    env_pairs,
    hub_topology,
    load_average,
    machine_info,
    nofile_limits,
    open_files,
    raise_nofile,
    s2,
    shares,
    tabs_main,
    vm_rss_kb,
)


async def measure(label: str, args, pid: int, open_fleet) -> dict:
    """Warm up, read RSS, open the sockets, settle, read RSS again.

    ``open_fleet(count, offset)`` starts a :class:`Fleet` holding ``count``
    sockets (users from ``offset`` on) and returns it.
    """
    print(f"\n== {label}", flush=True)
    if args.warmup:
        warm = open_fleet(args.warmup, args.sockets)
        opened = await warm.ready(args.setup_timeout)
        await warm.ask("stop", "result", 120)
        warm.close()
        print(f"   warm-up: {opened['open']} sockets opened and closed", flush=True)
    await asyncio.sleep(args.settle)
    before_kb = vm_rss_kb(pid)
    files_before = open_files(pid)
    cpu0 = cpu_seconds(pid)
    started = time.monotonic()
    fleet = open_fleet(args.sockets, 0)
    try:
        opened = await fleet.ready(args.setup_timeout)
        open_seconds = time.monotonic() - started
        open_cpu = cpu_seconds(pid) - cpu0
        print(
            f"   {opened['open']}/{args.sockets} open in {open_seconds:.1f} s"
            + (
                f", failed attempts {opened['failures']} "
                f"({opened.get('retries', 0)} retried)"
                if opened["failures"]
                else ""
            ),
            flush=True,
        )
        await asyncio.sleep(args.settle)
        after_kb = vm_rss_kb(pid)
        idle0 = cpu_seconds(pid)
        await asyncio.sleep(args.idle_seconds)
        idle_cpu = cpu_seconds(pid) - idle0
        after2_kb = vm_rss_kb(pid)
        files_after = open_files(pid)
        still = None
        if fleet.target is tabs_main:
            statuses = await fleet.ask("status", "status")
            still = sum(s["status"]["open"] for s in statuses)
        results = await fleet.ask("stop", "result", 120)
    finally:
        fleet.close()
    closes = {}
    for message in results:
        for code, count in message["result"].get("closes", {}).items():
            closes[code] = closes.get(code, 0) + count
    count = opened["open"]
    figures = {
        "server": label,
        "sockets": args.sockets,
        "open": count,
        "still_open": still,
        "failures": opened["failures"],
        "retries": opened.get("retries", 0),
        "closes": closes,
        "open_s": round(open_seconds, 1),
        "open_per_s": round(count / open_seconds, 1) if open_seconds else None,
        "open_cpu_ms_per_socket": round(open_cpu * 1000 / count, 2) if count else None,
        "rss_before_mb": round(before_kb / 1024, 1),
        "rss_after_mb": round(after_kb / 1024, 1),
        "rss_after_idle_mb": round(after2_kb / 1024, 1),
        "kb_per_socket": round((after_kb - before_kb) / count, 1) if count else None,
        "idle_cpu_pct": round(100 * idle_cpu / args.idle_seconds, 1),
        "open_files": f"{files_before} -> {files_after}",
        "nofile": nofile_limits(pid),
    }
    print(
        f"   RSS {figures['rss_before_mb']} -> {figures['rss_after_mb']} MB "
        f"({figures['rss_after_idle_mb']} MB after {args.idle_seconds:.0f} s idle): "
        f"{figures['kb_per_socket']} kB per socket; idle CPU "
        f"{figures['idle_cpu_pct']} %; open files {figures['open_files']} "
        f"(limit {figures['nofile']})",
        flush=True,
    )
    return figures


async def bench_hub(args) -> dict:
    env = env_pairs(args.env)
    async with hub_topology(
        1,
        args.sockets + args.warmup,
        env=env,
        server=args.server,
        redis_url=args.redis,
    ) as (topo, school):
        cookies = school.cookies(args.sockets + args.warmup)
        pid = topo.pids[0]

        def open_fleet(count: int, offset: int) -> Fleet:
            specs = [
                {
                    "urls": topo.ws_urls,
                    "origins": topo.origins,
                    "cookies": share,
                    "concurrency": args.connect_concurrency,
                    "open_retries": args.open_retries,
                    "open_timeout": args.open_timeout,
                    "compression": None if args.no_compression else "deflate",
                }
                for share in shares(cookies[offset : offset + count], args.clients)
            ]
            return Fleet(tabs_main, specs)

        return await measure(
            f"hub: 1 {args.server} process of a Topology, each socket subscribed "
            "to user + class + org",
            args,
            pid,
            open_fleet,
        )


async def bench_raw(args, compression: str | None, clean_env: dict) -> dict:
    name = "raw-deflate" if compression else "raw"
    with baselines.baseline_server(name, args.baselines, clean_env) as (server, port):
        url = f"ws://127.0.0.1:{port}/ws/"

        def open_fleet(count: int, offset: int) -> Fleet:
            specs = [
                {
                    "index": index,
                    "url": url,
                    "origin": f"http://127.0.0.1:{port}",
                    "cookies": share,
                    "mode": "plain",
                    "stream": None,
                    "events": 0,
                    "concurrency": args.connect_concurrency,
                    "open_timeout": args.open_timeout,
                    "compression": compression,
                }
                for index, share in enumerate(shares([None] * count, args.clients))
            ]
            return Fleet(s2.client_main, specs)

        what = "permessage-deflate" if compression else "no compression"
        return await measure(
            f"raw floor: rawserver.py ({what})", args, server.pid, open_fleet
        )


def report(args, results: dict[str, dict]) -> None:
    print(
        f"\nS1 idle: {args.sockets} sockets, {args.clients} client processes; "
        f"machine: {machine_info()}"
    )
    header = (
        f"{'':10}{'open':>13}{'open s':>8}{'/s':>7}{'CPU ms/open':>12}"
        f"{'RSS before':>11}{'after':>8}{'kB/socket':>11}{'idle CPU %':>11}"
    )
    print(header)
    for name, f in results.items():
        print(
            f"{name:10}{f['open']:>7}/{f['sockets']:<5}{f['open_s']:>8}"
            f"{f['open_per_s']:>7}{f['open_cpu_ms_per_socket']:>12}"
            f"{f['rss_before_mb']:>11}{f['rss_after_mb']:>8}"
            f"{f['kb_per_socket']:>11}{f['idle_cpu_pct']:>11}"
        )
    for name, f in results.items():
        notes = [f["server"], f"open files {f['open_files']} (limit {f['nofile']})"]
        if f["failures"]:
            notes.append(f"failed attempts {f['failures']} ({f['retries']} retried)")
        if f["closes"]:
            notes.append(f"closed while idle {f['closes']}")
        if f["still_open"] is not None:
            notes.append(f"{f['still_open']} still open at the end")
        print(f"  {name}: " + "; ".join(notes))
    hub = results.get("hub", {}).get("kb_per_socket")
    for name in ("raw", "raw-deflate"):
        raw = results.get(name, {}).get("kb_per_socket")
        if hub and raw:
            verdict = "meets" if hub / raw <= 1.5 else "misses"
            print(
                f"memory per socket hub/{name}: {hub / raw:.2f}x "
                f"({hub} / {raw} kB; target <= 1.5x: {verdict})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=4, help="client processes (4)")
    parser.add_argument(
        "--only",
        default="hub,raw,raw-deflate",
        help="servers to measure, in order (hub,raw,raw-deflate)",
    )
    parser.add_argument("--warmup", type=int, default=50, help="sockets (50)")
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds before reading RSS (3)"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=10.0, help="idle CPU window (10)"
    )
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=10,
        help="handshakes in flight per client process (10)",
    )
    parser.add_argument(
        "--open-retries",
        type=int,
        default=5,
        help="a hub socket that fails to open tries again up to this often (5)",
    )
    parser.add_argument("--open-timeout", type=float, default=60.0)
    parser.add_argument("--setup-timeout", type=float, default=300.0)
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="hub clients do not offer permessage-deflate (Daphne declines anyway)",
    )
    parser.add_argument(
        "--baselines",
        type=Path,
        default=baselines.default_folder(),
        help=f"folder of the baselines (BENCH_BASELINES or {baselines.COPIES})",
    )
    add_hub_arguments(parser, log_dir=False)
    args = parser.parse_args()
    order = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(order) - {"hub", "raw", "raw-deflate"}
    if unknown:
        parser.error(f"unknown server(s): {', '.join(sorted(unknown))}")

    soft, hard = raise_nofile()
    need = args.sockets + args.warmup + 200
    if soft < need:
        print(
            f"warning: open files limit {soft} (hard {hard}) < {need}: the server "
            "cannot hold every socket; raise the hard limit (ulimit -Hn) first"
        )
    print(f"machine: {machine_info()}; load average {load_average()}")
    print(f"code: {ROOT} at {code_revision()}")
    if set(order) - {"hub"}:
        print(baselines.baselines_note(args.baselines))
    clean_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")
    }
    started = time.monotonic()
    results: dict[str, dict] = {}

    async def run_all():
        for name in order:
            if name == "hub":
                results[name] = await bench_hub(args)
            else:
                compression = "deflate" if name == "raw-deflate" else None
                results[name] = await bench_raw(args, compression, clean_env)

    asyncio.run(run_all())
    report(args, results)
    print(f"total run time {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine_info(),
                    "code": code_revision(),
                    "results": results,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
