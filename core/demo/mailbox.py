"""A local SMTP server for the demo: mails land in ``var/mail/`` as .eml files.

``make run`` starts it (aiosmtpd) on ``EMAIL_HOST:EMAIL_PORT`` (127.0.0.1:8025
by default) unless ``EMAIL_HOST`` was set to a real relay, so digests and
immediate mails can be opened with any mail reader, and nothing leaves the
laptop.
"""

import datetime
import itertools
import logging
from pathlib import Path

from aiosmtpd.controller import Controller

logger = logging.getLogger(__name__)


class _SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.folder / f"{stamp}-{next(self.count):04d}.eml"
        path.write_bytes(envelope.original_content)
        logger.info("mail for %s saved to %s", ", ".join(envelope.rcpt_tos), path)
        return "250 OK: saved"


def start_mailbox(host: str, port: int, folder: Path) -> Controller:
    """Start the mailbox in a thread; return its controller (``.stop()``).

    Raises ``OSError`` when the port is taken.
    """
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(
        _SaveToFolder(folder), hostname=host, port=port, server_hostname="demo.invalid"
    )
    controller.start()
    return controller
