"""The event log: streams with offsets, ``send_event``, retention (the realtime
server is :mod:`hub.realtime`, delivery :mod:`hub.delivery`).

Domain actions call :func:`send_event` (and :func:`lock_streams` before
sending several events), and nothing else of the hub writes.
"""


def send_event(streams, event):
    """Append ``event`` to ``streams`` in the caller's transaction.

    See :func:`hub.streams.send_event` for shapes and errors. Looked up at call
    time so tests can capture it (``tests.conftest.capture_events``).
    """
    from hub import streams as _streams

    return _streams.send_event(streams, event)


def lock_streams(names):
    """Lock ``names`` in a fixed order before sending several events.

    See :func:`hub.streams.lock_streams`.
    """
    from hub import streams as _streams

    _streams.lock_streams(names)
