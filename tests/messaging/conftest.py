"""Fixtures of the messaging tests: files in a private media folder, and the
hub's isolated Redis channels and ``sockets`` for the consumer tests.

The personas are the school's of ``tests/conftest.py``: teacher Alice (4e B),
guardian Karim (Léa in 4e B, Inès in the other school's 5e C), guardian
Sophie (Hugo in 4e B), pupils Léa, Hugo and Chloé (3e A), CPE Paul, and
Oscar, a teacher of the other school.
"""

import pytest

from tests.hub.conftest import hub_settings, sockets  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Store attachments under the test's own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
