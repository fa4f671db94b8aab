"""Web push throughput: a naive pywebpush loop against ``WebPushTransport.send_many``.

One command::

    .venv/bin/python bench/push_throughput.py --subscriptions 2000

What it does:

1. starts the local push service of the tests
   (``tests/delivery/push_endpoint.py``, ``--light``: no signature check or
   decryption, but every request body is read to the end before the 201) in
   a separate process, so the server does not share the sender's event loop
   or GIL; ``--latency-ms`` adds a wait before each answer, a stand-in for the
   network round trip to a real push service;
2. makes ``--subscriptions`` browser-like subscriptions on it (a P-256 key
   pair and an auth secret each) and one VAPID key;
3. sends one notification to each, twice, after a few warm-up pushes:

   a. naive: ``pywebpush.webpush(...)`` once per subscription, one after the
      other, as most code does (a new HTTP connection, a VAPID key parse and
      a signature per push);
   b. ``hub.delivery.transports.webpush.WebPushTransport.send_many`` (pooled keep-alive
      connections, one VAPID signature per push service, ``--concurrency``
      pushes in flight);

4. checks that the service received exactly the pushes sent and prints
   notifications per second for both, and their ratio.

Both sides encrypt every message (RFC 8291, aes128gcm) with pywebpush.
Needs no database and no Django settings.
"""

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from pywebpush import webpush  # noqa: E402

from hub.delivery.push_payload import build_payload  # noqa: E402
from hub.delivery.transports.webpush import PushJob, WebPushTransport  # noqa: E402
from hub.delivery.vapid import VapidSigner, b64url, generate_keypair  # noqa: E402
from tests.delivery.push_endpoint import new_subscription  # noqa: E402

CONTACT = "mailto:bench@localhost"
WARMUP = 20
MESSAGE = {
    "type": "show",
    "title": "Tom Moreau absent",
    "body": "Absent en Mathématiques de 8 h à 9 h (Mme Fontaine). Justifiez l'absence "
    "depuis l'ENT.",
    "tag": "absence:{n}",
    "url": "/absences/{n}/",
    "child": "Tom",
    "school": "Collège des Tilleuls",
    "ts": 1767000000,
}


class Service:
    """The light push endpoint in a child process; stops when its stdin closes."""

    def __init__(self, latency_ms: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.delivery.push_endpoint", "--light"]
            + ["--latency-ms", str(latency_ms)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise SystemExit("the push endpoint did not start")

    def received(self) -> int:
        with urllib.request.urlopen(self.url + "/stats", timeout=10) as answer:
            return json.load(answer)["received"]

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)


def message(n: int) -> dict:
    return {
        key: value.format(n=n) if isinstance(value, str) else value
        for key, value in MESSAGE.items()
    }


def naive(subscriptions: list[dict], raw_private_key: str) -> int:
    """Send with ``pywebpush.webpush`` one after the other; return how many got 201."""
    sent = 0
    for n, info in enumerate(subscriptions):
        response = webpush(
            subscription_info=info,
            data=build_payload(message(n)).decode(),
            vapid_private_key=raw_private_key,
            vapid_claims={"sub": CONTACT},
            ttl=3600,
            timeout=30,
        )
        sent += response.status_code == 201
    return sent


async def pooled(
    subscriptions: list[dict], signer: VapidSigner, concurrency: int
) -> int:
    """Send with ``WebPushTransport.send_many``; return how many were sent."""
    jobs = [
        PushJob(n, info, message(n), ttl=3600) for n, info in enumerate(subscriptions)
    ]
    async with WebPushTransport(
        signer, timeout=30, limit_per_host=concurrency
    ) as sender:
        outcomes = await sender.send_many(jobs, concurrency=concurrency)
    return sum(outcome.result == "sent" for outcome in outcomes)


def timed(label: str, run, count: int, service: Service) -> float:
    """Run ``run()``, check every push arrived, print and return pushes a second."""
    before = service.received()
    started = time.perf_counter()
    sent = run()
    elapsed = time.perf_counter() - started
    received = service.received() - before
    if sent != count or received != count:
        raise SystemExit(f"{label}: {sent} sent, {received} received of {count}")
    rate = count / elapsed
    print(f"{label:<44} {count:>6} in {elapsed:7.2f} s  {rate:8.0f} notifications/s")
    return rate


def scenario(latency_ms: float, count: int, concurrency: int, key: str, signer):
    """Measure both senders against a fresh service; return their rates."""
    service = Service(latency_ms)
    try:
        print(
            f"\npush service {service.url} (process {service.process.pid}), "
            f"latency {latency_ms:g} ms, {count} subscriptions, "
            f"concurrency {concurrency}"
        )
        subscriptions = [
            new_subscription(f"{service.url}/push/{n}")[0]
            for n in range(count + WARMUP)
        ]
        warmup, measured = subscriptions[:WARMUP], subscriptions[WARMUP:]
        naive(warmup, key)
        asyncio.run(pooled(warmup, signer, concurrency))
        slow = timed(
            "naive loop (pywebpush.webpush)",
            lambda: naive(measured, key),
            count,
            service,
        )
        fast = timed(
            "WebPushTransport.send_many",
            lambda: asyncio.run(pooled(measured, signer, concurrency)),
            count,
            service,
        )
        print(f"ratio: {fast / slow:.1f}x")
        return slow, fast
    finally:
        service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--latency-ms",
        type=float,
        nargs="+",
        default=[0.0, 20.0],
        help="one run per value: wait added by the push service before each answer "
        "(default: 0 and 20)",
    )
    args = parser.parse_args()

    private_pem, _public = generate_keypair()
    signer = VapidSigner(private_pem, CONTACT)
    private = serialization.load_pem_private_key(private_pem.encode(), None)
    key = b64url(private.private_numbers().private_value.to_bytes(32, "big"))
    usable = (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count()
    )
    print(
        f"{platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs ({usable} usable), load average "
        + " ".join(f"{load:.2f}" for load in os.getloadavg())
    )
    rows = [
        (latency, *scenario(latency, args.subscriptions, args.concurrency, key, signer))
        for latency in args.latency_ms
    ]
    print("\nlatency ms   naive /s   WebPushTransport /s   ratio")
    for latency, slow, fast in rows:
        print(f"{latency:>10g} {slow:>10.0f} {fast:>15.0f} {fast / slow:>6.1f}x")


if __name__ == "__main__":
    main()
