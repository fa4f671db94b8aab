"""Quiet hours and digest periods in the user's zone, across DST nights.

Europe/Paris leaves summer time on 2026-10-25 (03:00 CEST → 02:00 CET: a 25 h
day) and enters it on 2027-03-28 (02:00 CET → 03:00 CEST: a 23 h day).
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from hub.delivery import digest_periods, quiet_hours, zones
from hub.delivery.models import DeliverySettings

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC


def at(*args, zone=PARIS):
    return dt.datetime(*args, tzinfo=zone)


def default(**fields):
    return DeliverySettings(**fields)


@pytest.mark.parametrize(
    ("now", "ends"),
    [
        # Saturday 24 Oct 2026, 22:00 CEST: the night ends at 07:00 CET, i.e. 06:00 UTC.
        (at(2026, 10, 24, 22, 0), at(2026, 10, 25, 6, 0, zone=UTC)),
        # The repeated hour: 02:30 happens twice; both are in the night.
        (at(2026, 10, 25, 0, 30, zone=UTC), at(2026, 10, 25, 6, 0, zone=UTC)),
        (at(2026, 10, 25, 1, 30, zone=UTC), at(2026, 10, 25, 6, 0, zone=UTC)),
        # Saturday 27 Mar 2027, 23:00 CET: the night ends at 07:00 CEST = 05:00 UTC.
        (at(2027, 3, 27, 23, 0), at(2027, 3, 28, 5, 0, zone=UTC)),
        # 03:30 CEST, just after the skipped hour.
        (at(2027, 3, 28, 1, 30, zone=UTC), at(2027, 3, 28, 5, 0, zone=UTC)),
    ],
)
def test_quiet_hours_end_at_seven_local_on_dst_nights(now, ends):
    window = quiet_hours.quiet_window(default(), now, PARIS)
    assert window.quiet
    assert window.ends_at == ends


@pytest.mark.parametrize(
    "now",
    [at(2026, 10, 25, 7, 0), at(2026, 10, 25, 19, 59), at(2027, 3, 28, 7, 0)],
)
def test_the_day_is_not_quiet_on_dst_days(now):
    assert not quiet_hours.quiet_window(default(), now, PARIS).quiet


def test_a_night_that_starts_at_an_hour_skipped_by_dst_still_starts():
    # 02:30 does not exist on 2027-03-28 in Paris; a night 02:30-06:00 is on
    # from 03:00 CEST (01:00 UTC).
    settings = default(quiet_start=dt.time(2, 30), quiet_end=dt.time(6, 0))
    assert quiet_hours.quiet_window(
        settings, at(2027, 3, 28, 1, 5, zone=UTC), PARIS
    ).quiet
    assert not quiet_hours.quiet_window(
        settings, at(2027, 3, 28, 0, 55, zone=UTC), PARIS
    ).quiet


def test_quiet_weekends_run_from_friday_night_to_monday_morning():
    settings = default(quiet_weekends=True)
    friday_night = at(2026, 11, 27, 21, 0)
    window = quiet_hours.quiet_window(settings, friday_night, PARIS)
    assert window.quiet
    assert window.ends_at == at(2026, 11, 30, 7, 0).astimezone(UTC)
    saturday_noon = quiet_hours.quiet_window(settings, at(2026, 11, 28, 12, 0), PARIS)
    assert saturday_noon.ends_at == at(2026, 11, 30, 7, 0).astimezone(UTC)
    assert not quiet_hours.quiet_window(default(), at(2026, 11, 28, 12, 0), PARIS).quiet


def test_quiet_hours_off_and_a_day_window():
    assert not quiet_hours.quiet_window(
        default(quiet_enabled=False), at(2026, 1, 1, 23), PARIS
    ).quiet
    lunch = default(quiet_start=dt.time(12), quiet_end=dt.time(14))
    assert quiet_hours.quiet_window(lunch, at(2026, 1, 5, 13), PARIS).ends_at == at(
        2026, 1, 5, 14
    ).astimezone(UTC)
    assert not quiet_hours.quiet_window(lunch, at(2026, 1, 5, 23), PARIS).quiet


def test_another_zone_has_its_own_night():
    reunion = ZoneInfo("Indian/Reunion")  # UTC+4, no DST
    # 17:30 in Paris (winter) is 20:30 in Réunion: night there.
    window = quiet_hours.quiet_window(default(), at(2026, 1, 19, 17, 30), reunion)
    assert window.quiet
    assert window.ends_at == at(2026, 1, 20, 3, 0, zone=UTC)


@pytest.mark.parametrize(
    ("now", "key", "due"),
    [
        (
            at(2026, 10, 25, 18, 0),
            "daily:2026-10-25",
            at(2026, 10, 25, 17, 0, zone=UTC),
        ),
        (
            at(2026, 10, 24, 18, 30),
            "daily:2026-10-24",
            at(2026, 10, 24, 16, 0, zone=UTC),
        ),
        (at(2027, 3, 28, 18, 1), "daily:2027-03-28", at(2027, 3, 28, 16, 0, zone=UTC)),
    ],
)
def test_the_daily_digest_leaves_at_18h_local_on_dst_days(now, key, due):
    period = digest_periods.daily_period(default(), now, PARIS)
    assert period.key == key
    assert period.due == due
    # The day before DST ends lasts 24 h; the DST day itself 25 h (or 23 h).
    hours = (period.due - period.since).total_seconds() / 3600
    assert hours in {23, 24, 25}


def test_no_digest_before_its_hour():
    assert (
        digest_periods.daily_period(default(), at(2026, 10, 25, 17, 59), PARIS) is None
    )
    assert digest_periods.daily_period(
        default(digest_hour=7), at(2026, 10, 25, 7, 0), PARIS
    )


def test_the_weekly_digest_is_on_friday_at_the_digest_hour():
    settings = default()
    assert (
        digest_periods.weekly_period(settings, at(2026, 11, 26, 19, 0), PARIS) is None
    )  # Thursday
    assert (
        digest_periods.weekly_period(settings, at(2026, 11, 27, 17, 0), PARIS) is None
    )
    period = digest_periods.weekly_period(settings, at(2026, 11, 27, 18, 0), PARIS)
    assert period.key == "weekly:2026-W48"
    assert (period.due - period.since) == dt.timedelta(days=7)


def test_a_silent_message_waits_for_the_morning():
    settings = default(quiet_enabled=False)
    assert quiet_hours.next_morning(settings, at(2026, 1, 19, 22, 0), PARIS) == at(
        2026, 1, 20, 6, 0, zone=UTC
    )
    assert quiet_hours.next_morning(settings, at(2026, 1, 20, 5, 0), PARIS) == at(
        2026, 1, 20, 6, 0, zone=UTC
    )
    noon = at(2026, 1, 20, 12, 0)
    assert quiet_hours.next_morning(settings, noon, PARIS) == noon


def test_an_unknown_zone_falls_back_to_the_school_then_paris():
    assert zones.zone_of(default(time_zone="Mars/Olympus")) == PARIS
    assert zones.zone_of(default(), "America/Cayenne") == ZoneInfo("America/Cayenne")
