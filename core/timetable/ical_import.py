"""Read an iCalendar export (RFC 5545) into lessons and dated occurrences.

This module is pure: it reads bytes and returns plain values; nothing here
touches the database (the writes live in :mod:`core.timetable.actions`).

What real exports do, and what we do with it:

- The file is UTF-8 (RFC 5545 §3.1.4), lines may be folded (§3.1) and end in
  CRLF or LF. A bare ``VEVENT`` without ``VCALENDAR`` is wrapped in one.
- Date-times are UTC (``Z``), have a ``TZID`` defined by a ``VTIMEZONE``
  (§3.2.19, §3.6.5; non-IANA names such as ``GMT +0100 (Standard) / ...`` or
  ``UTC+11`` work when the file defines them), or are floating (§3.3.5). A
  floating time is read in the calendar's ``X-WR-TIMEZONE`` (Google, flop!EDT)
  and, without one, in the feed's own zone (the org's, Europe/Paris).
- Recurring lessons (``RRULE`` §3.8.5.3, ``RDATE`` §3.8.5.2, ``EXDATE``
  §3.8.5.1) are expanded with ``recurring-ical-events`` over a window; an
  instance overridden by a ``VEVENT`` with ``RECURRENCE-ID`` (§3.8.4.4) takes
  the override, wherever it stands in the file.
- ``RECURRENCE-ID;RANGE=THISANDFUTURE`` (§3.8.4.4, §3.2.13) moves the
  instance and every later one by the same offset, with the override's
  properties (room, summary): ``recurring-ical-events`` does it; we give each
  moved instance back its own recurrence key, which it leaves out.
- ``STATUS:CANCELLED`` (§3.8.1.11) marks an occurrence as cancelled.
- An event that ends before it starts (``DTEND`` < ``DTSTART``, a negative
  ``DURATION``) is rejected: left out and reported (:class:`IcalWarning`
  with its UID and line), never swapped. A rejected override leaves its
  instance out rather than let the master's time stand in for it.
- A line after ``END:VCALENDAR`` or a property outside any component is
  skipped with a warning; a component outside the calendar (its lessons would
  be lost) or a line that is not iCalendar inside it still refuses the file.
- ``DTEND`` may be missing: ``DURATION`` (§3.8.2.5) is used, else the event
  ends when it starts (§3.6.1).
- All-day events (``DTSTART;VALUE=DATE``) are exam periods, holidays or
  reminders, not lessons: they are skipped and counted.
- A ``VEVENT`` without ``UID`` (allowed in old exports) gets a stable one made
  from its ``DTSTART`` and ``SUMMARY``, so re-imports still match it.

Teachers: flop!EDT writes their initials in ``DESCRIPTION``
(``Enseignant·e : OM``; ``None`` means no teacher) and repeats them at the end
of ``SUMMARY`` (``R114 Examen - OM``, ``- x`` when there is none), which is
stripped from the subject. ADE lists groups then teachers' full names in
``DESCRIPTION``, one a line, before ``(Exporté le:…)``. Other exports name
teachers in the ``CN`` parameter of ``ORGANIZER`` and ``ATTENDEE`` (§3.2.2),
if at all.

A file that cannot be read raises :class:`IcalImportError` naming the line;
what is skipped or rejected is listed in :attr:`ParsedCalendar.warnings`.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
import x_wr_timezone
from icalendar.prop import vRecur
from recurring_ical_events.adapters.event import EventAdapter

UTC = dt.UTC

# Field sizes of core.timetable.models (kept here so PostgreSQL never refuses).
_TEXT_MAX = 300
_UID_MAX = 500
_RRULE_MAX = 500

# Properties whose broken values make an event unusable (the rest we ignore).
_TIME_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")
_NEEDED_PROPERTIES = {*_TIME_PROPERTIES, "DURATION", "RRULE"}

# RFC 5545 §3.1: name *(";" param) ":" value; param values may be quoted.
_PARAM_VALUE = r'(?:"[^"]*"|[^";:,]*)'
_CONTENT_LINE = re.compile(
    r"(?P<name>[A-Za-z0-9-]+)"
    rf"(?:;[A-Za-z0-9-]+={_PARAM_VALUE}(?:,{_PARAM_VALUE})*)*"
    r":(?P<value>.*)",
    re.DOTALL,
)
# §3.1: control characters other than HTAB are not allowed anywhere.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NEWLINE = re.compile(r"\r\n|\r|\n")

# Internal markers copied along with each component through the expansion.
_LINE_MARK = "X-SCHOOL-HUB-LINE"
_ROLE_MARK = "X-SCHOOL-HUB-ROLE"
_REJECTED_MARK = "X-SCHOOL-HUB-REJECTED"
# On a RECURRENCE-ID;RANGE=THISANDFUTURE override: its own start (UTC) and
# how far it moves later instances (seconds), to give those back their key.
_SHIFT_START_MARK = "X-SCHOOL-HUB-SHIFT-START"
_SHIFT_MARK = "X-SCHOOL-HUB-SHIFT"

_FLOP_TEACHER = re.compile(r"^\s*Enseignant\S*\s*:\s*(?P<codes>.*?)\s*$", re.M | re.I)
_NO_TEACHER = {"", "none", "x", "-"}
# ADE (Adesoft) ends DESCRIPTION with the export time, in French or English.
_ADE_EXPORTED = re.compile(r"^\((?:Export[ée]\s+le|Exported)\s*:", re.I)
# Two to five words of letters, joined by spaces, hyphens or apostrophes.
_PERSON_NAME = re.compile(r"[^\W\d_]+(?:(?:[ '’-]|\. ?)[^\W\d_]+){1,4}\.?")
_SUMMARY_SUFFIX = re.compile(r"^(?P<subject>.*\S)\s+-\s+(?P<code>\S+)\s*$", re.DOTALL)


class IcalImportError(ValueError):
    """An iCalendar file that cannot be imported.

    ``line`` is the 1-based physical line of the file where the problem is
    (for a problem with a whole event, the line of its ``BEGIN:VEVENT``);
    ``message`` says what is wrong. ``str(error)`` is ``"line N: message"``.
    """

    def __init__(self, message: str, *, line: int):
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}")


@dataclass(frozen=True, slots=True)
class IcalWarning:
    """Something of the file left out without refusing the whole file.

    ``line`` is the 1-based physical line (for an event, the line of the
    property at fault); ``uid`` names the event when there is one.
    ``str(warning)`` is ``"line N: message"``.
    """

    line: int
    message: str
    uid: str = ""

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class ParsedOccurrence:
    """One dated instance of a lesson, as the file describes it now.

    ``start`` and ``end`` are aware datetimes in UTC. ``recurrence_key`` is the
    RECURRENCE-ID (or, for an RRULE instance, its original start) in UTC as
    ``YYYYMMDDTHHMMSSZ``, or ``""`` for a non-recurring VEVENT; with ``uid`` it
    identifies the occurrence across imports. ``teacher_codes`` are the names
    or initials the file gives (matched against ``User.timetable_code``).
    ``line`` is the line of the VEVENT it comes from.
    """

    uid: str
    recurrence_key: str
    start: dt.datetime
    end: dt.datetime
    subject: str
    room: str
    teacher_codes: tuple[str, ...]
    cancelled: bool
    line: int

    @property
    def teacher_names(self) -> str:
        """Return the teachers as stored: names joined with ``", "``."""
        return ", ".join(self.teacher_codes)[:_TEXT_MAX]


@dataclass(frozen=True, slots=True)
class ParsedLesson:
    """A VEVENT master (or, without one, its first override) by ``uid``."""

    uid: str
    subject: str
    room: str
    teacher_names: str
    rrule: str
    line: int


@dataclass(slots=True)
class ParsedCalendar:
    """What :func:`parse_calendar` found inside the window.

    ``occurrences`` are sorted by start, unique by ``(uid, recurrence_key)``;
    ``lessons`` holds one entry per UID that has occurrences in the window.
    ``skipped_all_day`` counts all-day VEVENTs left out (not occurrences).
    ``warnings`` lists what was skipped or rejected, in file order.
    ``rejected`` counts the VEVENTs rejected (an end before the start); their
    instances are left out and must be left alone by a re-import: every
    instance of ``rejected_uids`` (a rejected master or single event), and the
    ``(uid, recurrence_key)`` pairs of ``rejected_keys`` (a rejected override).
    """

    lessons: dict[str, ParsedLesson] = field(default_factory=dict)
    occurrences: list[ParsedOccurrence] = field(default_factory=list)
    skipped_all_day: int = 0
    warnings: list[IcalWarning] = field(default_factory=list)
    rejected: int = 0
    rejected_uids: set[str] = field(default_factory=set)
    rejected_keys: set[tuple[str, str]] = field(default_factory=set)

    def is_rejected(self, uid: str, recurrence_key: str) -> bool:
        """Whether the instance ``(uid, recurrence_key)`` was rejected."""
        return uid in self.rejected_uids or (uid, recurrence_key) in self.rejected_keys


@dataclass(slots=True)
class _EventLines:
    """Where one VEVENT and its properties stand in the file."""

    begin: int
    properties: dict[str, int] = field(default_factory=dict)

    def of(self, name: str | None) -> int:
        return self.properties.get((name or "").upper(), self.begin)


@dataclass(slots=True)
class _Layout:
    """The line numbers the structural scan recorded."""

    events: list[_EventLines]
    calendar_properties: dict[str, int]
    bare: bool
    last_line: int
    skipped: set[int] = field(default_factory=set)
    warnings: list[IcalWarning] = field(default_factory=list)


def parse_calendar(
    data: bytes,
    *,
    start: dt.datetime,
    end: dt.datetime,
    default_tz: str = "Europe/Paris",
) -> ParsedCalendar:
    """Return the lessons and occurrences of the export ``data`` in a window.

    ``data`` is the raw file. ``start`` and ``end`` are aware datetimes: an
    occurrence is kept when ``start <= its start < end``. ``default_tz`` (an
    IANA name) applies to floating times when the calendar has no
    ``X-WR-TIMEZONE``.

    Raises :class:`IcalImportError` (with the line) for a file that is empty,
    not UTF-8, binary, truncated (a component never closed), not made of
    content lines, or whose events have unreadable times, unknown time zones
    or broken recurrence rules.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    text = _decode(data)
    layout = _scan(text)
    calendar = _parse(text, layout)
    # Any, as in the helpers below: icalendar types a property as the union
    # of every value type, and _check_event made sure the times are readable.
    events: list[Any] = calendar.walk("VEVENT")
    if len(events) != len(layout.events):  # never seen; keep lines usable anyway
        layout.events = [_EventLines(begin=1) for _ in events]

    result = ParsedCalendar(warnings=list(layout.warnings))
    series_uids: set[str] = set()
    rrules: dict[str, str] = {}
    kept = []
    for event, lines in zip(events, layout.events, strict=True):
        _check_event(event, lines)
        if not isinstance(event["DTSTART"].dt, dt.datetime):
            result.skipped_all_day += 1
            continue
        uid = _uid(event)
        event["UID"] = uid
        event[_LINE_MARK] = str(lines.begin)
        is_override = "RECURRENCE-ID" in event
        problem = _ends_before_start(event, default_tz)
        if problem:
            # Reported and left out; the expansion sees it end at its start
            # (so it still stands in for its instance) and drops it after.
            name, message = problem
            result.warnings.append(
                IcalWarning(
                    line=lines.of(name),
                    message=f"event {uid!r} rejected: {message}",
                    uid=uid,
                )
            )
            result.rejected += 1
            event.pop("DURATION", None)
            event["DTEND"] = event["DTSTART"]
            event[_REJECTED_MARK] = "1"
            if not is_override:
                result.rejected_uids.add(uid)
        event[_ROLE_MARK] = "override" if is_override else "master"
        if not is_override and ("RRULE" in event or "RDATE" in event):
            series_uids.add(uid)
            rrules[uid] = _rrule_text(event.get("RRULE"))
        elif not is_override and not _near(event["DTSTART"].dt, start, end):
            continue  # a single event far outside the window: spare the expansion
        kept.append(event)
    calendar.subcomponents = [
        c for c in calendar.subcomponents if c.name != "VEVENT"
    ] + kept

    calendar = _resolve_floating_times(calendar, layout, default_tz)
    _mark_future_shifts(calendar)
    components = _expand(calendar, start, end, layout)

    found: dict[tuple[str, str], tuple[int, ParsedOccurrence]] = {}
    sources: dict[str, object] = {}
    for component in components:
        occurrence = _occurrence(component, series_uids, default_tz)
        if not start <= occurrence.start < end:
            continue
        if occurrence.uid in result.rejected_uids:
            continue
        if _REJECTED_MARK in component:
            result.rejected_keys.add((occurrence.uid, occurrence.recurrence_key))
            continue
        key = (occurrence.uid, occurrence.recurrence_key)
        rank = _sequence(component)
        # recurring-ical-events yields one component per UID and RECURRENCE-ID;
        # should two ever share a key, keep the higher SEQUENCE (§3.8.7.4)
        # rather than break the (lesson, recurrence_key) unique constraint.
        if key not in found or rank >= found[key][0]:
            found[key] = (rank, occurrence)
        # The lesson is described by its master; an override only stands in.
        if occurrence.uid not in sources or str(component.get(_ROLE_MARK)) == "master":
            sources[occurrence.uid] = component

    result.occurrences = sorted(
        (occurrence for _, occurrence in found.values()),
        key=lambda o: (o.start, o.uid, o.recurrence_key),
    )
    for uid, component in sources.items():
        result.lessons[uid] = _lesson(uid, component, rrules.get(uid, ""))
    return result


def _ends_before_start(event, default_tz: str) -> tuple[str, str] | None:
    """Return (property, message) when the event ends before it starts."""
    begin = event["DTSTART"].dt
    if "DTEND" in event:
        finish = event["DTEND"].dt
        if not isinstance(finish, dt.datetime):
            return None  # a DATE end on a timed start: icalendar reads it as is
        zone = ZoneInfo(default_tz)
        if (finish.tzinfo is None) != (begin.tzinfo is None):
            begin, finish = (
                m if m.tzinfo else m.replace(tzinfo=zone) for m in (begin, finish)
            )
        if finish < begin:
            return (
                "DTEND",
                f"DTEND {finish:%Y-%m-%d %H:%M} is before DTSTART {begin:%Y-%m-%d %H:%M}",
            )
    elif "DURATION" in event:
        duration = event["DURATION"].dt
        if isinstance(duration, dt.timedelta) and duration < dt.timedelta(0):
            return (
                "DURATION",
                f"negative DURATION {event['DURATION'].to_ical().decode()}",
            )
    return None


def _mark_future_shifts(calendar) -> None:
    """Mark each RANGE=THISANDFUTURE override with the shift it applies.

    ``recurring-ical-events`` moves the later instances and gives them the
    override's properties (RFC 5545 §3.8.4.4), but leaves on them the
    override's RECURRENCE-ID (its issue #222): the marks let
    :func:`_occurrence` give each instance its own recurrence key back.
    """
    for component in calendar.walk("VEVENT"):
        rid = component.get("RECURRENCE-ID")
        if rid is None or str(rid.params.get("RANGE", "")).upper() != "THISANDFUTURE":
            continue
        rid.params["RANGE"] = "THISANDFUTURE"  # the library compares it as is
        shift = EventAdapter(component).move_recurrences_by
        component[_SHIFT_MARK] = str(int(shift.total_seconds()))
        component[_SHIFT_START_MARK] = recurrence_key(
            _utc(component["DTSTART"].dt, "UTC")
        )


def _near(moment: dt.datetime, start: dt.datetime, end: dt.datetime) -> bool:
    """Whether a single event's start may fall in the window (a day's margin
    covers any zone, floating or not)."""
    margin = dt.timedelta(days=2)
    return (start - margin).date() <= moment.date() <= (end + margin).date()


def _decode(data: bytes) -> str:
    """Return ``data`` as text; raise for empty, non-UTF-8 or binary input."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if not data.strip():
        raise IcalImportError("empty file: expected BEGIN:VCALENDAR", line=1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise IcalImportError(
            f"not UTF-8 text (byte 0x{data[error.start]:02x}); RFC 5545 §3.1.4 "
            "requires UTF-8: re-export the file or convert it",
            line=line,
        ) from None
    return text


def _scan(text: str) -> _Layout:
    """Check the structure line by line; record where events and fields are.

    Catches what ``icalendar`` silently tolerates: binary data, lines that are
    not content lines (§3.1), components never closed (a truncated download)
    or closed in the wrong order.

    Tolerates, with a warning each, what real exports add around the
    calendar: any line after ``END:VCALENDAR`` that opens no component (a
    second ``END:VCALENDAR``, a proxy's trailer) and a property outside any
    component (``X-...`` before ``BEGIN:VCALENDAR``). Those lines are left
    out of what ``icalendar`` reads (``_Layout.skipped``).
    """
    physical = _NEWLINE.split(text)
    logical: list[tuple[int, int, str]] = []  # first line, last line, text
    for number, line in enumerate(physical, start=1):
        bad = _CONTROL.search(line)
        if bad:
            raise IcalImportError(
                f"control character 0x{ord(bad.group()):02x} (binary data?)",
                line=number,
            )
        if line[:1] in (" ", "\t"):
            if not logical:
                raise IcalImportError("continuation line at start of file", line=number)
            first, _, previous = logical[-1]
            logical[-1] = (first, number, previous + line[1:])
        else:
            logical.append((number, number, line))

    stack: list[tuple[str, int]] = []
    top: list[tuple[str, int]] = []
    events: list[_EventLines] = []
    calendar_properties: dict[str, int] = {}
    skipped: set[int] = set()
    warnings: list[IcalWarning] = []
    calendar_closed = False  # END:VCALENDAR seen at the top level
    last_line = 1

    def skip(first: int, last: int, message: str) -> None:
        skipped.update(range(first, last + 1))
        warnings.append(IcalWarning(line=first, message=message))

    for number, last, line in logical:
        if not line.strip():
            continue
        match = _CONTENT_LINE.fullmatch(line)
        shown = line if len(line) <= 60 else line[:57] + "..."
        name = match["name"].upper() if match else ""
        if calendar_closed and not stack and name != "BEGIN":
            skip(number, last, f"line after END:VCALENDAR ignored: {shown!r}")
            continue
        last_line = number
        if not match:
            raise IcalImportError(
                f"not an iCalendar content line: {shown!r}", line=number
            )
        value = match["value"].strip().upper()
        if name == "BEGIN":
            if not re.fullmatch(r"[A-Z0-9-]+", value):
                raise IcalImportError(f"bad component name {value!r}", line=number)
            if value == "VEVENT" and stack and stack[-1][0] != "VCALENDAR":
                raise IcalImportError(
                    f"VEVENT inside {stack[-1][0]} of line {stack[-1][1]}", line=number
                )
            if not stack:
                top.append((value, number))
            stack.append((value, number))
            if value == "VEVENT":
                events.append(_EventLines(begin=number))
        elif name == "END":
            if not stack:
                raise IcalImportError(f"END:{value} without BEGIN", line=number)
            if stack[-1][0] != value:
                raise IcalImportError(
                    f"END:{value} does not close BEGIN:{stack[-1][0]} "
                    f"of line {stack[-1][1]}",
                    line=number,
                )
            stack.pop()
            calendar_closed = calendar_closed or (not stack and value == "VCALENDAR")
        elif not stack:
            skip(number, last, f"property {name} outside any component ignored")
        elif stack[-1][0] == "VEVENT":
            events[-1].properties.setdefault(name, number)
        elif stack[-1][0] == "VCALENDAR":
            calendar_properties.setdefault(name, number)
    if stack:
        name, opened = stack[-1]
        raise IcalImportError(
            f"file ends inside {name} opened at line {opened} (truncated file?)",
            line=last_line,
        )
    names = [name for name, _ in top]
    if names.count("VCALENDAR") > 1:
        raise IcalImportError(
            "more than one VCALENDAR", line=top[names.index("VCALENDAR", 1)][1]
        )
    if "VCALENDAR" in names and len(names) > 1:
        stray = next(t for t in top if t[0] != "VCALENDAR")
        raise IcalImportError(f"{stray[0]} outside the VCALENDAR", line=stray[1])
    if names and names[0] not in ("VCALENDAR", "VEVENT", "VTIMEZONE"):
        raise IcalImportError(
            f"not an iCalendar file (BEGIN:{names[0]})", line=top[0][1]
        )
    if not events and "VCALENDAR" not in names:
        raise IcalImportError("no BEGIN:VCALENDAR or BEGIN:VEVENT", line=1)
    return _Layout(
        events=events,
        calendar_properties=calendar_properties,
        bare="VCALENDAR" not in names,
        last_line=last_line,
        skipped=skipped,
        warnings=warnings,
    )


def _parse(text: str, layout: _Layout) -> icalendar.Component:
    """Parse with ``icalendar``; wrap bare components in a VCALENDAR."""
    if layout.skipped:
        text = "\r\n".join(
            line
            for number, line in enumerate(_NEWLINE.split(text), start=1)
            if number not in layout.skipped
        )
    try:
        components = icalendar.Component.from_ical(text, multiple=True)
    except (ValueError, KeyError, IndexError) as error:
        raise IcalImportError(f"unreadable iCalendar data: {error}", line=1) from None
    if not layout.bare:
        return components[0]
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//school-hub//wrapped bare VEVENT//FR")
    calendar.add("VERSION", "2.0")
    for component in components:
        calendar.add_component(component)
    return calendar


# Properties RFC 5545 §3.6.1 allows at most once per VEVENT, that the import
# reads as one value (a second DTSTART would be a list, not a time).
_ONCE_PROPERTIES = (
    "DTSTART",
    "DTEND",
    "DURATION",
    "UID",
    "RECURRENCE-ID",
    "STATUS",
    "SUMMARY",
    "LOCATION",
    "DESCRIPTION",
    "SEQUENCE",
    "DTSTAMP",
)


def _check_event(event: icalendar.Event, lines: _EventLines) -> None:
    """Repair or reject the properties the import depends on."""
    for name, message in list(event.errors):
        if name is None or name.upper() not in _NEEDED_PROPERTIES:
            continue  # a broken DESCRIPTION or X- property does not stop a lesson
        if name.upper() == "RRULE" and _repair_rrule(event):
            continue
        raise IcalImportError(f"{name}: {message}", line=lines.of(name))
    if "DTSTART" not in event:
        raise IcalImportError(
            "VEVENT without DTSTART (RFC 5545 §3.6.1)", line=lines.begin
        )
    for name in _ONCE_PROPERTIES:
        if isinstance(event.get(name), list):
            raise IcalImportError(
                f"{name} appears more than once in one VEVENT "
                "(RFC 5545 §3.6.1: at most once)",
                line=lines.of(name),
            )
    for name in _TIME_PROPERTIES:
        for value in _time_values(event.get(name)):
            tzid = value.params.get("TZID")
            moment = value.dt
            if isinstance(moment, tuple):  # RDATE period
                moment = moment[0]
            if tzid and isinstance(moment, dt.datetime) and moment.tzinfo is None:
                raise IcalImportError(
                    f"{name}: unknown time zone {tzid!r} (no VTIMEZONE defines it)",
                    line=lines.of(name),
                )


def _time_values(prop) -> list:
    """Return the vDDDTypes values of a DTSTART/EXDATE/RDATE-like property."""
    if prop is None:
        return []
    values: list = []
    for item in prop if isinstance(prop, list) else [prop]:
        values.extend(getattr(item, "dts", None) or [item])
    return [v for v in values if hasattr(v, "dt") and hasattr(v, "params")]


def _repair_rrule(event: icalendar.Event) -> bool:
    """Re-read an RRULE broken by spaces (Exchange: ``BYDAY=MO, TU``)."""
    raw = event["RRULE"]
    values = raw if isinstance(raw, list) else [raw]
    repaired = []
    try:
        for value in values:
            if isinstance(value, vRecur):
                repaired.append(value)
            else:
                repaired.append(vRecur.from_ical(re.sub(r"\s+", "", str(value))))
    except ValueError:
        return False
    event["RRULE"] = repaired if len(repaired) > 1 else repaired[0]
    return True


def _uid(event: Any) -> str:
    """Return the UID, or a stable one for an event without (hashed if long)."""
    uid = str(event.get("UID", "")).strip()
    if not uid:
        seed = f"{event['DTSTART'].to_ical().decode()}|{event.get('SUMMARY', '')}"
        return "no-uid-" + hashlib.sha256(seed.encode()).hexdigest()[:32]
    if len(uid) > _UID_MAX:
        return "sha256-" + hashlib.sha256(uid.encode()).hexdigest()
    return uid


def _resolve_floating_times(
    calendar: icalendar.Component, layout: _Layout, default_tz: str
) -> icalendar.Component:
    """Give floating times a zone: X-WR-TIMEZONE, else the feed's zone.

    The ``x-wr-timezone`` package does it (and moves UTC times into the
    ``X-WR-TIMEZONE`` zone, same instant); we check the name first. It drops
    the ``RANGE`` parameter of RECURRENCE-ID (it rebuilds the value from its
    date-time alone), which we put back.
    """
    name = str(calendar.get("X-WR-TIMEZONE", "")).strip().strip('"')
    if name:
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise IcalImportError(
                f"X-WR-TIMEZONE: unknown time zone {name!r}",
                line=layout.calendar_properties.get("X-WR-TIMEZONE", 1),
            ) from None
        calendar["X-WR-TIMEZONE"] = name
    else:
        zone = ZoneInfo(default_tz)
    ranges = [
        str(rid.params.get("RANGE", "")) if rid is not None else ""
        for rid in (event.get("RECURRENCE-ID") for event in calendar.walk("VEVENT"))
    ]
    calendar = x_wr_timezone.to_standard(calendar, timezone=zone)
    for event, range_ in zip(calendar.walk("VEVENT"), ranges, strict=True):
        rid = event.get("RECURRENCE-ID")
        if range_ and rid is not None and "RANGE" not in rid.params:
            rid.params["RANGE"] = range_
    return calendar


def _expand(calendar, start, end, layout: _Layout) -> list:
    """Return one component per occurrence between ``start`` and ``end``.

    On failure, expand each UID alone to name the event that breaks it.
    """
    try:
        return recurring_ical_events.of(calendar).between(start, end)
    except Exception as error:  # third-party code fed untrusted input
        by_uid = defaultdict(list)
        for component in calendar.walk("VEVENT"):
            by_uid[str(component["UID"])].append(component)
        for components in by_uid.values():
            alone = icalendar.Calendar()
            for component in components:
                alone.add_component(component)
            try:
                recurring_ical_events.of(alone).between(start, end)
            except Exception as single:
                line = int(str(components[0][_LINE_MARK]))
                lines = next((e for e in layout.events if e.begin == line), None)
                if "RRULE" in str(single) and lines is not None:
                    line = lines.of("RRULE")
                raise IcalImportError(
                    f"cannot expand event: {single}", line=line
                ) from None
        raise IcalImportError(f"cannot expand events: {error}", line=1) from None


def _utc(moment: dt.datetime, default_tz: str) -> dt.datetime:
    if moment.tzinfo is None:  # should not happen after _resolve_floating_times
        moment = moment.replace(tzinfo=ZoneInfo(default_tz))
    return moment.astimezone(UTC)


def recurrence_key(moment: dt.datetime) -> str:
    """Return the UTC ``YYYYMMDDTHHMMSSZ`` form of an aware datetime."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _occurrence(component, series_uids: set[str], default_tz: str) -> ParsedOccurrence:
    uid = str(component["UID"])
    start = _utc(component["DTSTART"].dt, default_tz)
    end_prop = component.get("DTEND")
    end = _utc(end_prop.dt, default_tz) if end_prop is not None else start
    role = str(component.get(_ROLE_MARK))
    key = ""
    if role == "override" or uid in series_uids:
        rid = component["RECURRENCE-ID"].dt
        if _SHIFT_MARK in component and recurrence_key(start) != str(
            component[_SHIFT_START_MARK]
        ):
            # A later instance moved by a THISANDFUTURE override: it carries
            # the override's RECURRENCE-ID; its own is its start less the shift
            # (the same wall-clock arithmetic the expansion did).
            shift = dt.timedelta(seconds=int(str(component[_SHIFT_MARK])))
            rid = component["DTSTART"].dt - shift
        if isinstance(rid, dt.datetime):
            key = recurrence_key(_utc(rid, default_tz))
        else:  # a DATE RECURRENCE-ID on a timed series: rare, keep it distinct
            key = rid.strftime("%Y%m%d")
    codes, flop = _teachers(component)
    return ParsedOccurrence(
        uid=uid,
        recurrence_key=key,
        start=start,
        end=end,
        subject=_subject(component, codes, flop),
        room=_text(component, "LOCATION"),
        teacher_codes=codes,
        cancelled=str(component.get("STATUS", "")).strip().upper() == "CANCELLED",
        line=int(str(component.get(_LINE_MARK, "1"))),
    )


def _lesson(uid: str, component, rrule: str) -> ParsedLesson:
    codes, flop = _teachers(component)
    return ParsedLesson(
        uid=uid,
        subject=_subject(component, codes, flop),
        room=_text(component, "LOCATION"),
        teacher_names=", ".join(codes)[:_TEXT_MAX],
        rrule=rrule,
        line=int(str(component.get(_LINE_MARK, "1"))),
    )


def _rrule_text(rrule) -> str:
    if isinstance(rrule, list):
        rrule = rrule[0] if rrule else None
    return rrule.to_ical().decode()[:_RRULE_MAX] if rrule is not None else ""


def _text(component, name: str) -> str:
    value = component.get(name)
    if isinstance(value, list):
        value = value[0] if value else ""
    return " ".join(str(value or "").split())[:_TEXT_MAX]


def _teachers(component) -> tuple[tuple[str, ...], bool]:
    """Return (teacher names or initials, whether the flop!EDT form was found)."""
    description = str(component.get("DESCRIPTION", ""))
    match = _FLOP_TEACHER.search(description)
    if match:
        codes = [c for c in re.split(r"[,/;]\s*|\s+", match["codes"]) if c]
        return tuple(c for c in codes if c.lower() not in _NO_TEACHER), True
    ade = _ade_teachers(description)
    if ade is not None:
        return ade, False
    names: list[str] = []
    for name in ("ORGANIZER", "ATTENDEE"):
        values = component.get(name)
        for value in values if isinstance(values, list) else [values]:
            cn = str(getattr(value, "params", {}).get("CN", "")).strip().strip('"')
            if cn and cn not in names:
                names.append(cn)
    return tuple(names), False


def _ade_teachers(description: str) -> tuple[str, ...] | None:
    """Return the teacher names of an ADE DESCRIPTION, or ``None`` if not ADE.

    ADE lists the event's resources one a line, groups first, then teachers,
    and ends with ``(Exporté le:09/06/2016 17:50)``. The teachers are the
    trailing run of lines shaped like a name (words of letters: ``DUPONT
    Jean``, ``Jean-Pierre LE GALL``), never the first line, which is a group
    (an export is a group's timetable). A group named like a person after
    another group would be taken for a teacher: such a name links no one.
    """
    lines = [" ".join(line.split()) for line in description.splitlines()]
    lines = [line for line in lines if line]
    if not lines or not _ADE_EXPORTED.match(lines[-1]):
        return None
    resources = lines[:-1]
    names: list[str] = []
    for line in reversed(resources[1:]):
        if not _PERSON_NAME.fullmatch(line):
            break
        names.insert(0, line)
    return tuple(names)


def _subject(component, codes: tuple[str, ...], flop: bool) -> str:
    summary = _text(component, "SUMMARY")
    if flop:
        match = _SUMMARY_SUFFIX.match(summary)
        if match:
            code = match["code"].lower()
            if code in {c.lower() for c in codes} or (
                not codes and code in _NO_TEACHER
            ):
                summary = match["subject"]
    return summary or "(sans titre)"


def _sequence(component) -> int:
    try:
        return int(component.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        return 0
