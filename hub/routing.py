"""WebSocket routes: one endpoint, one consumer."""

from django.urls import path

from hub.consumers import HubConsumer

websocket_urlpatterns = [path("ws/", HubConsumer.as_asgi())]
