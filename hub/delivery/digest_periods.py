"""Digest periods: which daily or weekly e-mail a notification belongs to.

A period is keyed by its local date or ISO week (the ledger's
``EmailSend.period``) and runs from the previous due time to this one, so
each notification lands in exactly one digest whatever the DST changes
(:mod:`hub.delivery.zones`).
"""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hub.delivery.models import DeliverySettings
from hub.delivery.zones import wall_clock


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
    return _period(f"daily:{local.date():%Y-%m-%d}", settings, local, zone, 1)


def weekly_period(
    settings: DeliverySettings, now: datetime.datetime, zone: ZoneInfo
) -> Period | None:
    """Return this week's digest period if its day and hour have come.

    ``key`` is ``weekly:YYYY-Www`` (ISO week of the local due date).
    """
    local = now.astimezone(zone)
    if local.weekday() != settings.weekly_day:
        return None
    year, week, _day = local.date().isocalendar()
    return _period(f"weekly:{year}-W{week:02d}", settings, local, zone, 7)


def _period(
    key: str,
    settings: DeliverySettings,
    local: datetime.datetime,
    zone: ZoneInfo,
    days: int,
) -> Period | None:
    """The period ending at today's digest hour in ``zone`` and starting
    ``days`` earlier at the same wall time; ``None`` before it is due."""
    hour = datetime.time(settings.digest_hour)
    due = wall_clock(local.date(), hour, zone)
    if local < due:
        return None
    since = wall_clock(local.date() - datetime.timedelta(days=days), hour, zone)
    return Period(key, since, due)
