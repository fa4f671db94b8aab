"""The moving parts of :class:`~hub.delivery.transports.email.EmailTransport`:
one SMTP session per connection, and one ``send_many`` call's shared queue.

Apart from the transport so that the order of work (which mail is handed
over when, which callback runs before which) reads in one place.
"""

import logging
from collections import deque
from collections.abc import Hashable
from typing import TYPE_CHECKING

import aiosmtplib
from aiosmtplib.errors import SMTPException, SMTPHeloError

from hub.delivery.transports.smtp_replies import DEFERRED, SENT, Outcome, SmtpError
from hub.delivery.transports.smtp_wire import OutgoingMail

if TYPE_CHECKING:
    from hub.delivery.transports.email import EmailTransport

log = logging.getLogger(__name__)


class Connection:
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


class Batch:
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

    async def run(self, connection: Connection) -> None:
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
