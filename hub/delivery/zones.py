"""A user's time zone, and wall-clock times turned into instants, DST-safe.

Every delivery rule is written in the user's local wall-clock time
(Europe/Paris by default, the school's zone unless the user set another)
and turned into UTC instants with :mod:`zoneinfo`, so the nights of
2026-10-25 (25 h) and 2027-03-28 (23 h) move nothing: quiet hours still end
at 07:00 local (:mod:`hub.delivery.quiet_hours`) and the daily digest still
leaves at 18:00 local (:mod:`hub.delivery.digest_periods`).
"""

import datetime
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


def wall_clock(
    day: datetime.date, clock: datetime.time, zone: ZoneInfo
) -> datetime.datetime:
    """The aware instant of wall-clock ``clock`` on ``day`` in ``zone``.

    A wall time skipped by a spring-forward gap lands just after the gap
    (``fold=0`` then normalised through UTC), never raises.
    """
    naive = datetime.datetime.combine(day, clock)
    instant = naive.replace(tzinfo=zone).astimezone(datetime.UTC)
    return instant.astimezone(zone)
