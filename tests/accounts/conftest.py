"""Fixtures of the accounts tests.

The personas are those of ``tests/conftest.py``; ``imported`` turns some of
them into accounts a roster import made (unusable password). ``smtp_server``
is the delivery tests' real SMTP server (aiosmtpd); ``mailer`` points the
hub's mail settings at it.
"""

import pytest
from django.core.cache import caches

from tests.delivery.conftest import smtp_server  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def clear_cache():
    """Start each test with no wrong-try counters (``throttle`` cache: with
    ``REDIS_URL`` this empties that URL's own database, and no other)."""
    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


@pytest.fixture
def imported(school):
    """Karim (guardian of Léa and Inès), Léa, Inès and Sophie (guardian of
    Hugo) as a roster import leaves them: no usable password; Karim has an
    e-mail address, Sophie none."""
    people = [school.parent, school.pupil, school.other_child, school.other_parent]
    for user in people:
        user.set_unusable_password()
        user.source = "aaf"
        user.sourced_id = f"aaf-{user.username}"
        user.save()
    school.parent.email = "karim.dubois@example.org"
    school.parent.save(update_fields=["email"])
    return school


@pytest.fixture
def mailer(settings, smtp_server):  # noqa: F811
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_START_TLS = False
    settings.SITE_URL = "https://ent.example.org"
    return smtp_server
