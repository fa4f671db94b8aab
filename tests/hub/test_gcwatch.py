import gc
import logging

import pytest

from hub.realtime import gcwatch


def test_a_long_collection_is_logged(settings, caplog):
    settings.HUB_GC_LOG_MS = 0.000001
    gcwatch.install()  # off in the test settings (the test run's own collections)
    assert gcwatch._on_collection in gc.callbacks
    with caplog.at_level(logging.WARNING, logger="hub.realtime.gcwatch"):
        gc.collect()
    assert any(
        "garbage collection of generation 2 took" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize("limit", [60_000, 0])
def test_short_collections_or_a_watch_turned_off_log_nothing(settings, caplog, limit):
    settings.HUB_GC_LOG_MS = 0.000001
    gcwatch.install()
    settings.HUB_GC_LOG_MS = limit
    with caplog.at_level(logging.WARNING, logger="hub.realtime.gcwatch"):
        gc.collect()
    assert not caplog.records


def test_settle_freezes_what_is_loaded_and_raises_the_young_threshold(settings):
    before = gc.get_threshold()
    settings.HUB_GC_THRESHOLD = 12345
    try:
        gcwatch.settle()
        assert gc.get_freeze_count() > 10_000  # Django, the project, the tests
        assert gc.get_threshold() == (12345, before[1], before[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
