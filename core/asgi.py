"""ASGI entry point: Django for HTTP, the hub consumer for ``/ws/``.

The WebSocket stack checks the Origin header against ``ALLOWED_HOSTS``
(``AllowedHostsOriginValidator``) and authenticates from the session cookie (Channels' auth stack, the lookup
off the loop: :mod:`hub.auth`).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from hub.auth import SocketAuthStack  # noqa: E402
from hub.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            SocketAuthStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
