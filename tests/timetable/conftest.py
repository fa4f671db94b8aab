"""Helpers of the timetable tests: the real export files and small calendars."""

import contextlib
import textwrap
from pathlib import Path

import pytest

from tests.conftest import capture_events

DATA_DIR = Path(__file__).resolve().parents[1] / "data"  # provenance: PROVENANCE.md
ICAL_DIR = DATA_DIR / "ical"
HOLIDAYS_CSV = DATA_DIR / "opendata/jours_feries_metropole.csv"
FLOP_BEFORE = ICAL_DIR / "flopedt_iut-blagnac_RT-BUT1-1C_2025-12-14T1822Z_before.ics"
FLOP_AFTER = ICAL_DIR / "flopedt_iut-blagnac_RT-BUT1-1C_2025-12-15T0629Z_after.ics"
FLOP_UID = "https://flopedt.iut-blagnac.fr"


def ics(text: str) -> bytes:
    """Return a calendar written as an indented string, with CRLF line ends."""
    lines = textwrap.dedent(text).strip("\n").splitlines()
    return ("\r\n".join(lines) + "\r\n").encode()


def calendar(*events: str, header: str = "") -> bytes:
    """Wrap VEVENT blocks (indented strings) in a VCALENDAR."""
    body = "\n".join(textwrap.dedent(e).strip("\n") for e in events)
    head = textwrap.dedent(header).strip("\n")
    return ics(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//tests//EN\n"
        + (head + "\n" if head else "")
        + body
        + "\nEND:VCALENDAR"
    )


def event(uid: str, start: str, end: str | None = "", **properties: str) -> str:
    """Return one VEVENT; ``start``/``end`` are whole DTSTART/DTEND lines' values
    (``;TZID=...:2025...`` or ``:2025...``); ``end=None`` leaves DTEND out."""
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20250901T000000Z",
        f"DTSTART{start}",
    ]
    if end is not None:
        lines.append(f"DTEND{end or start}")
    for name, value in properties.items():
        lines.append(f"{name.replace('_', '-')}:{value}")
    lines.append("END:VEVENT")
    return "\n".join(lines)


@pytest.fixture
def holidays(db):
    from core.timetable.holidays import load_holidays

    load_holidays(HOLIDAYS_CSV)


@contextlib.contextmanager
def capture_updates():
    """Collect the ``timetable.occurrence`` updates an action sends in the block.

    Checks the shape every timetable action sends: its updates, then one
    ``timetable.changes`` counting them on the same stream (its notification),
    or nothing at all. Yields the updates (filled when the block ends).
    """
    updates = []
    with capture_events() as events:
        yield updates
    if not events:
        return
    *live, notice = events
    assert notice.kind == "timetable.changes", [e.kind for e in events]
    assert [e.kind for e in live] == ["timetable.occurrence"] * len(live)
    assert notice.data["count"] == len(live) > 0
    assert {e.stream for e in live} == {notice.stream}
    updates.extend(live)
