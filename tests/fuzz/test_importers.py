"""Every importer under damaged files: a roster or a clear refusal, never a crash.

Real exports (AAF, SIECLE XML and CSV, OneRoster 1.1 sets and zips, iCalendar
from ADE and others) are damaged the ways files get damaged (truncated, bytes
flipped, lines dropped, doubled or swapped, random bytes inserted) or replaced
by random bytes. The importer must return its result or raise its own error
type, whose message is text for a person (no traceback, no repr).
"""

import datetime as dt
import io
import shutil
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.roster.records import UnreadableFile
from core.roster.sources import read_roster
from core.timetable.ical_import import IcalImportError, parse_calendar

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURES = Path(__file__).resolve().parents[1] / "roster" / "fixtures"

SINGLE_FILES = sorted(
    [
        *(DATA / "aaf").glob("*.xml"),
        *(DATA / "aaf").glob("*.csv"),
        *(FIXTURES / "siecle").glob("*.*"),
    ]
)
ONEROSTER_SETS = [DATA / "oneroster" / "catalyst-v1p1-full"]
ICAL_FILES = sorted((DATA / "ical").glob("*.ics"))


@st.composite
def damaged(draw, original: bytes) -> bytes:
    """``original`` damaged by one to three of the usual accidents."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["truncate", "flip", "insert", "lines", "random"]))
        if how == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif how == "flip" and data:
            for _ in range(draw(st.integers(1, 8))):
                at = draw(st.integers(0, len(data) - 1))
                data[at] = draw(st.integers(0, 255))
        elif how == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
        elif how == "lines":
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            action = draw(st.sampled_from(["drop", "double", "swap"]))
            if action == "drop":
                del lines[i]
            elif action == "double":
                lines.insert(i, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
        elif how == "random":
            data = bytearray(draw(st.binary(max_size=300)))
    return bytes(data)


def _assert_readable_message(error: Exception) -> None:
    message = str(error)
    assert message and "Traceback" not in message and "object at 0x" not in message


@pytest.mark.parametrize("source", SINGLE_FILES, ids=lambda p: p.name)
@given(data=st.data())
def test_a_damaged_roster_file_is_read_or_refused_clearly(source, data, tmp_path):
    content = data.draw(damaged(source.read_bytes()))
    path = tmp_path / source.name
    path.write_bytes(content)
    try:
        read_roster([path])
    except UnreadableFile as error:
        _assert_readable_message(error)


@pytest.mark.parametrize("source", ONEROSTER_SETS, ids=lambda p: p.name)
@given(data=st.data())
def test_a_oneroster_set_with_a_damaged_file_is_read_or_refused_clearly(
    source, data, tmp_path_factory
):
    folder = tmp_path_factory.mktemp("oneroster")
    for file in source.iterdir():
        shutil.copy(file, folder / file.name)
    victim = data.draw(st.sampled_from(sorted(p.name for p in folder.iterdir())))
    (folder / victim).write_bytes(data.draw(damaged((folder / victim).read_bytes())))
    as_zip = data.draw(st.booleans())
    paths = sorted(folder.iterdir())
    if as_zip:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in paths:
                archive.write(path, path.name)
        zipped = folder / "export.zip"
        zipped.write_bytes(data.draw(damaged(buffer.getvalue())))
        paths = [zipped]
    try:
        read_roster(paths)
    except UnreadableFile as error:
        _assert_readable_message(error)


WINDOW = {
    "start": dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
    "end": dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
}


@pytest.mark.parametrize("source", ICAL_FILES, ids=lambda p: p.name)
@given(data=st.data())
def test_a_damaged_calendar_is_read_or_refused_clearly(source, data):
    content = data.draw(damaged(source.read_bytes()))
    try:
        parse_calendar(content, **WINDOW)
    except IcalImportError as error:
        _assert_readable_message(error)


# What the fuzzing found, kept as plain tests (each failed before its fix).


def test_a_utf8_csv_with_a_bom_cut_inside_a_character_is_refused(tmp_path):
    source = FIXTURES / "siecle" / "0350001A_eleves_utf8bom.csv"
    content = source.read_bytes()
    cut = content.rindex("é".encode()) + 1  # inside the last "é"
    path = tmp_path / source.name
    path.write_bytes(content[:cut])
    with pytest.raises(UnreadableFile, match="UTF-8"):
        read_roster([path])


def test_a_zip_whose_entry_offset_points_nowhere_is_refused(tmp_path):
    buffer = io.BytesIO()
    folder = ONEROSTER_SETS[0]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    data = bytearray(buffer.getvalue())
    # The central directory's first entry: its local header offset (at +42)
    # moved far past the end of the file.
    central = data.index(b"PK\x01\x02")
    data[central + 42 : central + 46] = (2**31 - 1).to_bytes(4, "little")
    path = tmp_path / "export.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(UnreadableFile, match="zip"):
        read_roster([path])


def test_an_event_with_two_dtstart_lines_is_refused_with_its_line():
    calendar = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\n"
        b"UID:a\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T080000Z\r\n"
        b"DTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\nSUMMARY:Maths\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with pytest.raises(IcalImportError, match="DTSTART appears more than once"):
        parse_calendar(calendar, **WINDOW)
