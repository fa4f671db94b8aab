"""Log lines: what each carries and how it is written (docs/operations.md).

Every line has its time, level, logger, message, and the request it belongs
to: ``request_id`` (an HTTP request, a socket, a background task) and
``user_id`` (when someone is logged in). Both live in context variables, so
they follow the work into threads (``sync_to_async``), socket handlers and
tasks without being passed around; :class:`ContextFilter` copies them onto
each record.

Two formats (``LOG_FORMAT``): ``json``, one JSON object per line for a
log collector (python-json-logger), the default without ``DEBUG``; and
``text``, a readable line, coloured on a terminal, the default of ``make
run``. A JSON line holds the named fields only: the extras a library
attaches to a record (Django's request object, with its path and headers)
never reach it. Messages themselves never carry message contents,
passwords, tokens, session keys or e-mail bodies (docs/operations.md).
"""

import contextvars
import logging

from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "user_id", default=None
)

# The fields of a JSON line, in this order; nothing else is written.
FIELDS = ("time", "level", "logger", "message", "request_id", "user_id")


class ContextFilter(logging.Filter):
    """Copy the current request id and user id onto each record, and put
    the URL pattern in place of a request's path in Django's own lines
    ("Not Found: /calendar/<str:token>.ics"): paths hold tokens and ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.user_id = user_id.get()
        request = getattr(record, "request", None)
        path = getattr(request, "path", None)
        if path and isinstance(record.args, tuple) and path in record.args:
            match = getattr(request, "resolver_match", None)
            shown = "/" + match.route if match else "-"
            record.args = tuple(shown if arg == path else arg for arg in record.args)
        return True


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: :data:`FIELDS`, and the traceback of an
    exception (``exc_info``) when there is one."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}{request_id}{user_id}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            json_ensure_ascii=False,
        )

    def process_log_record(self, log_data: dict) -> dict:
        kept = {field: log_data.get(field) for field in FIELDS}
        for extra in ("exc_info", "stack_info"):
            if log_data.get(extra):
                kept[extra] = log_data[extra]
        return kept


# ANSI colours of the level on a terminal.
COLOURS = {
    "DEBUG": "\033[2m",
    "INFO": "\033[32m",
    "WARNING": "\033[33m",
    "ERROR": "\033[31m",
    "CRITICAL": "\033[1;31m",
}
RESET = "\033[0m"


class TextFormatter(logging.Formatter):
    """``12:04:31 INFO    hub.realtime.consumer [req 3f2a…] user 12: message``; the
    level coloured when the handler writes to a terminal."""

    def __init__(self, colour: bool = False) -> None:
        super().__init__(datefmt="%H:%M:%S")
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        level = f"{record.levelname:<8}"
        if self.colour:
            level = COLOURS.get(record.levelname, "") + level + RESET
        where = []
        request_id = getattr(record, "request_id", None)
        user_id = getattr(record, "user_id", None)
        if request_id:
            where.append(f"req {request_id}")
        if user_id is not None:
            where.append(f"user {user_id}")
        context = f" [{', '.join(where)}]" if where else ""
        line = (
            f"{self.formatTime(record, self.datefmt)} {level} {record.name}"
            f"{context}: {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class ConsoleHandler(logging.StreamHandler):
    """Standard error, formatted as ``LOG_FORMAT`` says (colours only on a
    terminal)."""

    def __init__(self, log_format: str = "json") -> None:
        super().__init__()
        if log_format == "json":
            self.setFormatter(JsonLineFormatter())
        else:
            isatty = getattr(self.stream, "isatty", lambda: False)
            self.setFormatter(TextFormatter(colour=isatty()))
        self.addFilter(ContextFilter())


def task_started(sender, task_result, **kwargs) -> None:
    """A background task runs (``db_worker``): its lines carry
    ``task:<id>`` as their request id, the id of its row in the task table."""
    request_id.set(f"task:{task_result.id}")
    user_id.set(None)


def task_finished(sender, task_result, **kwargs) -> None:
    request_id.set(None)
