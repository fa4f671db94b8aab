"""The web push transport: encrypt, sign and POST one message to a push service.

RFC 8030 (the push protocol: ``TTL`` §5.2, ``Urgency`` §5.3, ``Topic``
§5.4, answers §6-§7), RFC 8291 (message encryption, ``aes128gcm``, done by
pywebpush and http_ece) and RFC 8292 (VAPID, signed by
:class:`hub.delivery.vapid.VapidSigner`). No ORM here: the caller turns rows
into :class:`PushJob` and each :class:`PushOutcome` back into rows.

:meth:`WebPushTransport.send` raises :class:`PushError` (a
:class:`~hub.delivery.transports.base.DeliveryError`) for a push that did
not get through; :meth:`WebPushTransport.send_many`, the worker's path,
sends a batch over one pooled HTTP session and gives one outcome per job.
"""

import asyncio
import datetime
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import http_ece
from pywebpush import WebPusher, WebPushException

from hub.delivery.push_payload import SHRUNK_LIMIT, build_payload
from hub.delivery.push_subscriptions import B64URL_CHARS
from hub.delivery.retry import parse_retry_after
from hub.delivery.transports.base import REASON_LENGTH, DeliveryError, Transport
from hub.delivery.vapid import VapidSigner

log = logging.getLogger(__name__)

URGENCIES = ("very-low", "low", "normal", "high")  # RFC 8030 §5.3
DEFAULT_RETRY_AFTER = 60.0  # seconds, for a 429 without a usable Retry-After


@dataclass
class PushJob:
    """One message to one subscription.

    ``key``: the caller's id (e.g. a delivery id), given back in the outcome.
    ``subscription``: ``{"endpoint", "keys": {"p256dh", "auth"}}``.
    ``message``: the dict given to
    :func:`hub.delivery.push_payload.build_payload`. ``ttl``: seconds the
    push service keeps it for an offline device (RFC 8030 §5.2), > 0.
    ``urgency``: one of :data:`URGENCIES` (§5.3). ``topic``: "" or up to 32
    base64url characters (§5.4, see :func:`hub.delivery.push_payload
    .topic_for`). ``vapid_key``: the public key the subscription was made
    with (``PushSubscription.vapid_public_key``); "" or unknown means the
    sender's newest key.
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
        if self.topic and (len(self.topic) > 32 or not set(self.topic) <= B64URL_CHARS):
            raise ValueError("topic must be at most 32 base64url characters")


class PushError(DeliveryError):
    """A push the service did not accept.

    ``gone``: 404 or 410, the subscription is dead (permanent; the caller
    deletes it). ``status``: the HTTP status, ``None`` when none came back
    (timeout, connection error, a message that could not be encrypted).
    ``shrunk``: the payload had been cut to :data:`SHRUNK_LIMIT` after a 413.
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        retry_after: datetime.timedelta | None = None,
        status: int | None = None,
        gone: bool = False,
    ) -> None:
        super().__init__(
            reason[:REASON_LENGTH], permanent=permanent, retry_after=retry_after
        )
        self.status = status
        self.gone = gone
        self.shrunk = False


@dataclass
class PushOutcome:
    """What became of one :class:`PushJob`.

    ``result``:

    - ``"sent"``: the push service accepted it (2xx, normally 201);
    - ``"gone"``: 404 or 410, the subscription is dead: delete it;
    - ``"retry"``: 429 (``retry_after`` from Retry-After, seconds or
      HTTP-date, default 60), 5xx (``retry_after`` from Retry-After if any,
      else ``None``), timeout or connection error (``None``); ``None`` means
      "let :mod:`hub.delivery.retry` back off";
    - ``"failed"``: permanent: 400, 401, 403, 413 even shrunk, other 4xx,
      redirects, or the message could not be encrypted.

    ``status``: the HTTP status (``None`` if none came back); ``reason``:
    for the delivery log (≤ 300 characters); ``retry_after``: seconds;
    ``shrunk``: the payload was cut to :data:`SHRUNK_LIMIT` after a 413;
    ``error``: the :class:`PushError` behind anything but ``"sent"``.
    """

    key: Any
    result: str
    status: int | None = None
    reason: str = ""
    retry_after: float | None = None
    shrunk: bool = False
    error: PushError | None = None

    @classmethod
    def of(cls, key: Any, error: PushError) -> "PushOutcome":
        """The outcome of a job whose send raised ``error``."""
        if error.gone:
            result = "gone"
        else:
            result = "failed" if error.permanent else "retry"
        delay = error.retry_after
        return cls(
            key,
            result,
            error.status,
            error.reason,
            None if delay is None else delay.total_seconds(),
            error.shrunk,
            error,
        )


def _error(status: int, headers: Mapping, body: bytes) -> PushError | None:
    """Classify a push service's answer (RFC 8030 §5, §6.2, §7): ``None``
    when it accepted the push, else what went wrong."""
    if 200 <= status < 300:
        return None
    if status in (404, 410):
        reason = f"HTTP {status}: subscription expired or unsubscribed"
        return PushError(reason, permanent=True, status=status, gone=True)
    seconds = parse_retry_after(headers.get("Retry-After"))
    if status == 429:
        reason = "HTTP 429: rate limited by the push service"
        if seconds is None:
            seconds = DEFAULT_RETRY_AFTER
    else:
        text = body[:200].decode("utf-8", "replace").strip()
        reason = f"HTTP {status}: {text}" if text else f"HTTP {status}"
    if status == 429 or status >= 500:
        delay = None if seconds is None else datetime.timedelta(seconds=seconds)
        return PushError(reason, permanent=False, retry_after=delay, status=status)
    if 300 <= status < 400:
        reason = f"HTTP {status}: push services must not redirect"
    return PushError(reason, permanent=True, status=status)


class _NoRedirects:
    """The session as pywebpush sees it: POSTs that never follow a redirect."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    def post(self, url: str, **kwargs):
        return self._session.post(url, allow_redirects=False, **kwargs)


class WebPushTransport(Transport):
    """Sends pushes over one pooled HTTP session; use as ``async with``.

    ``signers``: a :class:`VapidSigner` or several (newest first, see
    :func:`hub.delivery.vapid.active_signers`); a job is signed by the one
    whose public key is its ``vapid_key``, else by the first. ``timeout``:
    seconds for a whole request (connect, send, answer). ``limit_per_host``:
    open connections per push service, kept alive between pushes.
    """

    channel = "push"

    def __init__(
        self,
        signers: VapidSigner | Sequence[VapidSigner],
        *,
        timeout: float = 10.0,
        limit_per_host: int = 64,
    ) -> None:
        signers = [signers] if isinstance(signers, VapidSigner) else list(signers)
        if not signers:
            raise ValueError("WebPushTransport needs at least one VapidSigner")
        self.signer = signers[0]
        self._signers = {signer.public_key: signer for signer in reversed(signers)}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._limit_per_host = limit_per_host
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "WebPushTransport":
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

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, job: PushJob) -> PushOutcome:
        """Encrypt and send one job; return its ``"sent"`` outcome.

        After a 413 (RFC 8030 §7.2) the payload is rebuilt within
        :data:`SHRUNK_LIMIT` bytes and sent once more at once. Raises
        :class:`PushError` when the push did not get through (an unexpected
        error becomes a permanent one: one bad job must not stop a batch),
        ``RuntimeError`` outside ``async with``.
        """
        if self._session is None:
            raise RuntimeError("use WebPushTransport in 'async with'")
        try:
            try:
                status = await self._attempt(job, build_payload(job.message))
            except PushError as error:
                if error.status != 413:
                    raise
                shrunk = build_payload(job.message, SHRUNK_LIMIT)
                try:
                    status = await self._attempt(job, shrunk)
                except PushError as again:
                    again.shrunk = True
                    raise
                return PushOutcome(job.key, "sent", status, shrunk=True)
            return PushOutcome(job.key, "sent", status)
        except PushError:
            raise
        except Exception as exc:
            log.exception("push %s: unexpected error", job.key)
            reason = f"unexpected error: {type(exc).__name__}: {exc}"
            raise PushError(reason, permanent=True) from exc

    async def outcome(self, job: PushJob) -> PushOutcome:
        """Send one job; its outcome, whatever happened (never raises for
        the job's own failure)."""
        try:
            return await self.send(job)
        except PushError as error:
            return PushOutcome.of(job.key, error)

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
                outcomes[index] = await self.outcome(jobs[index])

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(jobs)))))
        return outcomes  # type: ignore[return-value]

    async def _attempt(self, job: PushJob, payload: bytes) -> int:
        """POST one encrypted payload; the 2xx status, else raise PushError."""
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
            raise PushError("invalid endpoint URL", permanent=True) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = f"network: {type(exc).__name__}: {exc}"
            raise PushError(reason, permanent=False) from exc
        except (WebPushException, http_ece.ECEException, ValueError) as exc:
            reason = f"cannot encrypt for this subscription: {exc}"
            raise PushError(reason, permanent=True) from exc
        body = await response.read()  # already read by pywebpush: cached
        error = _error(response.status, response.headers, body)
        if error is not None:
            raise error
        return response.status
