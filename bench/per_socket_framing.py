"""The hub's uvicorn protocol without its ready-made frames: the "before" of
issue 17's frame-once fan-out, to measure both in one run.

``fanout_broadcast.py --server uvicorn,uvicorn-per-socket`` serves the hub
once with ``hub.realtime.uvicorn:SlimWebSocketProtocol`` and once with
:class:`PerSocketFraming`, whose missing ``write_frame`` makes
``HubConsumer.offer`` send each event's text through uvicorn's ``send``,
which frames it for every socket, as the fan-out did before.
"""

from hub.realtime.uvicorn import SlimWebSocketProtocol


class PerSocketFraming(SlimWebSocketProtocol):
    """:class:`SlimWebSocketProtocol` that frames every event per socket."""

    write_frame = None  # type: ignore[assignment]  # offer() falls back to send
