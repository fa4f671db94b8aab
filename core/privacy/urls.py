"""URLs of the privacy pages (site root)."""

from django.urls import path

from core.privacy import views

app_name = "privacy"
urlpatterns = [
    path("mes-donnees/", views.my_data, name="my_data"),
    path("mes-donnees/export/<int:export_id>/", views.download, name="download"),
]
