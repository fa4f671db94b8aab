"""URLs of the API (mounted at ``/api/`` by core.urls), and of the page
where a user manages their tokens."""

from django.urls import path

from core.api import views
from core.api.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("api/docs", views.docs, name="api-docs"),
    path("settings/api/", views.tokens_page, name="api-tokens"),
]
