"""S4 "slow readers": 1 % of the sockets stop reading; do the others notice?

One command::

    .venv/bin/python bench/fanout_slow_readers.py --sockets 2000 --rate 5

One Daphne process of a :class:`scripts.topology.Topology` (PostgreSQL,
Redis), ``--sockets`` users of one school (pupils and guardians). Every
socket subscribes to the school's stream ``org:<id>``; the bench publishes
``--rate`` events a second of about ``--payload`` bytes (``hub.send_event``
in a transaction, as a view would) for ``--duration`` seconds. Two kinds of
phase, each with fresh sockets of the same users, run in the order
baseline, slow, slow, baseline (``--rounds 2``: other load on the machine
drifts, and this order cancels a steady drift):

1. **baseline**: every socket reads;
2. **slow**: ``--slow-pct`` of them (spread over the population) stop
   reading once subscribed. They announce an Ethernet MSS (1448) and a
   ``--rcvbuf`` receive buffer before connecting, as a phone on a real
   network would: on loopback (MSS 64 KiB) the server's kernel would
   otherwise take ~3 MB per socket before the server process sees any
   backlog. Reading stops with ``transport.pause_reading()`` at the first
   publish (Daphne pings every 20 s and drops a socket that has not
   answered 30 s later: stopping earlier would test that instead).

The other sockets are S2's client (``fanout_broadcast.run_scenario``, which
checks offsets for gaps and duplicates): their p50/p99 publish -> receipt
latency in each phase, and the ratio of the mean p99 of the slow phases to
that of the baseline phases, is the result (target: p99 moves less than
10 %). Also: the server's RSS every 0.5 s (bounded?), when the server
decided to close a slow socket with 4408 (its log line ``too slow``, time
seen by the bench) and when each slow client's TCP connection was dropped
(``TCP_INFO`` state), and the bytes the server's kernel holds for sockets of
the port at the end of the phase (``ss``).

``HUB_SEND_BUFFER_BYTES`` (1 MiB by default) is set for the topology with
``--send-buffer`` (default 16 KiB here, so that a slow socket passes it
within a 20 s phase at 5 kB/s, after the ~70 kB its kernel buffers hold;
say so when quoting figures).
"""

import argparse
import asyncio
import os
import re
import subprocess
import time

from fanout_common import (
    BenchEvent,
    Fleet,
    LogWatch,
    Sampler,
    add_hub_arguments,
    env_pairs,
    hub_topology,
    machine_info,
    run_bench_main,
    s2,
    tabs_main,
)

TOO_SLOW = re.compile(r"closing a socket of user (\d+): too slow")
# Also worth seeing in the server's log during a phase.
WATCHED = TOO_SLOW.pattern + r"|Redis|catch up|Traceback|Error|WARNING"


def kernel_backlog(port: int) -> dict:
    """Send-Q of the server's established sockets on ``port`` (``ss``)."""
    try:
        out = subprocess.run(
            ["ss", "-tnH", "state", "established", "sport", "=", f":{port}"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except OSError:
        return {}
    queues = sorted(int(line.split()[1]) for line in out.splitlines() if line.strip())
    held = [q for q in queues if q > 0]
    return {
        "sockets": len(queues),
        "with_unsent": len(held),
        "max_kb": round(held[-1] / 1024, 1) if held else 0,
        "total_kb": round(sum(held) / 1024, 1),
    }


async def phase(name: str, args, topo, school, publish, stream: str) -> dict:
    cookies = school.cookies(args.sockets)
    user_of = {key: pk for pk, key in school.sessions.items()}
    slow_count = round(args.sockets * args.slow_pct / 100)
    step = args.sockets // slow_count if slow_count else 0
    slow_cookies = [cookies[i * step] for i in range(slow_count)] if step else []
    taken = set(slow_cookies)
    fast_cookies = [c for c in cookies if c not in taken]
    slow_users = {user_of[c] for c in slow_cookies}
    pid = topo.pids[0]
    port = int(topo.urls[0].rsplit(":", 1)[1])

    print(f"\n## phase {name}: {len(slow_cookies)} sockets of the 1 %", flush=True)
    slow = Fleet(
        tabs_main,
        [
            {
                "urls": topo.ws_urls,
                "origins": topo.origins,
                "cookies": slow_cookies,
                "streams": [stream],
                "concurrency": 10,
                "open_timeout": args.open_timeout,
                "slow": name == "slow",
                "rcvbuf": args.rcvbuf,
            }
        ],
    )
    watch = sampler = None
    try:
        opened = await slow.ready(args.setup_timeout)
        print(Fleet.opened_line(opened), flush=True)
        watch = LogWatch(topo.log_dir / "asgi-1.log", WATCHED)
        sampler = Sampler(pid).start()
        backlog = {}
        started_at = {}

        async def timed_publish(t0: float) -> None:
            if "t" not in started_at:
                started_at["t"] = t0
                if name == "slow":
                    # Stop reading now, not at open: Daphne pings every 20 s and
                    # drops a socket whose pong is 30 s late, which would close
                    # the slow sockets before the 4408 bound is ever reached.
                    slow.pipes[0].send("pause")
            await publish(t0)
            if time.time() - started_at["t"] >= args.duration - 1.5 / args.rate:
                backlog.update(kernel_backlog(port))

        scenario = argparse.Namespace(**vars(args))
        scenario.events = round(args.rate * args.duration)
        scenario.interval = 1 / args.rate
        figures = await s2.run_scenario(
            f"{name}: {len(fast_cookies)} reading sockets (S2 client)",
            args=scenario,
            url=topo.ws_urls[0],
            origin=topo.origins[0],
            server_pid=pid,
            cookies=fast_cookies,
            mode="hub",
            publish=timed_publish,
            stream=stream,
        )
        samples = await sampler.stop()
        sampler = None
        if name == "slow":
            paused = (await slow.receive(0, "paused", 30))["paused"]
            print(f"   {paused} stopped reading at the first publish", flush=True)
        statuses = await slow.ask("status", "status")
        slow_result = (await slow.ask("stop", "result", 120))[0]["result"]
    finally:
        if sampler is not None:
            await sampler.stop()
        lines = watch.stop() if watch is not None else []
        slow.close()

    t_first = started_at.get("t", time.time())
    too_slow = [
        (round(at - t_first, 1), int(match.group(1)))
        for at, line in lines
        if (match := TOO_SLOW.search(line))
    ]
    other_lines = [line for _, line in lines if not TOO_SLOW.search(line)]
    tcp_closed = sorted(
        round(t["tcp_closed_at"] - t_first, 1)
        for t in slow_result["tabs"]
        if t["tcp_closed_at"] is not None
    )
    rss = [mb for _, mb, _ in samples]
    series = [
        (round(at - t_first, 1), round(mb, 1))
        for at, mb, _ in samples
        if at >= t_first - 1
    ][:: max(1, round(2 / 0.5))]
    figures.update(
        {
            "phase": name,
            "slow_sockets": len(slow_cookies),
            "slow_open": opened["open"],
            "slow_still_open": statuses[0]["status"]["open"],
            "too_slow_4408": len(too_slow),
            "too_slow_first_last_s": (
                [too_slow[0][0], too_slow[-1][0]] if too_slow else None
            ),
            "too_slow_of_slow_users": sum(1 for _, pk in too_slow if pk in slow_users),
            "slow_tcp_dropped": len(tcp_closed),
            "slow_tcp_dropped_first_last_s": (
                [tcp_closed[0], tcp_closed[-1]] if tcp_closed else None
            ),
            "rss_min_mb": round(min(rss), 1),
            "rss_max_mb": round(max(rss), 1),
            "rss_end_mb": round(rss[-1], 1),
            "rss_series": series,
            "kernel_backlog": backlog,
            "server_log": other_lines[:10],
            "server_log_lines": len(other_lines),
        }
    )
    print(
        f"   RSS {figures['rss_min_mb']}-{figures['rss_max_mb']} MB "
        f"(end {figures['rss_end_mb']}); 4408 decided for {len(too_slow)} "
        f"socket(s) at {figures['too_slow_first_last_s']} s; slow TCP dropped "
        f"{len(tcp_closed)} at {figures['slow_tcp_dropped_first_last_s']} s; "
        f"server kernel backlog at the end {backlog}",
        flush=True,
    )
    return figures


async def bench(args) -> dict[str, dict]:
    env = env_pairs(args.env)
    if args.send_buffer:
        env["HUB_SEND_BUFFER_BYTES"] = str(args.send_buffer)
    async with hub_topology(
        1,
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
        from django.db import transaction

        import hub

        stream = f"org:{school.org.pk}"
        pad = "x" * max(0, args.payload - 230)  # the rest of the frame: ~230 bytes
        counter = iter(range(1, 10**9))
        pending: set[asyncio.Task] = set()

        def write(t0: float, n: int) -> None:
            with transaction.atomic():
                hub.send_event([stream], BenchEvent(op="tick", t0=t0, n=n, pad=pad))

        awrite = database_sync_to_async(write)

        async def publish(t0: float) -> None:
            # Do not wait for the commit: the rate stays --rate even though a
            # write takes ~10 ms (writes queue on Channels' database thread).
            task = asyncio.ensure_future(awrite(t0, next(counter)))
            pending.add(task)
            task.add_done_callback(pending.discard)

        results = {}
        order = (["baseline", "slow", "slow", "baseline"] * args.rounds)[
            : 2 * args.rounds
        ]
        for number, kind in enumerate(order, 1):
            name = f"{kind}-{number}"
            results[name] = await phase(kind, args, topo, school, publish, stream)
            if pending:
                await asyncio.gather(*pending)
        return results


def report(args, results: dict[str, dict]) -> None:
    print(
        f"\nS4 slow readers: {args.sockets} sockets on one stream, "
        f"{args.slow_pct} % stop reading; {args.rate} events/s of ~{args.payload} "
        f"bytes for {args.duration} s; HUB_SEND_BUFFER_BYTES "
        f"{args.send_buffer or 'default (1 MiB)'}; {args.clients} client processes"
    )
    print(f"machine: {machine_info()}")
    print(
        f"{'phase':10}{'reading':>9}{'delivered':>17}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'CPU µs/dl':>11}{'busy %':>8}{'RSS MB min-max':>16}"
        f"{'4408':>6}{'dropped':>9}"
    )
    for name, f in results.items():
        print(
            f"{name:10}{f['open']:>9}{f['deliveries']:>9}/{f['expected']:<7}"
            f"{f['p50_ms']:>9}{f['p99_ms']:>9}{f['max_ms']:>9}"
            f"{f['server_cpu_us_per_delivery']:>11}{f['server_busy_pct']:>8}"
            f"{f['rss_min_mb']:>8}-{f['rss_max_mb']:<7}"
            f"{f['too_slow_4408']:>6}{f['slow_tcp_dropped']:>9}"
        )
    for name, f in results.items():
        print(
            f"  {name}: gaps {f['gaps']}, duplicates {f['duplicates']}, missing "
            f"{f['missing_offsets']}, resets {f['resets']}, closes "
            f"{f['closes_during_run'] or 'none'}; load {f['load_before']} -> "
            f"{f['load_after']}; RSS every 2 s (s, MB) {f['rss_series']}"
        )
        if f["server_log_lines"]:
            print(
                f"  {name}: {f['server_log_lines']} notable server log line(s), "
                f"first: {f['server_log']}"
            )
        if f["slow_sockets"]:
            print(
                f"  {name}: of {f['slow_sockets']} slow sockets: 4408 decided for "
                f"{f['too_slow_4408']} ({f['too_slow_of_slow_users']} of them slow), "
                f"first/last at {f['too_slow_first_last_s']} s after the first "
                f"publish; TCP dropped for {f['slow_tcp_dropped']} at "
                f"{f['slow_tcp_dropped_first_last_s']} s; server kernel backlog "
                f"near the end {f['kernel_backlog']}"
            )

    def mean(kind: str, key: str) -> float | None:
        values = [f[key] for f in results.values() if f["phase"] == kind and f[key]]
        return sum(values) / len(values) if values else None

    for key in ("p50_ms", "p99_ms"):
        base, slow = mean("baseline", key), mean("slow", key)
        if base and slow:
            change = 100 * (slow / base - 1)
            line = (
                f"slow/baseline {key[:3]} (mean of phases): {slow:.1f} / {base:.1f} ms"
                f" = {slow / base:.2f}x ({change:+.0f} %)"
            )
            if key == "p99_ms":
                line += f"; target < +10 %: {'meets' if change < 10 else 'misses'}"
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--slow-pct", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=5.0, help="events/s (5)")
    parser.add_argument("--duration", type=float, default=20.0, help="s (20)")
    parser.add_argument("--payload", type=int, default=1024, help="frame bytes")
    parser.add_argument(
        "--send-buffer",
        type=int,
        default=16 * 1024,
        help="HUB_SEND_BUFFER_BYTES for the topology (16384; 0: the default 1 MiB)",
    )
    parser.add_argument(
        "--rcvbuf", type=int, default=4096, help="slow sockets' SO_RCVBUF (4096)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="pairs of phases: 1 = baseline, slow; 2 = baseline, slow, slow, "
        "baseline (2)",
    )
    parser.add_argument("--clients", type=int, default=4, help="client processes (4)")
    parser.add_argument("--connect-concurrency", type=int, default=25)
    parser.add_argument("--open-timeout", type=float, default=60.0)
    parser.add_argument("--setup-timeout", type=float, default=300.0)
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="for the last deliveries (60)"
    )
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--no-compression", action="store_true")
    add_hub_arguments(parser)
    args = parser.parse_args()

    run_bench_main(args, bench, report)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
