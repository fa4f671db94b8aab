"""Quiet hours: whether a push may ring now and, if not, when it may.

Nights (``quiet_start`` to ``quiet_end``, crossing midnight or not) and,
optionally, whole weekends, in the user's local time
(:mod:`hub.delivery.zones`): a push planned inside them is held until they
end (:func:`hub.delivery.push_deliveries.release_held`).
"""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hub.delivery.models import DeliverySettings
from hub.delivery.zones import wall_clock


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
            return QuietWindow(
                True, wall_clock(monday, end, zone).astimezone(datetime.UTC)
            )
    if start == end:
        return QuietWindow(False)
    clock = local.time()
    if start < end:  # a window inside one day, e.g. 12:00-14:00
        if start <= clock < end:
            return QuietWindow(
                True, wall_clock(today, end, zone).astimezone(datetime.UTC)
            )
        return QuietWindow(False)
    if clock >= start:
        ends = wall_clock(today + datetime.timedelta(days=1), end, zone)
    elif clock < end:
        ends = wall_clock(today, end, zone)
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
        return wall_clock(day, settings.quiet_end, zone).astimezone(datetime.UTC)
    if local.time() < settings.quiet_end:
        return wall_clock(local.date(), settings.quiet_end, zone).astimezone(
            datetime.UTC
        )
    return now
