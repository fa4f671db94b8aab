"""A real SMTP server for the tests (aiosmtpd), with faults to order.

``SmtpTestServer`` listens on 127.0.0.1 on a free port, in its own thread
and event loop (``aiosmtpd.controller.Controller``), stores every message it
accepts (envelope and ``email.message_from_bytes(policy=default)``), counts
connections, and misbehaves on demand, per test:

- ``refuse``: recipients answered ``550`` at ``RCPT`` (permanent);
- ``defer``: recipients answered ``451`` at ``RCPT`` (temporary);
- ``slow_rcpt``: recipients whose ``RCPT`` is answered only after
  ``data_delay`` seconds (a client timing out *before* the content: nothing
  was handed over, "deferred");
- ``slow_data``: recipients whose message is **stored**, then the final reply
  to ``DATA`` comes only after ``data_delay`` seconds (longer than the client
  timeout: accepted, but the client cannot know: "uncertain");
- ``drop_in_data``: recipients whose message is stored, then the connection
  is closed without any reply (also "uncertain");
- ``drop_after``: every connection is closed right after the reply to its
  N-th accepted message (a connection dropped between two mails).
"""

import asyncio
import email
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


@dataclass
class Received:
    """One accepted message: envelope and parsed content."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class Faults:
    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)
    slow_rcpt: set[str] = field(default_factory=set)
    slow_data: set[str] = field(default_factory=set)
    data_delay: float = 2.0
    drop_in_data: set[str] = field(default_factory=set)
    drop_after: int | None = None


class _Handler:
    def __init__(self, server: "SmtpTestServer") -> None:
        self.owner = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        faults = self.owner.faults
        if address in faults.refuse:
            return "550 5.1.1 No such user here"
        if address in faults.defer:
            return "451 4.3.0 Try again later"
        if address in faults.slow_rcpt:
            await asyncio.sleep(faults.data_delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        owner, faults = self.owner, self.owner.faults
        raw = envelope.original_content
        parsed = email.message_from_bytes(raw, policy=default)
        with owner.lock:
            owner.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, raw)
            )
        rcpts = set(envelope.rcpt_tos)
        if rcpts & faults.drop_in_data:
            server.transport.close()
            await asyncio.sleep(3600)  # cancelled by connection_lost
        if rcpts & faults.slow_data:
            await asyncio.sleep(faults.data_delay)
        server.accepted_here += 1
        if faults.drop_after is not None and server.accepted_here >= faults.drop_after:
            # Runs after the 250 below is written (no await in between).
            asyncio.get_running_loop().call_soon(server.transport.close)
        return "250 OK: queued"


class _CountingSMTP(SMTP):
    def __init__(self, owner: "SmtpTestServer", *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.accepted_here = 0

    def connection_made(self, transport) -> None:
        with self.owner.lock:
            self.owner.connections += 1
        super().connection_made(transport)


class _Controller(Controller):
    def __init__(self, owner: "SmtpTestServer", **kwargs) -> None:
        super().__init__(_Handler(owner), **kwargs)
        self.owner = owner

    def factory(self):
        return _CountingSMTP(self.owner, self.handler, **self.SMTP_kwargs)


class SmtpTestServer:
    """Start with :meth:`start`, stop with :meth:`stop`; see the module doc."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.faults = Faults()
        self.messages: list[Received] = []
        self.connections = 0
        self.lock = threading.Lock()
        self._controller = _Controller(
            self,
            hostname=self.host,
            port=self.port,
            server_hostname="smtp.test",  # no DNS lookup per connection
            ready_timeout=10,
        )

    def start(self) -> "SmtpTestServer":
        self._controller.start()
        with self.lock:
            self.connections = 0  # the controller's own readiness probe
        return self

    def stop(self) -> None:
        self._controller.stop()

    def by_message_id(self) -> dict[str, list[Received]]:
        """Stored messages grouped by ``Message-ID`` (to spot duplicates)."""
        found: dict[str, list[Received]] = {}
        with self.lock:
            for received in self.messages:
                found.setdefault(received.message["Message-ID"], []).append(received)
        return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
