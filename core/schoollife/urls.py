from django.urls import path

from core.schoollife import views

app_name = "schoollife"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.compose, name="compose"),
    path("<int:notice_id>/", views.notice_page, name="notice"),
    path("<int:notice_id>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("<int:notice_id>/status/", views.status, name="status"),
    path("<int:notice_id>/edit/", views.edit, name="edit"),
    path("<int:notice_id>/withdraw/", views.withdraw, name="withdraw"),
    path("<int:notice_id>/remind/", views.remind, name="remind"),
    path("<int:notice_id>/acknowledgements.csv", views.export, name="export"),
    path("files/<int:attachment_id>/", views.attachment, name="attachment"),
]
