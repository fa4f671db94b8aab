"""A user's clock: time zone, quiet hours and digest periods, DST-safe.

Every rule is written in the user's local wall-clock time (Europe/Paris by
default, the school's zone unless the user set another) and turned into UTC
instants with :mod:`zoneinfo`, so the nights of 2026-10-25 (25 h) and
2027-03-28 (23 h) move nothing: quiet hours still end at 07:00 local and the
daily digest still leaves at 18:00 local.
"""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.delivery.models import DeliverySettings

DEFAULT_ZONE = "Europe/Paris"


def zone_of(settings: DeliverySettings, fallback: str = DEFAULT_ZONE) -> ZoneInfo:
    """Return the user's zone: their own, else ``fallback`` (the school's)."""
    for name in (settings.time_zone, fallback, DEFAULT_ZONE):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo(DEFAULT_ZONE)


def _at(day: datetime.date, clock: datetime.time, zone: ZoneInfo) -> datetime.datetime:
    """The aware instant of wall-clock ``clock`` on ``day`` in ``zone``.

    A wall time skipped by a spring-forward gap lands just after the gap
    (``fold=0`` then normalised through UTC), never raises.
    """
    naive = datetime.datetime.combine(day, clock)
    instant = naive.replace(tzinfo=zone).astimezone(datetime.UTC)
    return instant.astimezone(zone)


@dataclass(frozen=True)
class QuietWindow:
    """Whether ``now`` is in quiet hours and, if so, when they end (aware UTC)."""

    quiet: bool
    ends_at: datetime.datetime | None = None


def quiet_window(
    settings: DeliverySettings, now: datetime.datetime, zone: ZoneInfo
) -> QuietWindow:
    """Return the quiet window holding ``now`` (aware), in the user's ``zone``.

    Nights run from ``quiet_start`` to ``quiet_end`` (crossing midnight when
    start > end); with ``quiet_weekends`` Saturday and Sunday are quiet all
    day, ending at ``quiet_end`` on Monday. ``quiet_enabled=False`` is never quiet.
    """
    if not settings.quiet_enabled:
        return QuietWindow(False)
    local = now.astimezone(zone)
    start, end = settings.quiet_start, settings.quiet_end
    today = local.date()
    if settings.quiet_weekends:
        # From Friday's start of night (or Saturday 00:00) to Monday's end.
        weekday = local.weekday()
        friday_night = weekday == 4 and local.time() >= start and start > end
        if weekday >= 5 or friday_night:
            monday = today + datetime.timedelta(days=7 - weekday)
            return QuietWindow(True, _at(monday, end, zone).astimezone(datetime.UTC))
    if start == end:
        return QuietWindow(False)
    clock = local.time()
    if start < end:  # a window inside one day, e.g. 12:00-14:00
        if start <= clock < end:
            return QuietWindow(True, _at(today, end, zone).astimezone(datetime.UTC))
        return QuietWindow(False)
    if clock >= start:
        ends = _at(today + datetime.timedelta(days=1), end, zone)
    elif clock < end:
        ends = _at(today, end, zone)
    else:
        return QuietWindow(False)
    if settings.quiet_weekends and ends.weekday() >= 5:
        return quiet_window(settings, ends + datetime.timedelta(minutes=1), zone)
    return QuietWindow(True, ends.astimezone(datetime.UTC))


def next_morning(
    settings: DeliverySettings, now: datetime.datetime, zone: ZoneInfo
) -> datetime.datetime:
    """When a "silent" message is pushed: the end of the current night.

    Inside quiet hours, their end; otherwise the next ``quiet_end`` wall
    time (07:00 by default) if ``now`` is in the evening (after 19:00 local),
    else ``now`` (a silent message sent in the day goes at once).
    """
    window = quiet_window(settings, now, zone)
    if window.quiet:
        assert window.ends_at is not None  # a quiet window has an end
        return window.ends_at
    local = now.astimezone(zone)
    if local.time() >= datetime.time(19, 0):
        day = local.date() + datetime.timedelta(days=1)
        return _at(day, settings.quiet_end, zone).astimezone(datetime.UTC)
    if local.time() < settings.quiet_end:
        return _at(local.date(), settings.quiet_end, zone).astimezone(datetime.UTC)
    return now


@dataclass(frozen=True)
class Period:
    """One digest period: ``key`` (ledger period), its start and due instant."""

    key: str
    since: datetime.datetime
    due: datetime.datetime


def daily_period(
    settings: DeliverySettings, now: datetime.datetime, zone: ZoneInfo
) -> Period | None:
    """Return today's daily digest period if its hour has come, else ``None``.

    ``key`` is ``daily:YYYY-MM-DD`` (local date); ``since`` is the previous
    day's due time, so each notification belongs to exactly one digest.
    """
    local = now.astimezone(zone)
    due = _at(local.date(), datetime.time(settings.digest_hour), zone)
    if local < due:
        return None
    since = _at(
        local.date() - datetime.timedelta(days=1),
        datetime.time(settings.digest_hour),
        zone,
    )
    return Period(f"daily:{local.date():%Y-%m-%d}", since, due)


def weekly_period(
    settings: DeliverySettings, now: datetime.datetime, zone: ZoneInfo
) -> Period | None:
    """Return this week's digest period if its day and hour have come.

    ``key`` is ``weekly:YYYY-Www`` (ISO week of the local due date).
    """
    local = now.astimezone(zone)
    if local.weekday() != settings.weekly_day:
        return None
    due = _at(local.date(), datetime.time(settings.digest_hour), zone)
    if local < due:
        return None
    since = _at(
        local.date() - datetime.timedelta(days=7),
        datetime.time(settings.digest_hour),
        zone,
    )
    year, week, _day = local.date().isocalendar()
    return Period(f"weekly:{year}-W{week:02d}", since, due)
