"""``capture_all_logs()``: every log record of the block, at DEBUG, SQL included.

caplog listens on the root logger only, and the hub's ``django`` logger does
not propagate; this handler goes on the root and on every logger that does
not propagate, and the database cursor logs its queries (with their
parameters) as with ``DEBUG=True``.
"""

import contextlib
import logging

from django.db import connection
from django.test.utils import CaptureQueriesContext


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name} {record.getMessage()}"
        if record.exc_info:
            text += " " + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@contextlib.contextmanager
def capture_all_logs():
    handler = _ListHandler()
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    # The test SMTP server (aiosmtpd, in this process) logs what it receives:
    # the receiving end, not the hub's logs.
    quiet = logging.getLogger("mail.log")
    saved = [(logger, logger.level) for logger in loggers]
    quiet_level = quiet.level
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    quiet.setLevel(logging.CRITICAL)
    try:
        with CaptureQueriesContext(connection):
            yield handler.lines
    finally:
        for logger, level in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
        quiet.setLevel(quiet_level)
