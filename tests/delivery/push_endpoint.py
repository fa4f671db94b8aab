"""A local RFC 8030 push service, for the tests and the bench.

An aiohttp server on 127.0.0.1 (random port) in a background thread::

    with PushEndpoint() as endpoint:
        info = endpoint.subscribe("parent-phone")   # {"endpoint", "keys"}
        ... push to info ...
        [record] = endpoint.received("parent-phone")
        record.payload  # the decrypted JSON

Each ``POST /push/<name>`` is checked like a real push service would:
``Authorization: vapid t=<JWT>,k=<key>`` (RFC 8292 §3: ES256 signature
verified with ``k``, ``aud`` the endpoint's origin, ``exp`` in the future and
at most 24 h ahead, ``sub`` a mailto: or https: URI, ``k`` the subscription's
application server key if it was made with one: 403 otherwise, §4.2), a
``TTL`` header (RFC 8030 §5.2), ``Urgency`` and ``Topic`` if present (§5.3,
§5.4), at most ``max_body`` bytes (413, §7.2), and the body decrypted with
the subscription's private key (RFC 8291, ``aes128gcm``). A refused request
gets 400/401/403 and a record whose ``error`` says why. An accepted one
gets 201 with a ``Location`` (§5), or what the test asked for with
:meth:`PushEndpoint.answer`; :meth:`PushEndpoint.hang` never answers (until
the endpoint stops), :meth:`PushEndpoint.unsubscribe` answers 410.

``check=False`` (the bench) accepts any name, reads the whole body, skips
the checks and keeps only counts (``GET /stats``). Run as a script, it
serves until its standard input closes, printing its URL first::

    python -m tests.delivery.push_endpoint --light [--latency-ms 20]
"""

import argparse
import asyncio
import base64
import itertools
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field

import http_ece
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

URGENCIES = {"very-low", "low", "normal", "high"}
B64URL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass
class PushRecord:
    """One request as the endpoint saw it.

    ``headers``: the request's, names in lower case; ``payload``: the decrypted
    JSON (``None`` if refused); ``claims``: the verified VAPID JWT claims;
    ``status``: the answer (``None`` for a request left hanging); ``error``:
    why it was refused ("" if not).
    """

    name: str
    headers: dict[str, str]
    payload: dict | None
    status: int | None
    error: str = ""
    claims: dict | None = None
    size: int = 0  # bytes of encrypted body


@dataclass
class _Subscriber:
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    server_key: str | None = None
    statuses: list[int] = field(default_factory=list)
    retry_after: str | None = None
    hang: bool = False
    gone: bool = False


class Refused(Exception):
    """A request a push service would refuse: ``status`` and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_subscription(endpoint: str) -> tuple[dict, ec.EllipticCurvePrivateKey, bytes]:
    """Return ``(info, private_key, auth)`` for a new browser-like subscription.

    ``info`` is ``{"endpoint", "keys": {"p256dh", "auth"}}`` as
    ``PushSubscription.toJSON()`` gives it: a P-256 key pair and a 16-byte
    auth secret (RFC 8291 §3).
    """
    private_key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    public = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    info = {
        "endpoint": endpoint,
        "keys": {"p256dh": b64url(public), "auth": b64url(auth)},
    }
    return info, private_key, auth


def verify_vapid(
    header: str | None, origin: str, now: float | None = None
) -> tuple[dict, str]:
    """Check an RFC 8292 ``Authorization`` header; return ``(claims, k)``.

    Raises :class:`Refused` (401) for a missing or bad header, signature or
    claim.
    """
    now = time.time() if now is None else now
    scheme, _, params = (header or "").partition(" ")
    if scheme.lower() != "vapid":
        raise Refused(401, "no 'Authorization: vapid' header")
    fields = dict(
        part.strip().split("=", 1) for part in params.split(",") if "=" in part
    )
    try:
        jose, body, signature = fields["t"].split(".")
        if json.loads(unb64url(jose)).get("alg") != "ES256":
            raise Refused(401, "JWT alg is not ES256")
        public = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), unb64url(fields["k"])
        )
        raw = unb64url(signature)
        if len(raw) != 64:
            raise Refused(401, "JWT signature is not 64 bytes")
        der = encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )
        public.verify(der, f"{jose}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        claims = json.loads(unb64url(body))
    except InvalidSignature:
        raise Refused(401, "JWT signature does not verify with k") from None
    except (KeyError, ValueError) as exc:
        raise Refused(401, f"malformed VAPID header: {exc}") from None
    if claims.get("aud") != origin:
        raise Refused(401, f"JWT aud {claims.get('aud')!r} is not {origin!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int) or not now < exp <= now + 86400:
        raise Refused(401, f"JWT exp {exp!r} is not within the next 24 h")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise Refused(401, "JWT sub is not a mailto: or https: URI")
    return claims, fields["k"]


def _check_headers(headers) -> None:
    ttl = headers.get("TTL", "")
    if not ttl.isdigit():
        raise Refused(400, "missing or bad TTL header")
    if headers.get("Content-Encoding") != "aes128gcm":
        raise Refused(400, "Content-Encoding is not aes128gcm")
    urgency = headers.get("Urgency")
    if urgency is not None and urgency not in URGENCIES:
        raise Refused(400, f"bad Urgency {urgency!r}")
    topic = headers.get("Topic")
    if topic is not None and (not 0 < len(topic) <= 32 or not set(topic) <= B64URL):
        raise Refused(400, f"bad Topic {topic!r}")


class PushEndpoint:
    """A push service on 127.0.0.1 in a background thread (see the module).

    ``check``: verify and decrypt every request and keep records (False: only
    count). ``max_body``: bytes accepted before 413 (RFC 8030 §7.2 asks for at
    least 4096). ``latency``: seconds added before each answer, a stand-in
    for the network round trip to a real push service.
    """

    def __init__(
        self, *, check: bool = True, max_body: int = 4096, latency: float = 0.0
    ):
        self.check = check
        self.max_body = max_body
        self.latency = latency
        self.url = ""
        self.received_count = 0
        self.received_bytes = 0
        self._subscribers: dict[str, _Subscriber] = {}
        self._records: list[PushRecord] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._failure: BaseException | None = None

    # Lifecycle

    def start(self) -> "PushEndpoint":
        """Start serving; return once the port is known (``self.url``)."""
        self._thread = threading.Thread(
            target=self._serve, name="push-endpoint", daemon=True
        )
        self._thread.start()
        self._ready.wait(10)
        if self._failure is not None or not self.url:
            raise RuntimeError("the push endpoint did not start") from self._failure
        return self

    def stop(self) -> None:
        """Release hanging requests, stop serving and join the thread."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> "PushEndpoint":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # What tests do

    def subscribe(
        self, name: str, *, application_server_key: str | None = None
    ) -> dict:
        """Create subscription ``name``; return its ``{"endpoint", "keys"}``.

        With ``application_server_key`` (base64url), pushes signed with
        another VAPID key get 403 (RFC 8292 §4.2).
        """
        info, private_key, auth = new_subscription(f"{self.url}/push/{name}")
        with self._lock:
            self._subscribers[name] = _Subscriber(
                private_key, auth, application_server_key
            )
        return info

    def answer(self, name: str, *statuses: int, retry_after: str | None = None) -> None:
        """Answer the next valid pushes to ``name`` with ``statuses`` in turn.

        The last status repeats (``answer(n, 503, 503, 201)``: two 503 then
        201 for ever). ``retry_after`` is sent in every non-2xx answer.
        """
        with self._lock:
            subscriber = self._subscribers[name]
            subscriber.statuses = list(statuses)
            subscriber.retry_after = retry_after

    def hang(self, name: str) -> None:
        """Never answer pushes to ``name`` (until the endpoint stops)."""
        with self._lock:
            self._subscribers[name].hang = True

    def unsubscribe(self, name: str) -> None:
        """The browser unsubscribed: pushes to ``name`` get 410 Gone."""
        with self._lock:
            self._subscribers[name].gone = True

    @property
    def records(self) -> list[PushRecord]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._records)

    def received(self, name: str) -> list[PushRecord]:
        """The requests to subscription ``name``, in arrival order."""
        return [record for record in self.records if record.name == name]

    # Server thread

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported by start()
            self._failure = exc
            self._ready.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=1024**2)
        app.router.add_post("/push/{name}", self._handle)
        app.router.add_get("/stats", self._stats)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            self._ready.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"received": self.received_count, "bytes": self.received_bytes}
        )

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await request.read()
        with self._lock:
            self.received_count += 1
            self.received_bytes += len(body)
        if self.latency:
            await asyncio.sleep(self.latency)
        if not self.check:
            return web.Response(status=201)
        with self._lock:
            subscriber = self._subscribers.get(name)
        headers = {key.lower(): value for key, value in request.headers.items()}
        record = PushRecord(name, headers, None, None, size=len(body))
        status, extra = self._decide(subscriber, request, body, record)
        with self._lock:
            self._records.append(record)
        if status is None:
            await self._stopping.wait()
            return web.Response(status=503)
        record.status = status
        return web.Response(status=status, headers=extra, text=record.error)

    def _decide(self, subscriber, request, body, record) -> tuple[int | None, dict]:
        """Check a push, fill ``record``; return ``(status, headers)`` (None: hang)."""
        if subscriber is None:
            record.error = "no such subscription"
            return 404, {}
        if subscriber.gone:
            return 410, {}
        origin = f"{request.scheme}://{request.host}"
        try:
            record.claims, k = verify_vapid(
                request.headers.get("Authorization"), origin
            )
            if subscriber.server_key is not None and k != subscriber.server_key:
                raise Refused(403, "VAPID key k is not the subscription's key")
            _check_headers(request.headers)
            if len(body) > self.max_body:
                raise Refused(413, f"body of {len(body)} bytes is over {self.max_body}")
            plain = http_ece.decrypt(
                body,
                private_key=subscriber.private_key,
                auth_secret=subscriber.auth,
                version="aes128gcm",
            )
            record.payload = json.loads(plain)
        except Refused as exc:
            record.error = str(exc)
            return exc.status, {}
        except (http_ece.ECEException, ValueError) as exc:
            record.error = f"cannot decrypt: {exc!r}"
            return 400, {}
        if subscriber.hang:
            return None, {}
        with self._lock:
            planned = subscriber.statuses
            status = (
                201
                if not planned
                else planned.pop(0)
                if len(planned) > 1
                else planned[0]
            )
        headers = {}
        if 200 <= status < 300:
            headers["Location"] = f"/message/{next(self._ids)}"
        elif subscriber.retry_after is not None:
            headers["Retry-After"] = subscriber.retry_after
        return status, headers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--light", action="store_true", help="no checks, counts only")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    endpoint = PushEndpoint(check=not args.light, latency=args.latency_ms / 1000)
    with endpoint:
        print(endpoint.url, flush=True)
        sys.stdin.read()  # until the parent closes our standard input


if __name__ == "__main__":
    main()
