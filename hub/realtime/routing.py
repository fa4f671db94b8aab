"""WebSocket routes: one endpoint, one consumer (served by :class:`hub.realtime.app.SocketApp`).

Paths are matched exactly, as ``URLRouter`` matched ``path("ws/", ...)``.
"""

from hub.realtime.consumer import HubConsumer

websocket_routes = {"/ws/": HubConsumer}
