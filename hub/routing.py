"""WebSocket routes: one endpoint, one consumer (served by :class:`hub.auth.SocketApp`).

Paths are matched exactly, as ``URLRouter`` matched ``path("ws/", ...)``.
"""

from hub.consumers import HubConsumer

websocket_routes = {"/ws/": HubConsumer}
