"""The token bucket's arithmetic (``hub.ratelimit.take``)."""

import pytest

from hub.ratelimit import take


def test_a_full_bucket_gives_its_burst_then_refuses():
    tokens, taken = 5.0, 0
    while True:
        tokens, wait = take(tokens, 0.0, burst=5, per_second=1 / 3)
        if wait:
            break
        taken += 1
    assert taken == 5
    assert tokens == 0.0
    assert wait == pytest.approx(3.0)  # one token every 3 s


def test_refill_is_proportional_to_the_time_passed_and_capped_at_the_burst():
    tokens, wait = take(0.0, 1.5, burst=5, per_second=1.0)
    assert (tokens, wait) == (pytest.approx(0.5), 0.0)
    tokens, wait = take(0.0, 3600.0, burst=5, per_second=1.0)
    assert (tokens, wait) == (4.0, 0.0)  # capped at 5, one taken


def test_a_refusal_says_how_long_until_a_whole_token():
    tokens, wait = take(0.25, 0.0, burst=60, per_second=10.0)
    assert tokens == 0.25
    assert wait == pytest.approx(0.075)


def test_a_clock_that_went_backwards_refills_nothing():
    tokens, wait = take(0.5, -10.0, burst=5, per_second=1.0)
    assert (tokens, wait) == (0.5, pytest.approx(0.5))
