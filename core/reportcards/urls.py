from django.urls import path

from core.reportcards import views

app_name = "reportcards"
urlpatterns = [
    path("", views.index, name="index"),
    path(
        "class/<int:class_id>/period/<int:period_id>/subject/",
        views.subject_page,
        name="subject",
    ),
    path(
        "class/<int:class_id>/period/<int:period_id>/",
        views.class_page,
        name="class",
    ),
    path(
        "class/<int:class_id>/period/<int:period_id>/publish/",
        views.publish,
        name="publish",
    ),
    path("<int:card_id>/pdf/", views.download, name="download"),
]
