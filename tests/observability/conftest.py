"""Fixtures of the observability tests: the log lines as the production
handler writes them."""

import io
import json
import logging

import pytest

from core.logs import ConsoleHandler
from tests.hub.conftest import hub_settings, sockets  # noqa: F401 (fixtures)


class Lines:
    """What a JSON console handler on the root logger wrote."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line]


@pytest.fixture
def json_lines():
    """Every log line of the test, at DEBUG and above, in the JSON format of
    production (``LOG_FORMAT=json``)."""
    stream = io.StringIO()
    handler = ConsoleHandler("json")
    handler.setStream(stream)
    root = logging.getLogger()
    level = root.level
    # Loggers with their own level (axes, django) stay as configured; the
    # rest write everything.
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    # "django" does not propagate to the root (settings.LOGGING).
    django_logger = logging.getLogger("django")
    django_logger.addHandler(handler)
    try:
        yield Lines(stream)
    finally:
        root.removeHandler(handler)
        django_logger.removeHandler(handler)
        root.setLevel(level)


def sample(name: str, labels: dict | None = None) -> float:
    """The value of one sample of this process's metrics (0 if absent)."""
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels or {}) or 0.0
