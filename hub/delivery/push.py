"""Sending web pushes: subscription checks, payloads, encryption, outcomes.

RFC 8030 (the push protocol: ``TTL`` §5.2, ``Urgency`` §5.3, ``Topic``
§5.4, answers §6-§7), RFC 8291 (message encryption, ``aes128gcm``, done by
pywebpush and http_ece) and RFC 8292 (VAPID, signed by
:class:`hub.delivery.vapid.VapidSigner`). No ORM here: the caller turns rows
into :class:`PushJob` and each :class:`PushOutcome` back into rows.
"""

import asyncio
import base64
import binascii
import email.utils
import hashlib
import ipaddress
import json
import logging
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import http_ece
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPusher, WebPushException

from hub.delivery.vapid import VapidSigner, b64url

log = logging.getLogger(__name__)

MAX_ENDPOINT = 2000  # characters (PushSubscription.endpoint)
PAYLOAD_LIMIT = 3000  # bytes of JSON; RFC 8291 §4 leaves 3993 after encryption
SHRUNK_LIMIT = 1000  # bytes of JSON, after a push service answered 413
URGENCIES = ("very-low", "low", "normal", "high")  # RFC 8030 §5.3
DEFAULT_RETRY_AFTER = 60.0  # seconds, for a 429 without a usable Retry-After
REASON_LENGTH = 300  # characters (Delivery.reason)
ELLIPSIS = "…"
_B64URL_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


# Subscriptions --------------------------------------------------------------


class InvalidSubscription(ValueError):
    """A subscription the hub will not push to; the message says why."""


def validate_subscription(
    info: object, *, allowed_hosts: Sequence[str], allow_http: bool
) -> dict:
    """Check a browser's ``PushSubscription.toJSON()`` and return it cleaned.

    ``info``: ``{"endpoint": str, "keys": {"p256dh": str, "auth": str}}``
    (other members ignored). The endpoint must be an ``https://`` URL (also
    ``http://`` if ``allow_http``) of at most 2000 characters, without user
    info, whose host equals one of ``allowed_hosts`` or is a subdomain of a
    named one (never of an IP address): a subscription cannot aim the worker
    at an internal address. ``p256dh`` must be a 65-byte uncompressed point on
    P-256 and ``auth`` 16 bytes (RFC 8291 §3), both base64url, padding
    optional. Returns ``{"endpoint", "keys": {"p256dh", "auth"}}`` with the
    keys unpadded. Raises :class:`InvalidSubscription`.
    """
    if not isinstance(info, Mapping):
        raise InvalidSubscription("a subscription must be a JSON object")
    endpoint = _check_endpoint(info.get("endpoint"), allowed_hosts, allow_http)
    keys = info.get("keys")
    if not isinstance(keys, Mapping):
        raise InvalidSubscription("the subscription has no keys object")
    p256dh = _decode_key(keys.get("p256dh"), "p256dh")
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise InvalidSubscription(
            "keys.p256dh must be a 65-byte uncompressed P-256 point"
        )
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise InvalidSubscription("keys.p256dh is not a point on P-256") from None
    auth = _decode_key(keys.get("auth"), "auth")
    if len(auth) != 16:
        raise InvalidSubscription("keys.auth must be 16 bytes")
    return {
        "endpoint": endpoint,
        "keys": {"p256dh": b64url(p256dh), "auth": b64url(auth)},
    }


def _check_endpoint(
    endpoint: Any, allowed_hosts: Sequence[str], allow_http: bool
) -> str:
    """Return the endpoint normalised (scheme and host lower case, no
    trailing dot), so one browser is one row; raise :class:`InvalidSubscription`."""
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidSubscription("the subscription has no endpoint")
    if len(endpoint) > MAX_ENDPOINT:
        raise InvalidSubscription(f"the endpoint is over {MAX_ENDPOINT} characters")
    if not endpoint.isascii() or not endpoint.isprintable() or " " in endpoint:
        raise InvalidSubscription("the endpoint has spaces or non-ASCII characters")
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise InvalidSubscription("the endpoint is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_http and scheme == "http"):
        raise InvalidSubscription("the endpoint must be an https:// URL")
    if "@" in parts.netloc:
        raise InvalidSubscription("the endpoint must not contain user info")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidSubscription("the endpoint has no host")
    if not _host_allowed(host, allowed_hosts):
        raise InvalidSubscription(
            f"the endpoint host {host!r} is not an allowed push service"
        )
    # Push services listen on 443: another port of an allowed host is not one
    # (http:// endpoints, tests only, keep theirs).
    if scheme == "https" and parts.port not in (None, 443):
        raise InvalidSubscription("the endpoint must use the default https port")
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return parts._replace(scheme=scheme, netloc=netloc).geturl()


def _host_allowed(host: str, allowed_hosts: Sequence[str]) -> bool:
    for allowed in allowed_hosts:
        allowed = allowed.lower().rstrip(".")
        if host == allowed:
            return True
        if not _is_ip(allowed) and host.endswith("." + allowed):
            return True
    return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _decode_key(value: Any, name: str) -> bytes:
    text = value.rstrip("=") if isinstance(value, str) else ""
    if not text or not set(text) <= _B64URL_CHARS or len(value) - len(text) > 2:
        raise InvalidSubscription(f"keys.{name} is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidSubscription(f"keys.{name} is not base64url") from None


# Payloads -------------------------------------------------------------------


def _dump(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.encode("utf-8", "replace")


def build_payload(message: Mapping, limit: int = PAYLOAD_LIMIT) -> bytes:
    """Return ``message`` as compact UTF-8 JSON of at most ``limit`` bytes.

    ``message`` is what the service worker reads, e.g. ``{"type": "show",
    "title", "body", "tag", "url", "child", "school", "ts"}`` or ``{"type":
    "close", "tags": [...]}``. When too long, ``body`` then ``title`` are cut
    on a character boundary and end with "…"; if that is not enough, the
    largest other members are cut (lists keep their first items) or dropped,
    ``type`` last. Never raises, never returns more than ``limit`` bytes
    (``limit`` >= 2). RFC 8291 §4 allows 3993 bytes of
    plaintext in the 4096 a push service must accept (RFC 8030 §7.2); the
    default leaves room, :data:`SHRUNK_LIMIT` is for a service answering 413.
    """
    data = _dump(message)
    if len(data) <= limit:
        return data
    message = dict(message)
    for field in ("body", "title"):
        text = message.get(field)
        if isinstance(text, str) and text:
            message[field] = _longest(message, field, text, limit, _cut_text)
            data = _dump(message)
            if len(data) <= limit:
                return data
    others = [name for name in message if name != "type"]
    others.sort(key=lambda name: len(_dump(message[name])), reverse=True)
    for name in others + [name for name in ("type",) if name in message]:
        value = message[name]
        if isinstance(value, list) and value:
            message[name] = _longest(message, name, value, limit, _cut_list)
        if not message[name] or len(_dump(message)) > limit:
            del message[name]
        data = _dump(message)
        if len(data) <= limit:
            return data
    return data


def _cut_text(text: str, n: int) -> str:
    return text[:n].rstrip().rstrip("\u200d") + ELLIPSIS


def _cut_list(items: list, n: int) -> list:
    return items[:n]


def _longest(message: dict, field: str, value, limit: int, cut):
    """Return ``cut(value, n)`` for the largest ``n`` that fits (``n = 0`` if none)."""
    low, high = 0, len(value) - 1  # the whole value is known not to fit
    while low < high:
        middle = (low + high + 1) // 2
        message[field] = cut(value, middle)
        if len(_dump(message)) <= limit:
            low = middle
        else:
            high = middle - 1
    return cut(value, low)


def topic_for(tag: str) -> str:
    """Return the ``Topic`` (RFC 8030 §5.4) for a notification tag, "" for none.

    A later push with the same topic replaces an undelivered earlier one at
    the push service. The topic travels in clear and a tag may name a
    conversation or a child, so it is a hash: 32 base64url characters of
    SHA-256 (192 bits), the most §5.4 allows.
    """
    if not tag:
        return ""
    return b64url(hashlib.sha256(tag.encode("utf-8")).digest())[:32]


# Jobs and outcomes ----------------------------------------------------------


@dataclass
class PushJob:
    """One message to one subscription.

    ``key``: the caller's id (e.g. a delivery id), given back in the outcome.
    ``subscription``: ``{"endpoint", "keys": {"p256dh", "auth"}}``.
    ``message``: the dict given to :func:`build_payload`. ``ttl``: seconds the
    push service keeps it for an offline device (RFC 8030 §5.2), > 0.
    ``urgency``: one of :data:`URGENCIES` (§5.3). ``topic``: "" or up to 32
    base64url characters (§5.4, see :func:`topic_for`). ``vapid_key``: the
    public key the subscription was made with (``PushSubscription
    .vapid_public_key``); "" or unknown means the sender's newest key.
    Raises ``ValueError`` for a bad ttl, urgency or topic.
    """

    key: Any
    subscription: dict
    message: dict
    ttl: int
    urgency: str = "normal"
    topic: str = ""
    vapid_key: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.ttl, int) or self.ttl <= 0:
            raise ValueError("ttl must be a positive number of seconds")
        if self.urgency not in URGENCIES:
            raise ValueError(f"urgency must be one of {', '.join(URGENCIES)}")
        if self.topic and (
            len(self.topic) > 32 or not set(self.topic) <= _B64URL_CHARS
        ):
            raise ValueError("topic must be at most 32 base64url characters")


@dataclass
class PushOutcome:
    """What became of one :class:`PushJob`.

    ``result``:

    - ``"sent"``: the push service accepted it (2xx, normally 201);
    - ``"gone"``: 404 or 410, the subscription is dead: delete it;
    - ``"retry"``: 429 (``retry_after`` from Retry-After, seconds or
      HTTP-date, default 60), 5xx (``retry_after`` from Retry-After if any,
      else ``None``), timeout or connection error (``None``); ``None`` means
      "use :func:`backoff`";
    - ``"failed"``: permanent: 400, 401, 403, 413 even shrunk, other 4xx,
      redirects, or the message could not be encrypted.

    ``status``: the HTTP status (``None`` if none came back); ``reason``:
    for the delivery log (≤ 300 characters); ``retry_after``: seconds;
    ``shrunk``: the payload was cut to :data:`SHRUNK_LIMIT` after a 413.
    """

    key: Any
    result: str
    status: int | None = None
    reason: str = ""
    retry_after: float | None = None
    shrunk: bool = False


def backoff(attempts: int, base: float = 30, cap: float = 3600) -> float:
    """Return a retry delay in seconds after ``attempts`` failed attempts.

    Exponential with full jitter: uniform in ``[0, min(cap, base * 2 **
    (attempts - 1))]`` (1 attempt: up to 30 s, 2: 60 s, ... up to 1 h).
    """
    exponent = min(max(attempts, 1) - 1, 60)
    return random.uniform(0, min(cap, base * 2**exponent))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return a Retry-After header (RFC 9110 §10.2.3) in seconds from ``now``.

    Delay-seconds or an HTTP-date; ``None`` when absent or unreadable, 0 for a
    date in the past. ``now``: Unix seconds (default: the clock).
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _outcome(key: Any, status: int, headers: Mapping, body: bytes) -> PushOutcome:
    """Classify a push service's answer (RFC 8030 §5, §6.2, §7)."""
    if 200 <= status < 300:
        return PushOutcome(key, "sent", status)
    if status in (404, 410):
        reason = f"HTTP {status}: subscription expired or unsubscribed"
        return PushOutcome(key, "gone", status, reason)
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if status == 429:
        reason = "HTTP 429: rate limited by the push service"
        if retry_after is None:
            retry_after = DEFAULT_RETRY_AFTER
        return PushOutcome(key, "retry", status, reason, retry_after)
    text = body[:200].decode("utf-8", "replace").strip()
    reason = f"HTTP {status}: {text}" if text else f"HTTP {status}"
    if status >= 500:
        return PushOutcome(key, "retry", status, reason[:REASON_LENGTH], retry_after)
    if 300 <= status < 400:
        reason = f"HTTP {status}: push services must not redirect"
    return PushOutcome(key, "failed", status, reason[:REASON_LENGTH])


# Sending --------------------------------------------------------------------


class _NoRedirects:
    """The session as pywebpush sees it: POSTs that never follow a redirect."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    def post(self, url: str, **kwargs):
        return self._session.post(url, allow_redirects=False, **kwargs)


class PushSender:
    """Sends pushes over one pooled HTTP session; use as ``async with``.

    ``signers``: a :class:`VapidSigner` or several (newest first, see
    :func:`hub.delivery.vapid.active_signers`); a job is signed by the one
    whose public key is its ``vapid_key``, else by the first. ``timeout``:
    seconds for a whole request (connect, send, answer). ``limit_per_host``:
    open connections per push service, kept alive between pushes.
    """

    def __init__(
        self,
        signers: VapidSigner | Sequence[VapidSigner],
        *,
        timeout: float = 10.0,
        limit_per_host: int = 64,
    ) -> None:
        signers = [signers] if isinstance(signers, VapidSigner) else list(signers)
        if not signers:
            raise ValueError("PushSender needs at least one VapidSigner")
        self.signer = signers[0]
        self._signers = {signer.public_key: signer for signer in reversed(signers)}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._limit_per_host = limit_per_host
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "PushSender":
        connector = aiohttp.TCPConnector(
            limit=0,  # bounded per host and by send_many's concurrency
            limit_per_host=self._limit_per_host,
            keepalive_timeout=60,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout
        )
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, job: PushJob) -> PushOutcome:
        """Encrypt and send one job; never raises for the job's own failure.

        After a 413 (RFC 8030 §7.2) the payload is rebuilt within
        :data:`SHRUNK_LIMIT` bytes and sent once more at once. Raises
        ``RuntimeError`` outside ``async with``.
        """
        if self._session is None:
            raise RuntimeError("use PushSender in 'async with'")
        try:
            outcome = await self._attempt(job, build_payload(job.message))
            if outcome.status == 413:
                shrunk = build_payload(job.message, SHRUNK_LIMIT)
                outcome = await self._attempt(job, shrunk)
                outcome.shrunk = True
            return outcome
        except Exception as exc:  # one bad job must not stop a batch
            log.exception("push %s: unexpected error", job.key)
            reason = f"unexpected error: {type(exc).__name__}: {exc}"
            return PushOutcome(job.key, "failed", reason=reason[:REASON_LENGTH])

    async def send_many(
        self, jobs: Iterable[PushJob], concurrency: int = 64
    ) -> list[PushOutcome]:
        """Send ``jobs`` with at most ``concurrency`` in flight; outcomes in job order."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        jobs = list(jobs)
        outcomes: list[PushOutcome | None] = [None] * len(jobs)
        indexes = iter(range(len(jobs)))

        async def worker() -> None:
            for index in indexes:
                outcomes[index] = await self.send(jobs[index])

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(jobs)))))
        return outcomes  # type: ignore[return-value]

    async def _attempt(self, job: PushJob, payload: bytes) -> PushOutcome:
        assert self._session is not None  # send() checked it
        endpoint = job.subscription.get("endpoint", "")
        signer = self._signers.get(job.vapid_key, self.signer)
        try:
            headers = {
                "Authorization": signer.authorization(endpoint),
                "Urgency": job.urgency,
            }
            if job.topic:
                headers["Topic"] = job.topic
            pusher = WebPusher(
                job.subscription, aiohttp_session=_NoRedirects(self._session)
            )
            response = await pusher.send_async(
                payload,
                headers=headers,
                ttl=job.ttl,
                content_encoding="aes128gcm",
                timeout=self._timeout,
            )
        except aiohttp.InvalidURL:
            return PushOutcome(job.key, "failed", reason="invalid endpoint URL")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = f"network: {type(exc).__name__}: {exc}"
            return PushOutcome(job.key, "retry", reason=reason[:REASON_LENGTH])
        except (WebPushException, http_ece.ECEException, ValueError) as exc:
            reason = f"cannot encrypt for this subscription: {exc}"
            return PushOutcome(job.key, "failed", reason=reason[:REASON_LENGTH])
        body = await response.read()  # already read by pywebpush: cached
        return _outcome(job.key, response.status, response.headers, body)
