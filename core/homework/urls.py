from django.urls import path

from core.homework import views

app_name = "homework"
urlpatterns = [
    path("", views.index, name="index"),
    path("api/items/", views.items_api, name="items_api"),
    path("class/<int:class_id>/", views.class_page, name="class"),
    path("class/<int:class_id>/workload/", views.workload_api, name="workload"),
    path("class/<int:class_id>/sessions/", views.sessions, name="sessions"),
    path(
        "lesson/<int:occurrence_id>/content/", views.write_session, name="write_session"
    ),
    path("<int:homework_id>/edit/", views.edit, name="edit"),
    path("<int:homework_id>/remove/", views.remove, name="remove"),
    path("<int:homework_id>/done/", views.done, name="done"),
    path("<int:homework_id>/hand-in/", views.hand_in, name="hand_in"),
    path("<int:homework_id>/handins/", views.handins, name="handins"),
    path("<int:homework_id>/handins.zip", views.handins_zip, name="handins_zip"),
    path("handins/<int:handin_id>/return/", views.return_handin, name="return"),
    path("handins/<int:handin_id>/file/", views.handin_file, name="handin_file"),
    path("files/<int:attachment_id>/", views.attachment, name="attachment"),
]
