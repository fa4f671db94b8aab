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
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from aiosmtplib.errors import (
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from hub.delivery.transports.base import Transport
from hub.delivery.transports.smtp_batch import Batch, Connection
from hub.delivery.transports.smtp_replies import (
    DEFERRED,
    REFUSED,
    SENT,
    UNCERTAIN,
    Outcome,
    SmtpError,
    classify,
    describe,
    error_text,
    refusal,
)
from hub.delivery.transports.smtp_wire import (
    OutgoingMail,
    envelope_address,
    smtp_payload,
)

BeforeSend = Callable[[list[Hashable]], Awaitable[None]]
OnResult = Callable[[Hashable, Outcome, str], Awaitable[None]]

_CONNECTION_ERRORS = (SMTPServerDisconnected, SMTPTimeoutError, OSError)


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
        self._connections = [Connection(self) for _ in range(connections)]

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

    async def _run(self, mails, before_send, on_result) -> "Batch":
        batch = Batch(deque(mails), before_send, on_result)
        workers = [batch.run(connection) for connection in self._connections]
        await asyncio.gather(*workers)
        if batch.error is not None:
            raise batch.error
        # Left over only if every connection failed to open.
        while batch.queue:
            error = SmtpError(DEFERRED, "not sent: no connection")
            await batch.report(batch.queue.popleft(), error)
        return batch

    async def _send_one(self, connection: Connection, mail: OutgoingMail) -> str:
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
                return classify(reply.code, f"MAIL: {reply.code} {reply.message}")
            stage = "RCPT"
            refusals = []
            for recipient in mail.recipients:
                address = envelope_address(recipient)
                reply = await smtp.execute_command(b"RCPT", b"TO:" + address)
                if reply.code not in (250, 251):
                    refusals.append((recipient, reply))
            if len(refusals) == len(mail.recipients):
                return refusal(refusals)
            stage = "DATA"
            reply = await smtp.execute_command(b"DATA")
            if reply.code != 354:
                return classify(reply.code, f"DATA: {reply.code} {reply.message}")
            smtp.protocol.write(payload)  # raises if already disconnected
            stage = "content"
            reply = await smtp.protocol.read_response(timeout=self.timeout)
            connection.dirty = False  # the final reply ends the transaction
            if reply.code != 250:
                return classify(reply.code, f"{reply.code} {reply.message}")
            if refusals:
                return SENT, "; ".join(describe(*refusal) for refusal in refusals)
            return SENT, ""
        except SMTPResponseException as exc:
            reason = f"{stage}: {exc.code} {exc.message}"
            if stage in ("connect", "RSET"):  # about the session, not the mail
                connection.close()
                return DEFERRED, reason
            if exc.code == 421 or not connection.is_open:  # closing channel
                connection.close()
            return classify(exc.code, reason)
        except _CONNECTION_ERRORS as exc:
            connection.close()
            if stage == "content":
                return UNCERTAIN, f"no reply after the content: {error_text(exc)}"
            return DEFERRED, f"{stage}: {error_text(exc)}"
        except (ValueError, UnicodeError) as exc:  # an address it cannot write
            return REFUSED, f"{stage}: {exc}"
        except BaseException:  # cancelled: the session is in an unknown state
            connection.close()
            raise
