"""URLs of notification delivery, mounted at the site root (``core/urls.py``).

``/sw.js`` lives at the root so the service worker's scope is the whole site.
"""

from django.urls import path

from hub.delivery import views

app_name = "delivery"
urlpatterns = [
    path("settings/notifications/", views.settings_page, name="settings"),
    path("delivery/subscribe/", views.subscribe, name="subscribe"),
    path(
        "delivery/unsubscribe-push/",
        views.unsubscribe_push,
        name="unsubscribe_push",
    ),
    path(
        "delivery/unsubscribe/<str:token>/",
        views.unsubscribe,
        name="unsubscribe",
    ),
    path("delivery/mute/", views.mute, name="mute"),
    path("delivery/log/", views.delivery_log, name="log"),
    path("sw.js", views.service_worker, name="service_worker"),
]
