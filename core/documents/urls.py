"""URLs of course documents (included at ``documents/``)."""

from django.urls import path, register_converter

from core.documents import views


class SpaceKind:
    """``class`` or ``course``: the two kinds of space."""

    regex = "class|course"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SpaceKind, "space")

app_name = "documents"

urlpatterns = [
    path("", views.index, name="index"),
    path("<space:kind>/<int:space_id>/", views.space, name="space"),
    path("<space:kind>/<int:space_id>/add/", views.add, name="add"),
    path("<space:kind>/<int:space_id>/folders/", views.add_folder, name="add_folder"),
    path("<space:kind>/<int:space_id>/api/items/", views.api_items, name="api_items"),
    path("folders/<int:folder_id>/delete/", views.delete_folder, name="delete_folder"),
    path("items/<int:item_id>/versions/", views.add_version, name="add_version"),
    path(
        "items/<int:item_id>/visibility/", views.set_visibility, name="set_visibility"
    ),
    path("items/<int:item_id>/delete/", views.delete, name="delete"),
    path("files/<int:version_id>/", views.download, name="download"),
]
