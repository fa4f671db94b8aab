"""S2's framing alone: one event to N sockets of one uvicorn process, framed
per socket (uvicorn's ``send``) or once (``write_frame``), interleaved.

One command::

    .venv/bin/python bench/frame_once.py --sockets 4000 --reps 20

S2 (``fanout_broadcast.py``) measures whole servers one after the other;
on a machine shared with other work its CPU per delivery moves by a third
from one run to the next. This bench holds both ways of writing an event in
one server process and alternates them, so a change of load hits both:

- a uvicorn server in this process, ``hub.realtime.uvicorn.SlimWebSocketProtocol``
  (no permessage-deflate), whose ASGI app accepts every socket and keeps its
  protocol; ``--clients`` processes open ``--sockets`` sockets and read;
- each repetition writes one JSON text of ``--payload`` bytes to every
  socket, first (or second: the order alternates) through ``send`` (as
  ``HubConsumer.offer`` did before issue 17: one ``Frame`` per socket), then
  as one frame made by ``hub.realtime.fanout.text_frame`` and written with
  ``write_frame`` (as the fan-out now does); it waits until the clients have
  read everything before the next one.

CPU per delivery is this process's ``time.process_time()`` over the writes,
divided by the sockets; the medians over ``--reps`` and their ratio are
printed. The hub's other per-socket work (``offer``'s checks) is not in it.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def reader_main(url: str, count: int, conn) -> None:
    from fanout_broadcast import raise_nofile

    raise_nofile()

    async def run() -> None:
        from websockets.asyncio.client import connect

        gate = asyncio.Semaphore(50)
        received = 0

        async def one():
            nonlocal received
            async with gate:
                ws = await connect(
                    url, compression=None, ping_interval=None, max_queue=None
                )
            async for _ in ws:
                received += 1

        tasks = [asyncio.create_task(one()) for _ in range(count)]
        while True:
            command = await asyncio.to_thread(conn.recv)
            if command == "count":
                conn.send(received)
            else:
                break
        for task in tasks:
            task.cancel()

    asyncio.run(run())


async def main(args) -> None:
    import django
    import uvicorn
    from fanout_broadcast import load_average, machine_info, raise_nofile

    # hub.realtime imports the domain's registry, hence Django's apps.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    os.environ.setdefault("DEBUG", "1")  # settings of a local run; no key needed
    django.setup()
    from hub.realtime.fanout import text_frame

    raise_nofile()
    protocols = []

    async def app(scope, receive, send):
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        protocols.append(send.__self__)
        while (await receive())["type"] != "websocket.disconnect":
            pass

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        ws="hub.realtime.uvicorn:SlimWebSocketProtocol",
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    url = f"ws://127.0.0.1:{sock.getsockname()[1]}/"
    context = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    for index in range(args.clients):
        parent, child = context.Pipe()
        share = args.sockets // args.clients + (index < args.sockets % args.clients)
        process = context.Process(target=reader_main, args=(url, share, child))
        process.start()
        pipes.append(parent)
        processes.append(process)
    while len(protocols) < args.sockets:
        await asyncio.sleep(0.1)
    print(f"{len(protocols)} sockets open; load average {load_average()}", flush=True)

    async def received() -> int:
        for pipe in pipes:
            pipe.send("count")
        return sum([await asyncio.to_thread(pipe.recv) for pipe in pipes])

    figures: dict[str, list[float]] = {"per socket": [], "frame once": []}
    expected = 0
    pad = "x" * max(0, args.payload - 60)
    for rep in range(args.reps):
        ways = list(figures)
        if rep % 2:
            ways.reverse()
        for way in ways:
            text = json.dumps({"type": "event", "t0": time.time(), "pad": pad})
            started = time.process_time()
            if way == "per socket":
                for protocol in protocols:
                    await protocol.send({"type": "websocket.send", "text": text})
            else:
                frame = text_frame(text)
                for protocol in protocols:
                    if not protocol.write_frame(frame):
                        await protocol.send({"type": "websocket.send", "text": text})
            cpu = time.process_time() - started
            figures[way].append(cpu * 1e6 / len(protocols))
            expected += len(protocols)
            while await received() < expected:
                await asyncio.sleep(0.05)
    for pipe in pipes:
        pipe.send("stop")
    for process in processes:
        process.join(10)
    server.should_exit = True
    await serving

    print(
        f"\nframe once: {args.sockets} sockets, {args.reps} repetitions, payload "
        f"{args.payload} B; machine: {machine_info()}; load average {load_average()}"
    )
    for way, values in figures.items():
        print(
            f"{way:>11}: CPU µs per delivery median {statistics.median(values):.2f} "
            f"(min {min(values):.2f}, max {max(values):.2f})"
        )
    ratio = statistics.median(
        once / per
        for once, per in zip(figures["frame once"], figures["per socket"], strict=True)
    )
    print(f"frame once / per socket: median of the paired ratios {ratio:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=4000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--payload", type=int, default=200, help="bytes (200)")
    asyncio.run(main(parser.parse_args()))
