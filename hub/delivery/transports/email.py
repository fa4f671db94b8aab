"""The e-mail transport: mails over a few persistent SMTP connections (aiosmtplib).

:class:`EmailTransport` keeps up to ``connections`` SMTP sessions open and
sends a batch over them, one mail at a time per connection, with the
transaction split into its stages (RFC 5321 §3.3: ``MAIL``, ``RCPT``,
``DATA``, then the content and its final reply) so that every failure is
classified by *what the server may already hold*:

- ``"sent"``: the server answered 250 to the end of the content;
- ``"refused"``: a permanent 5xx to ``MAIL``, every ``RCPT``, ``DATA`` or the
  content (or an address that cannot be written): do not retry;
- ``"deferred"``: a 4xx, or the connection failed, timed out or dropped
  *before* the content was handed over: nothing was accepted, safe to retry;
- ``"uncertain"``: a timeout or disconnect *after* the content was written,
  while waiting for the final reply: the server may have accepted it, so the
  caller must never send it again (at most once).

:meth:`EmailTransport.send` raises :class:`SmtpError` (a
:class:`~hub.delivery.transports.base.DeliveryError`: permanent for
``refused`` and ``uncertain``, temporary for ``deferred``) for a mail that
was not accepted. The mails' ledger (:class:`hub.delivery.models.EmailSend`)
lives with the caller; the two callbacks of :meth:`EmailTransport.send_many`
let it record each step durably.
"""

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Literal

import aiosmtplib
from aiosmtplib.errors import (
    SMTPException,
    SMTPHeloError,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)
from aiosmtplib.response import SMTPResponse

from hub.delivery.transports.base import DeliveryError, Transport
from hub.delivery.transports.smtp_wire import (
    OutgoingMail,
    envelope_address,
    smtp_payload,
)

log = logging.getLogger(__name__)

Outcome = Literal["sent", "refused", "deferred", "uncertain"]
SENT: Outcome = "sent"
REFUSED: Outcome = "refused"
DEFERRED: Outcome = "deferred"
UNCERTAIN: Outcome = "uncertain"

BeforeSend = Callable[[list[Hashable]], Awaitable[None]]
OnResult = Callable[[Hashable, Outcome, str], Awaitable[None]]

_CONNECTION_ERRORS = (SMTPServerDisconnected, SMTPTimeoutError, OSError)


class SmtpError(DeliveryError):
    """A mail the server did not accept; ``outcome`` says what it may hold.

    ``"refused"`` (permanent), ``"deferred"`` (temporary: nothing was handed
    over) or ``"uncertain"`` (permanent: the content was handed over and no
    answer came, so it may have been delivered and is never sent again).
    """

    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason, permanent=outcome != DEFERRED)
        self.outcome: Outcome = outcome


class _Connection:
    """One SMTP session, reopened on demand; used by one worker at a time."""

    def __init__(self, sender: "EmailTransport") -> None:
        self.owner = sender
        self.smtp: aiosmtplib.SMTP | None = None
        self.dirty = False  # a transaction may be open: RSET before MAIL
        self.used = False  # has carried a mail since it was opened

    def eight_bit(self, payload: bytes) -> bool:
        """Whether to announce ``BODY=8BITMIME`` (RFC 6152) for ``payload``."""
        assert self.smtp is not None  # called on an open connection
        return not payload.isascii() and self.smtp.supports_extension("8bitmime")

    @property
    def is_open(self) -> bool:
        return self.smtp is not None and self.smtp.is_connected

    async def open(self) -> aiosmtplib.SMTP:
        self.close()
        owner = self.owner
        smtp = aiosmtplib.SMTP(
            hostname=owner.host,
            port=owner.port,
            username=owner.username or None,
            password=owner.password or None,
            use_tls=owner.use_tls,
            start_tls=owner.start_tls,
            timeout=owner.timeout,
            local_hostname=owner.local_hostname,
        )
        await smtp.connect()
        if smtp.is_ehlo_or_helo_needed:
            try:
                await smtp.ehlo()
            except SMTPHeloError:
                await smtp.helo()
        owner.connects += 1
        self.smtp, self.dirty, self.used = smtp, False, False
        return smtp

    def close(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None

    async def quit(self) -> None:
        if self.is_open:
            assert self.smtp is not None  # is_open
            try:
                await self.smtp.quit(timeout=min(self.owner.timeout, 5.0))
            except (SMTPException, OSError):
                pass
        self.close()


class EmailTransport(Transport):
    """Send mails over up to ``connections`` persistent SMTP sessions.

    Use as ``async with EmailTransport.from_settings() as sender: await
    sender.send_many(mails, before_send, on_result)``. Connections open
    lazily, are reused across mails and across ``send_many`` calls, and are
    closed (``QUIT``) on exit. A connection that dropped between two mails
    is reopened transparently and the mail tried once more (nothing of it was
    handed over). ``timeout`` (seconds) bounds connecting and each reply.
    ``use_tls`` is implicit TLS (port 465), ``start_tls`` STARTTLS (587).

    **What the caller can tell after a crash.** Each connection sends its
    mails strictly one after another, so at most ``connections`` mails are
    ever in an SMTP transaction at once. A worker takes a group of at most
    ``group_size`` mails (fewer when the batch is small, to use every
    connection), awaits ``before_send(keys)`` for the group, then
    sends them one by one and awaits ``on_result(key, outcome, reason)``
    after each, before starting the next. So, if the process dies at any
    point:

    - a mail whose key was never passed to a completed ``before_send`` was
      never handed to SMTP: safe to send again;
    - a mail whose ``on_result`` completed has that final outcome;
    - a mail in between (``before_send`` done, no ``on_result``) may have
      been sent: treat it as ``"uncertain"`` and never resend it. Per
      connection, at most one of them was really in flight; the others of
      its group (at most ``group_size - 1``) were not, but nothing durable
      says which: a smaller ``group_size`` loses fewer mails in a crash and
      costs more ``before_send`` calls.

    A connection that cannot be (re)opened gives the untouched rest of its
    group back to the other connections, so a key can be passed to
    ``before_send`` twice (mark it again: it was not handed over).

    Without a crash, every mail gets exactly one ``on_result`` call and one
    entry in the returned dict, including those that could not be sent
    (``"deferred"``, reason "not sent: …"; if no connection could be opened,
    some of them never went through ``before_send``). An exception raised by a
    callback stops the batch: the other workers finish the mail they hold,
    report the rest of their group ``"deferred"``, and the first exception is
    re-raised; mails never passed to ``before_send`` get no callback then
    (they were never handed over: the caller may send them again).
    """

    channel = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str = "",
        password: str = "",
        use_tls: bool = False,
        start_tls: bool = False,
        timeout: float = 30.0,
        connections: int = 4,
        group_size: int = 8,
        local_hostname: str | None = None,
    ) -> None:
        if connections < 1 or group_size < 1:
            raise ValueError("connections and group_size must be at least 1")
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.use_tls, self.start_tls = use_tls, start_tls
        self.timeout = timeout
        self.group_size = group_size
        self.local_hostname = local_hostname
        self.connects = 0  # connections opened so far (for tests and stats)
        self._connections = [_Connection(self) for _ in range(connections)]

    @classmethod
    def from_settings(cls, **overrides) -> "EmailTransport":
        """Build one from ``EMAIL_HOST``, ``EMAIL_PORT``, ``EMAIL_HOST_USER``,
        ``EMAIL_HOST_PASSWORD``, ``EMAIL_USE_TLS``, ``EMAIL_START_TLS``,
        ``EMAIL_TIMEOUT`` and ``EMAIL_CONNECTIONS``; ``overrides`` win."""
        from django.conf import settings

        options: dict[str, Any] = {
            "host": settings.EMAIL_HOST,
            "port": settings.EMAIL_PORT,
            "username": settings.EMAIL_HOST_USER,
            "password": settings.EMAIL_HOST_PASSWORD,
            "use_tls": settings.EMAIL_USE_TLS,
            "start_tls": settings.EMAIL_START_TLS,
            "timeout": settings.EMAIL_TIMEOUT,
            "connections": settings.EMAIL_CONNECTIONS,
        }
        return cls(**(options | overrides))

    async def __aenter__(self) -> "EmailTransport":
        if self.local_hostname is None:
            # aiosmtplib would look this up (DNS) on every connect.
            self.local_hostname = await asyncio.to_thread(socket.getfqdn)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Say ``QUIT`` on every open connection and close it."""
        await asyncio.gather(*(c.quit() for c in self._connections))

    async def send(self, mail: OutgoingMail) -> str:
        """Send one mail; return "" or, when some recipients were refused and
        others accepted it, what the server said about the refused ones.

        Raises :class:`SmtpError` when the mail was not accepted.
        """
        batch = await self._run([mail], None, None)
        error = batch.errors.get(mail.key)
        if error is not None:
            raise error
        return batch.notes.get(mail.key, "")

    async def send_many(
        self,
        mails: list[OutgoingMail],
        before_send: BeforeSend | None = None,
        on_result: OnResult | None = None,
    ) -> dict[Hashable, Outcome]:
        """Send ``mails``; return ``{key: outcome}`` (see the class docstring).

        ``before_send(keys)`` is awaited with the keys of a group (at most
        ``group_size``) just before the group's first mail is handed to SMTP;
        ``on_result(key, outcome, reason)`` after each mail (``reason`` is ""
        when sent, else the server's reply or the error). Keys must be
        unique within a batch.
        """
        batch = await self._run(mails, before_send, on_result)
        return batch.results

    async def _run(self, mails, before_send, on_result) -> "_Batch":
        batch = _Batch(deque(mails), before_send, on_result)
        workers = [batch.run(connection) for connection in self._connections]
        await asyncio.gather(*workers)
        if batch.error is not None:
            raise batch.error
        # Left over only if every connection failed to open.
        while batch.queue:
            error = SmtpError(DEFERRED, "not sent: no connection")
            await batch.report(batch.queue.popleft(), error)
        return batch

    async def _send_one(self, connection: _Connection, mail: OutgoingMail) -> str:
        """Send one mail on ``connection``: "" or a note on refused
        recipients when sent, else raise :class:`SmtpError`."""
        try:
            payload = smtp_payload(mail.message)
        except (ValueError, UnicodeError) as exc:
            raise SmtpError(REFUSED, f"cannot serialise the message: {exc}") from exc
        stale = connection.is_open and connection.used
        outcome, reason = await self._transaction(connection, mail, payload)
        # A reused connection that turned out dead: the server dropped it
        # between mails. Nothing was handed over; try once on a new one.
        if outcome == DEFERRED and stale and not connection.is_open:
            outcome, reason = await self._transaction(connection, mail, payload)
        if outcome != SENT:
            raise SmtpError(outcome, reason)
        return reason

    async def _transaction(self, connection, mail, payload):
        stage = "connect"
        try:
            smtp = connection.smtp
            if not connection.is_open:
                smtp = await connection.open()
            connection.used = True
            if connection.dirty:
                stage = "RSET"
                await smtp.rset()
                connection.dirty = False
            stage = "MAIL"
            connection.dirty = True
            options = [b"BODY=8BITMIME"] if connection.eight_bit(payload) else []
            sender = envelope_address(mail.sender)
            reply = await smtp.execute_command(b"MAIL", b"FROM:" + sender, *options)
            if reply.code != 250:
                return _classify(reply.code, f"MAIL: {reply.code} {reply.message}")
            stage = "RCPT"
            refusals = []
            for recipient in mail.recipients:
                address = envelope_address(recipient)
                reply = await smtp.execute_command(b"RCPT", b"TO:" + address)
                if reply.code not in (250, 251):
                    refusals.append((recipient, reply))
            if len(refusals) == len(mail.recipients):
                return _refusal(refusals)
            stage = "DATA"
            reply = await smtp.execute_command(b"DATA")
            if reply.code != 354:
                return _classify(reply.code, f"DATA: {reply.code} {reply.message}")
            smtp.protocol.write(payload)  # raises if already disconnected
            stage = "content"
            reply = await smtp.protocol.read_response(timeout=self.timeout)
            connection.dirty = False  # the final reply ends the transaction
            if reply.code != 250:
                return _classify(reply.code, f"{reply.code} {reply.message}")
            if refusals:
                return SENT, "; ".join(_describe(*refusal) for refusal in refusals)
            return SENT, ""
        except SMTPResponseException as exc:
            reason = f"{stage}: {exc.code} {exc.message}"
            if stage in ("connect", "RSET"):  # about the session, not the mail
                connection.close()
                return DEFERRED, reason
            if exc.code == 421 or not connection.is_open:  # closing channel
                connection.close()
            return _classify(exc.code, reason)
        except _CONNECTION_ERRORS as exc:
            connection.close()
            if stage == "content":
                return UNCERTAIN, f"no reply after the content: {_error(exc)}"
            return DEFERRED, f"{stage}: {_error(exc)}"
        except (ValueError, UnicodeError) as exc:  # an address it cannot write
            return REFUSED, f"{stage}: {exc}"
        except BaseException:  # cancelled: the session is in an unknown state
            connection.close()
            raise


class _Batch:
    """One ``send_many`` call: the shared queue, results and callbacks."""

    def __init__(self, queue, before_send, on_result) -> None:
        self.queue: deque[OutgoingMail] = queue
        self.results: dict[Hashable, Outcome] = {}
        self.errors: dict[Hashable, SmtpError] = {}
        self.notes: dict[Hashable, str] = {}  # refused recipients of sent mails
        self.before_send = before_send
        self.on_result = on_result
        self.error: BaseException | None = None

    async def report(
        self, mail: OutgoingMail, error: SmtpError | None, note: str = ""
    ) -> None:
        outcome = SENT if error is None else error.outcome
        reason = note if error is None else error.reason
        self.results[mail.key] = outcome
        if error is None:
            self.notes[mail.key] = note
        else:
            self.errors[mail.key] = error
            log.info("mail %s %s: %s", mail.key, outcome, reason)
        if self.on_result is not None:
            await self.on_result(mail.key, outcome, reason)

    async def run(self, connection: _Connection) -> None:
        """Take groups off the queue and send them until it is empty.

        Stops early when the connection cannot be (re)opened (the rest of
        its group goes back to the queue, for the other connections) or when
        a callback raised (recorded in ``error`` for ``send_many``).
        """
        sender = connection.owner
        try:
            while self.queue and self.error is None:
                # Small batches are spread over the connections too.
                share = -(-len(self.queue) // len(sender._connections))
                size = min(sender.group_size, share)
                group = [self.queue.popleft() for _ in range(size)]
                if not await self._send_group(sender, connection, group):
                    return
        except Exception as exc:
            if self.error is None:
                self.error = exc

    async def _send_group(self, sender, connection, group) -> bool:
        """Send one group; return False if this connection gave up."""
        if self.before_send is not None:
            try:
                await self.before_send([mail.key for mail in group])
            except Exception:
                self.queue.extendleft(reversed(group))  # never handed over
                raise
        for index, mail in enumerate(group):
            if self.error is not None:  # another worker's callback failed
                for rest in group[index:]:
                    await self.report(
                        rest, SmtpError(DEFERRED, "not sent: batch stopped")
                    )
                return False
            try:
                note = await sender._send_one(connection, mail)
            except SmtpError as error:
                await self.report(mail, error)
                if error.outcome == DEFERRED and not connection.is_open:
                    self.queue.extendleft(reversed(group[index + 1 :]))
                    return False
            else:
                await self.report(mail, None, note)
        return True


def _classify(code: int, reason: str) -> tuple[Outcome, str]:
    return (REFUSED if 500 <= code < 600 else DEFERRED), reason


def _refusal(refusals: list[tuple[str, SMTPResponse]]) -> tuple[Outcome, str]:
    """Every recipient refused: permanent only if every refusal was."""
    reason = "; ".join(_describe(*refusal) for refusal in refusals)
    permanent = all(500 <= reply.code < 600 for _, reply in refusals)
    return (REFUSED if permanent else DEFERRED), f"RCPT: {reason}"


def _describe(recipient: str, reply: SMTPResponse) -> str:
    return f"{recipient}: {reply.code} {reply.message}"


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
