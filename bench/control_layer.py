"""Control plane cost: the fan-out's control channel vs channels-redis groups.

One command (Redis at ``REDIS_URL``)::

    REDIS_URL=redis://127.0.0.1:6379/10 .venv/bin/python bench/control_layer.py --targets 4000

What one server process pays for the control plane (logout, access rechecks,
typing) of ``--targets`` sockets, each of its own user, in one run, one
variant after the other:

- **fanout**: today's road (decision 0005): :class:`hub.realtime.fanout.LocalFanout`
  ``join``/``leave`` (a dict of targets; one Redis channel per process,
  ``<prefix>:control``, confirmed once) and messages published on it by
  another process;
- **layer**: ``channels_redis.pubsub.RedisPubSubChannelLayer`` with ONE layer
  channel for the process, which joins group ``user.<id>`` for each target
  (``group_add``, refcounted as a process would) and waits until Redis has
  processed the ``SUBSCRIBE`` (a message sent to the group comes back: the
  layer swallows subscribe confirmations), then messages sent with
  ``group_send`` by another process, then ``group_discard``;
- **layer-noconfirm**: the same without waiting for the confirmation (what a
  plain Channels consumer does; leaves the logout race open);
- **layer-onegroup**: the layer carrying today's design: the process channel
  joins ONE group, ``control``, once; every message goes to that group and
  names its target, and the process routes it to the target's sockets.

For each: server CPU (``time.process_time``) and wall time per join, per
message received and routed to its socket, per leave; Python memory held per
joined target (``tracemalloc``, in a separate pass so it does not weigh on the
times); the latency of a control message (a logout's ``hub.close``) from its
send to the socket's queue, ``--timed`` messages one at a time, 20 ms apart,
2 s after the burst.
The sender is another process: its CPU is not counted.
"""

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
os.environ.setdefault("HUB_CHANNEL_PREFIX", "control-bench")
os.environ.setdefault("DEBUG", "1")  # no secret needed: nothing is served


class Recorder:
    """Stands for a socket: counts what is queued to it."""

    __slots__ = ("got", "done")
    latencies: list[float] = []  # seconds from send to queued, every recorder

    def __init__(self, done) -> None:
        self.got = 0
        self.done = done

    def _queue(self, message: dict) -> None:
        if "sent" in message:
            Recorder.latencies.append(time.time() - message["sent"])
            return
        self.got += 1
        self.done()


class Counter:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.finished = asyncio.get_running_loop().create_future()

    def __call__(self) -> None:
        self.count += 1
        if self.count >= self.expected and not self.finished.done():
            self.finished.set_result(None)


def layer_group(n: int) -> str:
    return f"user.{n}"


ONE_GROUP = "control"


class ProcessChannel:
    """One layer channel for the process; routes each message by its ``target``
    to the local sockets of that group (refcounted group membership)."""

    def __init__(self, layer, confirm: bool, one_group: bool = False) -> None:
        self.layer = layer
        self.confirm = confirm
        self.one_group = one_group
        self.members: dict[str, list] = {}
        self.pending: dict[str, asyncio.Future] = {}

    async def start(self) -> None:
        self.name = await self.layer.new_channel()
        self.task = asyncio.create_task(self._receive())

    async def _receive(self) -> None:
        while True:
            message = await self.layer.receive(self.name)
            target = message.get("target")
            if message["type"] == "hub.joined":
                waiter = self.pending.pop(target, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
                continue
            for consumer in self.members.get(target, ()):
                consumer._queue(message)

    async def join(self, consumer, group: str) -> None:
        members = self.members.setdefault(group, [])
        members.append(consumer)
        if len(members) > 1:
            return
        if self.one_group:
            group = ONE_GROUP
            if group in self.members:
                return
            self.members[group] = []
        await self.layer.group_add(group, self.name)
        if self.confirm:
            waiter = self.pending[group] = asyncio.get_running_loop().create_future()
            await self.layer.group_send(group, {"type": "hub.joined", "target": group})
            await waiter

    async def leave(self, consumer, group: str) -> None:
        members = self.members.get(group)
        members.remove(consumer)
        if not members:
            del self.members[group]
            if not self.one_group:
                await self.layer.group_discard(group, self.name)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.layer.flush()


def new_layer(prefix: str):
    from channels_redis.pubsub import RedisPubSubChannelLayer

    return RedisPubSubChannelLayer(hosts=[os.environ["REDIS_URL"]], prefix=prefix)


LATENCY_GAP = 0.02  # seconds between two timed messages
# Before the first timed message: the receiver works off the burst first
# (else the first timed messages wait behind it and time the backlog).
LATENCY_PAUSE = 2.0


def sender(variant: str, targets: int, prefix: str, timed: int) -> None:
    """Another process: send one control message to each target, then
    ``timed`` messages one at a time carrying their send time."""
    if variant == "fanout":
        import django

        os.environ["HUB_CHANNEL_PREFIX"] = prefix
        django.setup()
        from hub.realtime.control import publish_control, user_target

        close = {"type": "hub.recheck"}
        publish_control([(user_target(n), close) for n in range(targets)])
        time.sleep(LATENCY_PAUSE)
        for n in range(timed):
            time.sleep(LATENCY_GAP)
            message = {"type": "hub.close", "sent": time.time()}
            publish_control([(user_target(n % targets), message)])
        return

    async def send() -> None:
        layer = new_layer(prefix)
        one = variant == "layer-onegroup"
        for n in range(targets):
            group = layer_group(n)
            message = {"type": "hub.recheck", "target": group}
            await layer.group_send(ONE_GROUP if one else group, message)
        await asyncio.sleep(LATENCY_PAUSE)
        for n in range(timed):
            await asyncio.sleep(LATENCY_GAP)
            group = layer_group(n % targets)
            message = {"type": "hub.close", "target": group, "sent": time.time()}
            await layer.group_send(ONE_GROUP if one else group, message)
        await layer.flush()

    asyncio.run(send())


def send_from_another_process(
    variant: str, targets: int, prefix: str, timed: int
) -> None:
    subprocess.run(
        [sys.executable, __file__, "--send", variant, "--targets", str(targets)]
        + ["--prefix", prefix, "--timed", str(timed)],
        check=True,
    )


async def run_variant(variant: str, targets: int, memory: bool, timed: int) -> dict:
    """Join ``targets`` targets, receive one message each, leave them."""
    prefix = f"control-bench-{os.getpid()}-{variant}"
    if variant == "fanout":
        from django.conf import settings

        from hub.realtime.control import user_target
        from hub.realtime.fanout import LocalFanout

        settings.HUB_CHANNEL_PREFIX = prefix
        plane = LocalFanout(asyncio.get_running_loop())

        async def join(consumer, n):
            await plane.join(consumer, [user_target(n)])

        async def leave(consumer, n):
            plane.leave(consumer, [user_target(n)])

        async def stop():
            for _ in range(100):
                if plane.task is None:
                    return
                await asyncio.sleep(0.05)

        # The process's first socket waits for the control subscription.
        warm = Recorder(lambda: None)
        await join(warm, -1)
    else:
        channel = ProcessChannel(
            new_layer(prefix),
            confirm=variant in ("layer", "layer-onegroup"),
            one_group=variant == "layer-onegroup",
        )
        await channel.start()

        async def join(consumer, n):
            await channel.join(consumer, layer_group(n))

        async def leave(consumer, n):
            await channel.leave(consumer, layer_group(n))

        stop = channel.stop
        warm = Recorder(lambda: None)
        await join(warm, -1)

    counter = Counter(targets)
    consumers = [Recorder(counter) for _ in range(targets)]
    gc.collect()
    if memory:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
    cpu, wall = time.process_time(), time.perf_counter()
    for n, consumer in enumerate(consumers):
        await join(consumer, n)
    join_cpu, join_wall = time.process_time() - cpu, time.perf_counter() - wall
    result: dict = {"variant": variant, "targets": targets}
    if memory:
        gc.collect()
        result["bytes_per_target"] = (
            tracemalloc.get_traced_memory()[0] - base
        ) / targets
        tracemalloc.stop()
    else:
        result["join_cpu_us"] = join_cpu / targets * 1e6
        result["join_wall_us"] = join_wall / targets * 1e6
        await asyncio.sleep(0.5)  # let the subscriptions settle
        cpu = time.process_time()
        wall = time.perf_counter()
        loop = asyncio.get_running_loop()
        Recorder.latencies = []
        sending = loop.run_in_executor(
            None, send_from_another_process, variant, targets, prefix, timed
        )
        await asyncio.wait_for(counter.finished, 120)
        result["receive_cpu_us"] = (time.process_time() - cpu) / targets * 1e6
        result["receive_wall_s"] = (
            time.perf_counter() - wall
        )  # includes the sender's start
        await sending
        for _ in range(100):  # the last ones may still be on their way
            if len(Recorder.latencies) >= timed:
                break
            await asyncio.sleep(0.05)
        latencies = sorted(Recorder.latencies)
        result["timed_lost"] = timed - len(latencies)
        if latencies:
            result["latency_p50_ms"] = latencies[len(latencies) // 2] * 1e3
            result["latency_p95_ms"] = latencies[int(len(latencies) * 0.95)] * 1e3
        assert all(c.got == 1 for c in consumers), "a message was lost or doubled"
    cpu = time.process_time()
    for n, consumer in enumerate(consumers):
        await leave(consumer, n)
    await leave(warm, -1)
    if not memory:
        result["leave_cpu_us"] = (time.process_time() - cpu) / targets * 1e6
    await stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--variants",
        default="fanout,layer,layer-noconfirm,layer-onegroup",
        help="comma-separated",
    )
    parser.add_argument("--send", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument(
        "--timed", type=int, default=100, help="messages timed one at a time (100)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_URL is needed")
    if args.send:
        sender(args.send, args.targets, args.prefix, args.timed)
        return
    import django

    django.setup()
    variants = args.variants.split(",")
    rows: dict[str, list[dict]] = {v: [] for v in variants}
    for round_ in range(args.repeat):
        for variant in variants:  # interleaved: noise hits every variant alike
            figures = asyncio.run(
                run_variant(variant, args.targets, memory=False, timed=args.timed)
            )
            figures.update(
                asyncio.run(run_variant(variant, args.targets, memory=True, timed=0))
            )
            print(f"round {round_ + 1}: {json.dumps(figures)}", flush=True)
            rows[variant].append(figures)
    keys = [
        "join_cpu_us",
        "join_wall_us",
        "receive_cpu_us",
        "leave_cpu_us",
        "bytes_per_target",
        "latency_p50_ms",
        "latency_p95_ms",
        "timed_lost",
    ]
    print(f"\nmedian of {args.repeat} rounds, {args.targets} targets, one each")
    print("| variant | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    summary = {}
    for variant, runs in rows.items():
        summary[variant] = {k: statistics.median(r[k] for r in runs) for k in keys}
        cells = " | ".join(f"{summary[variant][k]:.1f}" for k in keys)
        print(f"| {variant} | {cells} |")
    if args.json:
        args.json.write_text(json.dumps({"runs": rows, "median": summary}, indent=1))


if __name__ == "__main__":
    main()
