"""Fixtures of the delivery tests.

- ``push_endpoint``: a local RFC 8030 push service (``tests/delivery/push_endpoint.py``),
  started for the test and stopped after it.
- ``smtp_server``: a real SMTP server (aiosmtpd, ``tests/delivery/smtp_server.py``)
  storing what it accepts, with fault modes; started for the test, stopped after.
"""

import pytest

from tests.delivery.push_endpoint import PushEndpoint
from tests.delivery.smtp_server import SmtpTestServer
from tests.hub.conftest import hub_settings, sockets  # noqa: F401 (fixtures)


@pytest.fixture
def push_endpoint():
    """A running :class:`PushEndpoint` on 127.0.0.1 (``subscribe``, ``answer``, ``records``)."""
    with PushEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def smtp_server():
    """A running :class:`SmtpTestServer` (``messages``, ``connections``, ``faults``)."""
    server = SmtpTestServer().start()
    try:
        yield server
    finally:
        server.stop()
