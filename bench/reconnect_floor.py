"""The floor of S5 (``fanout_reconnect.py``): the hub's reconnect path in
plain asyncio + ``websockets``, with nothing else.

One process, one Redis subscription, everything in memory. It speaks just
enough of the hub's protocol (``docs/protocol.md``) for the bench's ``Tabs``
clients, unchanged:

- on connect: the ``sessionid`` cookie is looked up in the JSON file given at
  start-up (``{cookie: [user id, [streams]]}``, written by the bench); no
  Origin check, no database; an unknown cookie is closed with 4401. Then
  ``hello`` with that user's streams;
- ``subscribe``: ``subscribed`` with each stream's position (its last offset
  in memory);
- ``resume``: for each stream the frames after the client's offset, from
  memory (or a ``reset`` as the hub sends one: other epoch, offset ahead of
  the end, more than 500 behind), then ``resumed``;
- ``ping``: ``pong``;
- events: the bench PUBLISHes each ``event`` frame (JSON text with
  ``stream``, ``epoch``, ``offset``, ...) to ``--channel``. Every floor
  process keeps each stream's frames (the log) and sends the same text to
  its sockets that follow the stream;
- SIGTERM: ``bye`` (``restart``) then close code 4503 to every socket, then
  the process exits (at most ``--drain-seconds`` later).

Replies and replays are written synchronously (``broadcast`` to one
connection): a live event cannot slip in between a replay and its
``resumed``, with no lock. Handshakes as the hub's uvicorn: no
permessage-deflate, listen backlog 2048, no handshake timeout, keep-alive
pings every 20 s.

    .venv/bin/python bench/reconnect_floor.py --port 8300 --users users.json \\
        --redis redis://127.0.0.1:6379/0 --channel floor --epoch 0123456789ab
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import signal
import time

import redis.asyncio as redis
from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed

REPLAY_LIMIT = 500  # HUB_REPLAY_LIMIT: further behind gets a reset
HEARTBEAT = 25  # HUB_HEARTBEAT_SECONDS, told in hello
MAX_FRAME = 65536  # HUB_MAX_FRAME_BYTES
CLOSE_UNAUTHENTICATED = 4401
CLOSE_GOING_AWAY = 4503
BYE = b'{"type":"bye","reason":"restart"}'


def dumps(frame: dict) -> bytes:
    """A frame as the hub writes it: compact JSON, UTF-8."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode()


def send(ws, data: bytes) -> None:
    """Write one text frame now, without waiting (no interleaving)."""
    broadcast((ws,), data, text=True)


def session_key(header: str | None) -> str | None:
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "sessionid":
            return value
    return None


class Floor:
    def __init__(self, users: dict, epoch: str, drain_seconds: float) -> None:
        self.users = users  # cookie -> [user id, [streams]]
        self.epoch = epoch
        self.drain_seconds = drain_seconds
        self.log: dict[str, list[bytes]] = collections.defaultdict(list)
        self.followers: dict[str, set] = collections.defaultdict(set)
        self.sockets: set = set()
        self.draining = False
        self.done = asyncio.Event()
        self.counts = collections.Counter()

    # Redis -> log -> sockets ----------------------------------------------------

    async def pump(self, pubsub) -> None:
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            data = message["data"]
            frame = json.loads(data)
            name, offset = frame["stream"], frame["offset"]
            log = self.log[name]
            if offset != len(log) + 1:
                self.counts["out of order"] += 1
                if offset <= len(log):
                    continue
            log.append(data)
            self.counts["events"] += 1
            followers = self.followers.get(name)
            if followers:
                broadcast(followers, data, text=True)

    def position(self, name: str) -> dict:
        return {"epoch": self.epoch, "offset": len(self.log.get(name, ()))}

    # One socket ---------------------------------------------------------------

    async def handler(self, ws) -> None:
        if self.draining:
            send(ws, BYE)
            await ws.close(CLOSE_GOING_AWAY)
            return
        found = self.users.get(session_key(ws.request.headers.get("Cookie")))
        if found is None:
            await ws.close(CLOSE_UNAUTHENTICATED)
            return
        user, streams = found
        readable = set(streams)
        followed: set[str] = set()
        self.sockets.add(ws)
        self.counts["connections"] += 1
        try:
            send(
                ws,
                dumps(
                    {
                        "type": "hello",
                        "user": user,
                        "streams": streams,
                        "heartbeat": HEARTBEAT,
                        "max_frame": MAX_FRAME,
                    }
                ),
            )
            async for raw in ws:
                self.on_frame(ws, raw, readable, followed)
        except ConnectionClosed:  # 4503 and the like: not an error here
            pass
        finally:
            self.sockets.discard(ws)
            for name in followed:
                self.followers[name].discard(ws)

    def on_frame(self, ws, raw, readable: set, followed: set) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            send(ws, dumps({"type": "error", "code": "invalid_json"}))
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        frame_id = frame.get("id") if kind else None
        if kind == "ping":
            send(ws, dumps({"type": "pong", "id": frame_id}))
            return
        if kind not in ("subscribe", "resume"):
            send(ws, dumps({"type": "error", "code": "unknown_type", "id": frame_id}))
            return
        wanted = frame.get("streams")
        if kind == "subscribe" and isinstance(wanted, list):
            wanted = dict.fromkeys(wanted)
        if not isinstance(wanted, dict) or not wanted:
            send(ws, dumps({"type": "error", "code": "invalid_frame", "id": frame_id}))
            return
        refused = [name for name in wanted if name not in readable]
        if refused:
            send(
                ws,
                dumps(
                    {
                        "type": "error",
                        "code": "forbidden",
                        "streams": refused,
                        "id": frame_id,
                    }
                ),
            )
            return
        for name, held in wanted.items():
            if name not in followed:
                followed.add(name)
                self.followers[name].add(ws)
            if held is None:
                continue
            log = self.log.get(name, ())
            end = len(log)
            offset = held.get("offset") if isinstance(held, dict) else None
            reason = None
            if not isinstance(offset, int) or held.get("epoch") != self.epoch:
                offset, reason = end, "epoch"
            elif offset > end:
                reason = "future"
            elif end - offset > REPLAY_LIMIT:
                reason = "too_far_behind"
            if reason is not None:
                self.counts["resets"] += 1
                send(
                    ws,
                    dumps(
                        {
                            "type": "reset",
                            "stream": name,
                            "epoch": self.epoch,
                            "offset": end,
                            "reason": reason,
                        }
                    ),
                )
                continue
            for data in log[offset:end]:
                send(ws, data)
            self.counts["replayed"] += end - offset
        send(
            ws,
            dumps(
                {
                    "type": "subscribed" if kind == "subscribe" else "resumed",
                    "id": frame_id,
                    "streams": {name: self.position(name) for name in wanted},
                }
            ),
        )
        self.counts[kind] += 1

    # SIGTERM ------------------------------------------------------------------

    async def drain(self) -> None:
        self.draining = True
        sockets = list(self.sockets)
        started = time.monotonic()
        print(f"SIGTERM: closing {len(sockets)} socket(s) with 4503", flush=True)
        broadcast(sockets, BYE, text=True)
        closing = [asyncio.create_task(ws.close(CLOSE_GOING_AWAY)) for ws in sockets]
        if closing:
            await asyncio.wait(closing, timeout=self.drain_seconds)
        print(f"drained in {time.monotonic() - started:.2f} s; stopping", flush=True)
        self.done.set()


async def main(args) -> None:
    with open(args.users) as file:
        users = json.load(file)
    floor = Floor(users, args.epoch, args.drain_seconds)
    client = redis.Redis.from_url(args.redis)
    pubsub = client.pubsub()
    await pubsub.subscribe(args.channel)
    # The subscription is confirmed before the port listens: once the bench
    # can connect, no published event can be missed.
    while (await pubsub.get_message(timeout=5)) is None:
        pass
    pump = asyncio.create_task(floor.pump(pubsub))
    loop = asyncio.get_running_loop()
    draining = []
    loop.add_signal_handler(
        signal.SIGTERM,
        lambda: draining or draining.append(loop.create_task(floor.drain())),
    )
    async with serve(
        floor.handler,
        "127.0.0.1",
        args.port,
        compression=None,
        open_timeout=None,
        max_size=MAX_FRAME,
        max_queue=64,
        backlog=2048,
    ):
        print(f"listening on 127.0.0.1:{args.port}", flush=True)
        await floor.done.wait()
    pump.cancel()
    print(f"exit: {dict(floor.counts)}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", required=True, help="JSON {cookie: [user, streams]}")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--channel", default="floor")
    parser.add_argument("--epoch", required=True, help="every stream's epoch")
    parser.add_argument("--drain-seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args()))
