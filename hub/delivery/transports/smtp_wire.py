"""What goes on the SMTP wire: the envelope and the ``DATA`` content.

Kept apart from the transport (:mod:`hub.delivery.transports.email`) because
it is pure byte work, measured on its own (``bench/digest_throughput.py``):
a regular expression over 10 kB costs more than the rest of a transaction.
"""

import re
from collections.abc import Hashable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses

from aiosmtplib.email import quote_address

# A lone CR or LF becomes CRLF (RFC 5321 §2.3.8).
_BARE_EOL = re.compile(rb"\r(?!\n)|(?<!\r)\n")
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


@dataclass(slots=True)
class OutgoingMail:
    """One mail to hand to SMTP.

    ``key`` is the caller's opaque id (an ``EmailSend`` pk), echoed in the
    callbacks and the result; ``sender`` the envelope ``MAIL FROM`` address
    (RFC 5321 reverse-path, bounces go there); ``recipients`` the envelope
    ``RCPT TO`` addresses; ``message`` an :class:`~email.message.EmailMessage`
    (serialised with its own policy, with CRLF line ends) or the RFC 5322
    bytes.
    """

    key: Hashable
    sender: str
    recipients: list[str]
    message: EmailMessage | bytes

    @classmethod
    def of(cls, key: Hashable, message: EmailMessage) -> "OutgoingMail":
        """Build one from a composed message: sender from ``From``, recipients
        from ``To``, ``Cc`` and ``Bcc`` (which is removed from the message).

        Reads the stored header values without the (slow) header registry.
        Raises ``ValueError`` if there is no sender or no recipient.
        """
        senders: list[str] = []
        recipients: list[str] = []
        for name, value in message.raw_items():
            field = name.lower()
            if field not in ("from", "to", "cc", "bcc"):
                continue
            parsed = getattr(value, "addresses", None)  # a registry header
            if parsed is not None:
                specs = [address.addr_spec for address in parsed]
            else:
                pairs = getaddresses([value.replace("\r\n", "")])
                specs = [spec for _, spec in pairs if spec]
            (senders if field == "from" else recipients).extend(specs)
        if not senders or not recipients:
            raise ValueError("a message needs a From and a recipient")
        if "Bcc" in message:
            del message["Bcc"]
        return cls(key=key, sender=senders[0], recipients=recipients, message=message)


def smtp_payload(message: EmailMessage | bytes) -> bytes:
    """Return the ``DATA`` content of a message: CRLF line ends, leading dots
    doubled (RFC 5321 §4.5.2), ending with the ``.`` line.

    Plain ``bytes.count``/``replace`` on the common path: a regular
    expression over 10 kB costs more than the rest of a transaction.
    """
    if isinstance(message, EmailMessage):
        policy = message.policy
        if policy.linesep != "\r\n":
            policy = policy.clone(linesep="\r\n")
        data = message.as_bytes(policy=policy)  # CRLF throughout
    else:
        data = message
        crlf = data.count(b"\r\n")
        if data.count(b"\r") != crlf or data.count(b"\n") != crlf:
            data = _BARE_EOL.sub(b"\r\n", data)
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def envelope_address(address: str) -> bytes:
    """Return ``<address>`` for ``MAIL FROM:``/``RCPT TO:`` (RFC 5321 §4.1.2).

    Raises ``ValueError`` (or ``UnicodeEncodeError``) for an address that
    cannot be written on an SMTP command line.
    """
    if not _PLAIN_ADDRESS.fullmatch(address):
        return quote_address(address).encode("ascii")  # aiosmtplib's parser
    return b"<" + address.encode("ascii") + b">"
