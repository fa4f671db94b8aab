"""Pages and JSON endpoints of the web client."""

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import JavaScriptCatalog

from frontend import views, webapp

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("timetable/", views.timetable, name="timetable"),
    path("timetable/mine/", views.timetable_mine, name="timetable-mine"),
    path("notifications/", views.notifications, name="notifications"),
    path("api/home/cards/<slug:name>/", views.api_home_card, name="api-home-card"),
    path("api/timetable/mine/", views.api_timetable_mine, name="api-timetable-mine"),
    path("api/timetable/<int:class_id>/", views.api_timetable, name="api-timetable"),
    path("api/notifications/", views.api_notifications, name="api-notifications"),
    path(
        "api/notifications/read/",
        views.api_notifications_read,
        name="api-notifications-read",
    ),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    # The installable app (frontend/webapp.py).
    path("manifest.webmanifest", webapp.manifest, name="webmanifest"),
    path("favicon.ico", webapp.favicon, name="favicon"),
    path("offline/", webapp.offline, name="offline"),
]
