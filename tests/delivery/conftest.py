"""Fixtures of the delivery tests.

- ``push_endpoint``: a local RFC 8030 push service (``tests/delivery/push_endpoint.py``),
  started for the test and stopped after it.
"""

import pytest

from tests.delivery.push_endpoint import PushEndpoint


@pytest.fixture
def push_endpoint():
    """A running :class:`PushEndpoint` on 127.0.0.1 (``subscribe``, ``answer``, ``records``)."""
    with PushEndpoint() as endpoint:
        yield endpoint
