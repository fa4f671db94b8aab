"""S5 "reconnect storm": SIGTERM a hub process holding N sockets.

One command::

    .venv/bin/python bench/fanout_reconnect.py --sockets 4000

A :class:`scripts.topology.Topology` of two Daphne processes (PostgreSQL,
Redis). ``--sockets`` users (pupils and guardians) each open a socket on
process 1 as a page does (``hello``, ``subscribe`` to every stream ``hello``
lists: their user stream, a class, the org). The bench publishes all along
(``hub.send_event`` in a transaction): ``--rate`` writes a second, each to a
random class and two random users of the population, plus one event on the
org stream every ``--org-every`` seconds.

After ``--warm`` seconds it sends SIGTERM to process 1
(``Topology.stop_process``): the hub drains (``hub/realtime/lifecycle.py``), every
socket gets ``bye`` (``restart``) and close code 4503. Each client then
behaves as ``hub-client.js``: after 4503 it waits a random delay under
``--base-delay`` (0.5 s), connects to the other process, and sends
``resume`` with its last ``{epoch, offset}`` per stream; a failed attempt
retries with exponential back-off and full jitter, alternating processes.

Measured: the time from SIGTERM until the last socket got ``resumed``
(target: all within 15 s), its distribution, attempts and failures, and for
every socket and stream the offsets seen across both connections: gaps,
duplicates, and at the end whether each socket reached every stream's last
offset in the database (``missing``). Also the surviving process's CPU
during the storm and the drain time of the stopped one.

**The floor** (``--servers``, both by default, the hub first): the same storm
against two processes of ``reconnect_floor.py``, asyncio + ``websockets``
with one Redis subscription and the streams' logs in memory, no Django and
no database: what Python itself costs for these handshakes, ``hello``,
``resume`` replays and live events on this machine. Same clients, rates,
delays, sockets and user -> streams mapping (the floor's ``hello`` lists the
streams of the population's users, from a file the bench writes). In floor
mode the bench numbers each stream's offsets itself and PUBLISHes each
``event`` frame to the floor's channel instead of ``hub.send_event``, and
``missing`` is checked against those counters. With both, the report ends
with the ratios hub / floor: time until all resumed, and the survivor's CPU
per resumed socket.
"""

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import datetime
import json
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fanout_common import (
    BENCH,
    BenchEvent,
    Fleet,
    add_hub_arguments,
    cpu_seconds,
    env_pairs,
    free_port,
    hub_topology,
    load_average,
    machine_info,
    percentile,
    private_redis,
    rss_mb,
    run_bench_main,
    shares,
    stop_process,
    summary_ms,
    tabs_main,
    user_streams,
    wait_for_port,
)

SERVERS = ("hub", "floor")


def spread(values: list[float]) -> dict:
    values = sorted(values)
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 50), 2),
        "p90": round(percentile(values, 90), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(values[-1], 2),
    }


@dataclasses.dataclass
class Pages:
    """The population's pages: the same for the hub and the floor."""

    users: list[int]
    cookies: list[str]
    followed: dict[int, list[str]]  # user -> streams (user, class, org)
    org: str

    @property
    def classes(self) -> list[str]:
        return sorted({self.followed[pk][1] for pk in self.users})

    @property
    def streams(self) -> list[str]:
        return sorted({name for pk in self.users for name in self.followed[pk]})


@dataclasses.dataclass
class Target:
    """Two server processes under the storm and how the bench writes to them."""

    name: str
    ws_urls: list[str]
    origins: list[str]
    pids: Callable[[], list[int | None]]
    # SIGTERM to process 1, blocking until it exits; returns its exit status.
    stop_first: Callable[[float], int | None]
    # Publish one write; returns the (stream, offset) it appended.
    write: Callable[[list[str], float, int], Awaitable[list[tuple[str, int]]]]
    # {stream: (epoch, last offset)} once publishing stopped.
    ends: Callable[[list[str]], Awaitable[dict]]


def hub_target(topo) -> Target:
    """The hub's processes: events written with ``hub.send_event``."""
    from channels.db import database_sync_to_async
    from django.db import transaction

    import hub
    from hub import streams as log

    def write(names: list[str], t0: float, n: int) -> list[tuple[str, int]]:
        with transaction.atomic():
            envelopes = hub.send_event(names, BenchEvent(op="tick", t0=t0, n=n))
        return [(envelope.stream, envelope.offset) for envelope in envelopes]

    return Target(
        name="hub",
        ws_urls=topo.ws_urls,
        origins=topo.origins,
        pids=lambda: topo.pids,
        stop_first=lambda timeout: topo.stop_process(0, timeout=timeout),
        write=database_sync_to_async(write),
        ends=database_sync_to_async(log.positions),
    )


@contextlib.asynccontextmanager
async def floor_target(args, pages: Pages):
    """Two ``reconnect_floor.py`` processes on one Redis channel; the bench
    numbers the offsets and PUBLISHes each ``event`` frame there."""
    import redis.asyncio as aioredis

    folder = Path(tempfile.mkdtemp(prefix="s5-floor-"))
    log_dir = Path(args.log_dir) if args.log_dir else folder
    log_dir.mkdir(parents=True, exist_ok=True)
    private, redis_url = (None, args.redis) if args.redis else private_redis()
    channel = f"s5floor{secrets.token_hex(4)}"
    epoch = secrets.token_hex(6)  # every stream's, as opaque as the hub's
    users_file = folder / "users.json"
    users_file.write_text(
        json.dumps(
            {
                cookie: [pk, pages.followed[pk]]
                for pk, cookie in zip(pages.users, pages.cookies, strict=True)
            }
        )
    )
    ports = []
    while len(ports) < 2:
        port = free_port()
        if port not in ports:
            ports.append(port)
    processes: list[subprocess.Popen] = []
    client = aioredis.Redis.from_url(redis_url)
    try:
        for index, port in enumerate(ports):
            log = log_dir / f"floor-{index + 1}.log"
            with open(log, "wb") as out:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            str(BENCH / "reconnect_floor.py"),
                            "--port",
                            str(port),
                            "--users",
                            str(users_file),
                            "--redis",
                            redis_url,
                            "--channel",
                            channel,
                            "--epoch",
                            epoch,
                            "--drain-seconds",
                            str(args.drain_seconds),
                        ],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
            # It subscribes before it listens.
            await asyncio.to_thread(wait_for_port, port, processes[-1], log)
        counters: collections.Counter = collections.Counter()

        async def write(names: list[str], t0: float, n: int) -> list[tuple[str, int]]:
            data = BenchEvent(op="tick", t0=t0, n=n).payload()
            ts = datetime.datetime.now(datetime.UTC).isoformat()
            written = []
            async with client.pipeline(transaction=False) as pipe:
                for name in sorted(set(names)):
                    counters[name] += 1
                    frame = {
                        "type": "event",
                        "stream": name,
                        "epoch": epoch,
                        "offset": counters[name],
                        "kind": BenchEvent.kind,
                        "op": "tick",
                        "data": data,
                        "ts": ts,
                    }
                    pipe.publish(
                        channel,
                        json.dumps(frame, separators=(",", ":"), ensure_ascii=False),
                    )
                    written.append((name, counters[name]))
                await pipe.execute()
            return written

        async def ends(names: list[str]) -> dict:
            return {name: (epoch, counters[name]) for name in names}

        def stop_first(timeout: float) -> int | None:
            stop_process(processes[0])  # SIGTERM; the floor drains then exits
            return processes[0].returncode

        print(
            f"   floor: reconnect_floor.py on ports {ports}, Redis {redis_url}, "
            f"logs {log_dir}",
            flush=True,
        )
        yield Target(
            name="floor",
            ws_urls=[f"ws://127.0.0.1:{port}/ws/" for port in ports],
            origins=[f"http://127.0.0.1:{port}" for port in ports],
            pids=lambda: [p.pid if p.poll() is None else None for p in processes],
            stop_first=stop_first,
            write=write,
            ends=ends,
        )
    finally:
        for process in processes:
            stop_process(process)
        await client.aclose()
        stop_process(private)
        if not args.log_dir:
            shutil.rmtree(folder, ignore_errors=True)


async def bench(args) -> dict:
    env = {"HUB_DRAIN_SECONDS": str(args.drain_seconds), **env_pairs(args.env)}
    results = {}
    async with hub_topology(
        2 if "hub" in args.servers else 1,
        args.sockets,
        env=env,
        server=args.server,
        log_dir=args.log_dir,
        redis_url=args.redis,
    ) as (
        topo,
        school,
    ):
        from channels.db import database_sync_to_async

        users = school.users[: args.sockets]
        followed = await database_sync_to_async(user_streams)(school)
        pages = Pages(
            users=users,
            cookies=[school.cookie(pk) for pk in users],
            followed={pk: followed[pk] for pk in users},
            org=f"org:{school.org.pk}",
        )
        if "hub" in args.servers:
            results["hub"] = await storm(args, hub_target(topo), pages)
    if "floor" in args.servers:
        async with floor_target(args, pages) as target:
            results["floor"] = await storm(args, target, pages)
    return results


async def storm(args, target: Target, pages: Pages) -> dict:
    """Open the sockets on process 1, publish, SIGTERM process 1, measure."""
    users, cookies = pages.users, pages.cookies
    classes, org, all_streams = pages.classes, pages.org, pages.streams
    rng = random.Random(args.seed)
    load = load_average()

    published: dict[tuple[str, int], float] = {}  # (stream, offset) -> t0
    stop_publishing = asyncio.Event()
    written = collections.Counter()

    async def publisher() -> None:
        n = 0
        next_org = time.monotonic()
        while not stop_publishing.is_set():
            began = time.monotonic()
            n += 1
            names = [rng.choice(classes)]
            names += [f"user:{pk}" for pk in rng.sample(users, 2)]
            if began >= next_org:
                names.append(org)
                next_org += args.org_every
            t0 = time.time()
            for key in await target.write(names, t0, n):
                published[key] = t0
            written["writes"] += 1
            written["events"] += len(names)
            await asyncio.sleep(max(0.0, 1 / args.rate - (time.monotonic() - began)))

    print(
        f"\n== {target.name}: opening {len(cookies)} sockets on process 1 "
        f"(load average {load})",
        flush=True,
    )
    fleet = Fleet(
        tabs_main,
        [
            {
                "urls": target.ws_urls,
                "origins": target.origins,
                "cookies": share,
                "start": 0,
                "concurrency": args.connect_concurrency,
                "open_retries": 5,
                "open_timeout": args.open_timeout,
                "compression": None if args.no_compression else "deflate",
                "reconnect": True,
                "base_delay": args.base_delay,
                "reconnect_concurrency": args.reconnect_concurrency,
                "latencies": True,
            }
            for share in shares(cookies, args.clients)
        ],
    )
    try:
        opened = await fleet.ready(args.setup_timeout)
        print(Fleet.opened_line(opened), flush=True)
        publishing = asyncio.create_task(publisher())
        await asyncio.sleep(args.warm)
        first, survivor = target.pids()
        cpu0 = cpu_seconds(survivor)
        t_term = time.time()
        print(
            f"   SIGTERM to process 1 (pid {first}); process 2 (pid "
            f"{survivor}) takes the sockets",
            flush=True,
        )
        stopping = asyncio.create_task(
            asyncio.to_thread(target.stop_first, args.drain_seconds + 10)
        )
        stopped_at = None
        resumed = 0
        progress = []
        while time.time() - t_term < args.storm_timeout:
            await asyncio.sleep(0.5)
            if stopped_at is None and stopping.done():
                stopped_at = time.time()
            statuses = await fleet.ask("status", "status")
            resumed = sum(s["status"]["resumed"] for s in statuses)
            now_open = sum(s["status"]["open"] for s in statuses)
            progress.append((round(time.time() - t_term, 1), resumed, now_open))
            if len(progress) % 4 == 0:
                print(
                    f"   +{progress[-1][0]} s: {resumed} resumed, {now_open} open",
                    flush=True,
                )
            if resumed >= opened["open"]:
                break
        t_done = time.time()
        storm_cpu = cpu_seconds(survivor) - cpu0
        await asyncio.sleep(args.after)
        stop_publishing.set()
        await publishing
        exit_code = await stopping
        if stopped_at is None:
            stopped_at = time.time()
        # Let deliveries finish: until no socket received anything for
        # --settle seconds (at most --settle-timeout).
        quiet_since, last_events = time.monotonic(), -1
        settle_deadline = time.monotonic() + args.settle_timeout
        while time.monotonic() < settle_deadline:
            statuses = await fleet.ask("status", "status")
            received = sum(s["status"]["events"] for s in statuses)
            if received != last_events:
                quiet_since, last_events = time.monotonic(), received
            elif time.monotonic() - quiet_since >= args.settle:
                break
            await asyncio.sleep(0.5)
        settled_s = time.time() - t_done
        ends = await target.ends(all_streams)
        survivor_rss = rss_mb(survivor)
        results = [m["result"] for m in await fleet.ask("stop", "result", 120)]
    finally:
        fleet.close()

    tabs = [tab for r in results for tab in r["tabs"]]
    closed = [t for t in tabs if t["closed_at"] is not None]
    back = [t for t in closed if t["resumed_at"] is not None]
    missing = ahead = missing_unresumed = 0
    missing_by_kind = collections.Counter()
    missing_examples = []
    for tab in tabs:
        for name, (epoch, offset) in tab["positions"].items():
            end_epoch, end = ends[name]
            behind = 1 if epoch != end_epoch else max(0, end - offset)
            if behind:
                missing += behind
                missing_by_kind[name.split(":")[0]] += behind
                if tab["closed_at"] is not None and tab["resumed_at"] is None:
                    missing_unresumed += behind
                if len(missing_examples) < 10:
                    when = [
                        round(published[(name, o)] - t_term, 1)
                        for o in range(offset + 1, end + 1)
                        if (name, o) in published
                    ]
                    resumed = (
                        round(tab["resumed_at"] - t_term, 1)
                        if tab["resumed_at"]
                        else None
                    )
                    if len(when) > 6:
                        when = [*when[:3], "...", *when[-2:]]
                    missing_examples.append(
                        f"{name} at {offset}/{end}: published at {when} s, socket "
                        f"resumed on process {tab['url_index'] + 1} at {resumed} s"
                    )
            elif offset > end:
                ahead += offset - end
    totals = collections.Counter()
    failures = collections.Counter()
    closes = collections.Counter()
    latencies = []
    for r in results:
        for key in ("gaps", "duplicates", "resets", "errors", "early", "events"):
            totals[key] += r[key]
        failures.update(r["failures"])
        closes.update(r["closes"])
        latencies.extend(r["latencies"])
    storm = t_done - t_term
    return {
        "server": target.name,
        "load_average": load,
        "sockets": args.sockets,
        "open": opened["open"],
        "open_s": round(opened["seconds"], 1),
        "open_failures": opened["failures"],
        "closed": len(closed),
        "first_close_codes": dict(
            collections.Counter(str(t["close_code"]) for t in closed)
        ),
        "bye": dict(collections.Counter(str(t["bye"]) for t in closed)),
        "resumed": len(back),
        "all_resumed_s": (
            round(max(t["resumed_at"] for t in back) - t_term, 2)
            if back and len(back) == len(tabs)
            else None
        ),
        "storm_window_s": round(storm, 2),
        "resumed_after_sigterm_s": spread([t["resumed_at"] - t_term for t in back]),
        "closed_after_sigterm_s": spread([t["closed_at"] - t_term for t in closed]),
        "close_to_resumed_s": spread([t["resumed_at"] - t["closed_at"] for t in back]),
        "attempts": sum(t["attempts"] for t in tabs),
        "sockets_with_retries": sum(1 for t in tabs if t["attempts"] > 1),
        "max_attempts": max((t["attempts"] for t in tabs), default=0),
        "reconnect_failures": dict(failures),
        "closes_seen": dict(closes),
        "replayed_events": sum(t["replayed"] for t in tabs),
        "gaps": totals["gaps"],
        "duplicates": totals["duplicates"],
        "resets": totals["resets"],
        "errors": totals["errors"],
        "early": totals["early"],
        "missing": missing,
        "missing_on_sockets_not_resumed": missing_unresumed,
        "missing_by_kind": dict(missing_by_kind),
        "missing_examples": missing_examples,
        "ahead": ahead,
        "events_received": totals["events"],
        "writes": written["writes"],
        "events_written": written["events"],
        "latency_ms": summary_ms(latencies),
        "survivor_cpu_pct": round(100 * storm_cpu / storm, 1) if storm else None,
        "survivor_cpu_ms_per_resume": (
            round(storm_cpu * 1000 / len(back), 2) if back else None
        ),
        "survivor_rss_mb": round(survivor_rss, 1),
        "stopped_process_exit": exit_code,
        "stopped_process_gone_s": round(stopped_at - t_term, 1),
        "progress": progress,
        "settled_after_storm_s": round(settled_s, 1),
    }


def report(args, results: dict[str, dict]) -> None:
    for f in results.values():
        report_one(args, f)
    if len(results) < 2:
        return
    hub, floor = results["hub"], results["floor"]

    def done(f: dict) -> tuple[float, str]:
        # A storm that did not finish: its window is a lower bound.
        if f["all_resumed_s"] is not None:
            return f["all_resumed_s"], f"{f['all_resumed_s']} s"
        return f["storm_window_s"], (
            f"> {f['storm_window_s']} s ({f['resumed']}/{f['open']} resumed)"
        )

    (hub_s, hub_text), (floor_s, floor_text) = done(hub), done(floor)
    hub_done, floor_done = (
        hub["all_resumed_s"] is not None,
        floor["all_resumed_s"] is not None,
    )
    bound = {
        (True, True): "",
        (False, True): "> ",
        (True, False): "< ",
        (False, False): "~ ",
    }[hub_done, floor_done]
    hub_cpu, floor_cpu = (
        hub["survivor_cpu_ms_per_resume"],
        floor["survivor_cpu_ms_per_resume"],
    )
    print(
        f"\nS5 hub / floor at {args.sockets} sockets ({args.server} hub):\n"
        f"  all resumed after SIGTERM: hub {hub_text}, floor {floor_text}: "
        f"{bound}{hub_s / floor_s:.1f}x\n"
        f"  survivor CPU per resumed socket: hub {hub_cpu} ms, floor {floor_cpu} ms"
        + (f": {hub_cpu / floor_cpu:.1f}x" if hub_cpu and floor_cpu else "")
        + f"\n  gaps / duplicates / missing: hub {hub['gaps']} / {hub['duplicates']}"
        f" / {hub['missing']}, floor {floor['gaps']} / {floor['duplicates']} / "
        f"{floor['missing']}"
    )


def report_one(args, f: dict) -> None:
    what = (
        f"hub ({args.server})"
        if f["server"] == "hub"
        else "floor (reconnect_floor.py: asyncio + websockets, logs in memory)"
    )
    print(
        f"\nS5 reconnect storm, {what}: {f['open']}/{f['sockets']} sockets on "
        f"process 1 of 2 (opened in {f['open_s']} s), SIGTERM after {args.warm} s "
        f"of publishing; {args.clients} client processes; load average before "
        f"{f['load_average']}"
    )
    print(f"machine: {machine_info()}")
    verdict = (
        "meets"
        if f["all_resumed_s"] is not None and f["all_resumed_s"] <= 15
        else "misses"
    )
    print(
        (
            f"all resumed: {f['all_resumed_s']} s after SIGTERM "
            if f["all_resumed_s"] is not None
            else f"all resumed: not within {f['storm_window_s']} s after SIGTERM "
        )
        + f"({f['resumed']}/{f['closed']} closed sockets resumed; target <= 15 s: "
        f"{verdict})"
    )
    print(f"  closed after SIGTERM (s): {f['closed_after_sigterm_s']}")
    print(f"  resumed after SIGTERM (s): {f['resumed_after_sigterm_s']}")
    print(f"  close -> resumed per socket (s): {f['close_to_resumed_s']}")
    print(
        f"  first close codes {f['first_close_codes']}, bye {f['bye']}; "
        f"reconnect attempts {f['attempts']} ({f['sockets_with_retries']} sockets "
        f"needed more than one, at most {f['max_attempts']}); failures "
        f"{f['reconnect_failures'] or 'none'}"
    )
    print(
        f"gaps {f['gaps']}, duplicates {f['duplicates']}, missing at the end "
        f"({f['settled_after_storm_s']} s after all resumed, deliveries quiet) "
        f"{f['missing']}, ahead {f['ahead']}, resets {f['resets']}, errors "
        f"{f['errors']}; {f['replayed_events']} events replayed on resume; "
        f"{f['events_received']} events received; {f['writes']} writes "
        f"({f['events_written']} stream events) published"
    )
    if f["missing"]:
        print(
            f"  missing by stream kind {f['missing_by_kind']}, of which "
            f"{f['missing_on_sockets_not_resumed']} on sockets that never resumed; "
            f"e.g. {f['missing_examples']}"
        )
    print(f"  publish -> receipt over the run (ms): {f['latency_ms']}")
    print(
        f"surviving process: CPU {f['survivor_cpu_pct']} % over the storm "
        f"({f['survivor_cpu_ms_per_resume']} ms per resumed socket), RSS "
        f"{f['survivor_rss_mb']} MB; stopped process exited with "
        f"{f['stopped_process_exit']} {f['stopped_process_gone_s']} s after SIGTERM"
    )
    print(f"  progress (s after SIGTERM, resumed, open): {f['progress'][::4]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=4, help="client processes (4)")
    parser.add_argument("--rate", type=float, default=10.0, help="writes/s (10)")
    parser.add_argument(
        "--org-every", type=float, default=2.0, help="s between org events (2)"
    )
    parser.add_argument("--warm", type=float, default=3.0, help="s before SIGTERM")
    parser.add_argument(
        "--after", type=float, default=3.0, help="s of publishing after the storm"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="after publishing stops, read the ends once nothing arrived for "
        "this long (3 s)",
    )
    parser.add_argument("--settle-timeout", type=float, default=60.0)
    parser.add_argument("--storm-timeout", type=float, default=180.0)
    parser.add_argument(
        "--drain-seconds", type=float, default=10.0, help="HUB_DRAIN_SECONDS (10)"
    )
    parser.add_argument("--base-delay", type=float, default=0.5)
    parser.add_argument(
        "--reconnect-concurrency",
        type=int,
        default=0,
        help="reconnections in flight per client process (0: no limit, as browsers)",
    )
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=10,
        help="handshakes in flight per client process while opening (10)",
    )
    parser.add_argument("--open-timeout", type=float, default=30.0)
    parser.add_argument("--setup-timeout", type=float, default=300.0)
    parser.add_argument("--no-compression", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--servers",
        default="hub,floor",
        help="what to storm, in this order of names: hub, floor, or hub,floor "
        "(default: both, then the ratios)",
    )
    add_hub_arguments(parser)
    args = parser.parse_args()
    given = [name.strip() for name in args.servers.split(",") if name.strip()]
    if not given or set(given) - set(SERVERS):
        parser.error(f"--servers: names among {', '.join(SERVERS)}, not {given}")
    args.servers = [name for name in SERVERS if name in given]

    run_bench_main(args, bench, report)


if __name__ == "__main__":
    main()
