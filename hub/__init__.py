"""The realtime layer: streams with offsets, the consumer, fan-out.

Domain actions call :func:`send_event`, and nothing else of the hub writes.
"""


def send_event(streams, event):
    """Append ``event`` to ``streams`` in the caller's transaction.

    See :func:`hub.streams.send_event` for shapes and errors. Looked up at call
    time so tests can capture it (``tests.conftest.capture_events``).
    """
    from hub import streams as _streams

    return _streams.send_event(streams, event)
