import gc
import logging

from hub import gcwatch


def test_a_long_collection_is_logged(settings, caplog):
    settings.HUB_GC_LOG_MS = 0.000001
    gcwatch.install()  # already on: the app installed it (HUB_GC_LOG_MS 100 by default)
    assert gcwatch._on_collection in gc.callbacks
    with caplog.at_level(logging.WARNING, logger="hub.gcwatch"):
        gc.collect()
    assert any(
        "garbage collection of generation 2 took" in r.getMessage()
        for r in caplog.records
    )


def test_short_collections_are_not_logged(settings, caplog):
    settings.HUB_GC_LOG_MS = 60_000
    with caplog.at_level(logging.WARNING, logger="hub.gcwatch"):
        gc.collect()
    assert not caplog.records
