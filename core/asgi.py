"""ASGI entry point: Django for HTTP, the hub consumer for ``/ws/``.

WebSockets go through one application (:class:`hub.realtime.app.SocketApp`,
decision 0005): the Origin check against ``ALLOWED_HOSTS`` (Channels' rules),
the route, then the session cookie's user, looked up off the loop.

HTTP goes to Django through :class:`core.body_limits.BodyLimitMiddleware`:
a body over its limit gets 413 before Django reads it (issue 13);
``/metrics`` is answered before both (:class:`core.metrics.MetricsApp`).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from core.body_limits import (  # noqa: E402
    BodyLimitMiddleware,
    bound_daphne_requests,
)
from core.metrics import MetricsApp  # noqa: E402
from hub.realtime.app import SocketApp  # noqa: E402
from hub.realtime.routing import websocket_routes  # noqa: E402

application = ProtocolTypeRouter(
    {
        # GET /metrics is answered before Django (core/metrics.py).
        "http": MetricsApp(BodyLimitMiddleware(django_asgi_app)),
        "websocket": SocketApp(websocket_routes),
    }
)

# Under Daphne (make run): bodies bounded before Twisted buffers them.
bound_daphne_requests()

# Everything the server needs is loaded: keep it out of the garbage
# collector's full passes (hub/realtime/gcwatch.py).
from hub.realtime import gcwatch  # noqa: E402

gcwatch.settle()
