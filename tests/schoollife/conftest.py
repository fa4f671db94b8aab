"""Fixtures of the school-life tests: the personas' school (Karim, guardian
in both schools), a CPE of the second school, time frozen on Monday
2026-01-19 10:00 (Paris), files stored in a temporary folder."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.roster.actions import grant_school_life_staff
from core.roster.models import User
from core.schoollife import actions
from tests.conftest import make_user
from tests.delivery.conftest import push_endpoint  # noqa: F401 (fixture)

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 1, 19, 10, 0, tzinfo=PARIS)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def life(school, clock, settings, tmp_path):
    """The school, with ``other_cpe`` (school-life staff of ``other_org``)."""
    settings.MEDIA_ROOT = tmp_path
    other_cpe = make_user("olga", User.Role.ADMINISTRATOR, "Olga", "Roux")
    other_cpe.orgs.add(school.other_org)
    grant_school_life_staff(other_cpe)
    school.other_cpe = other_cpe
    return school


def publish(school, *, author=None, org=None, audience=None, **fields):
    """Publish a notice (to 4e guardians of ``org`` by default)."""
    fields.setdefault("title", "Sortie au musée")
    fields.setdefault("body", "Départ à 8 h devant le collège.")
    return actions.publish_notice(
        author=author or school.cpe,
        org=org or school.org,
        audience=audience
        if audience is not None
        else {"roles": ["guardian"], "levels": ["4e"]},
        **fields,
    )
