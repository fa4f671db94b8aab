"""URLs of course documents (included at ``documents/``)."""

from django.urls import path

from core.documents import views

app_name = "documents"

urlpatterns = [
    path("", views.index, name="index"),
    path("<str:kind>/<int:space_id>/", views.space, name="space"),
    path("<str:kind>/<int:space_id>/add/", views.add, name="add"),
    path("<str:kind>/<int:space_id>/folders/", views.add_folder, name="add_folder"),
    path("<str:kind>/<int:space_id>/api/items/", views.api_items, name="api_items"),
    path("folders/<int:folder_id>/delete/", views.delete_folder, name="delete_folder"),
    path("items/<int:item_id>/versions/", views.add_version, name="add_version"),
    path("items/<int:item_id>/delete/", views.delete, name="delete"),
    path("files/<int:version_id>/", views.download, name="download"),
]
