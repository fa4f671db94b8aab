from django.urls import path

from core.grades import views

app_name = "grades"
urlpatterns = [
    path("", views.index, name="index"),
    path("periods/", views.periods, name="periods"),
    path("class/<int:class_id>/new/", views.new, name="new"),
    path("class/<int:class_id>/", views.class_summary, name="class"),
    path("class/<int:class_id>/export.csv", views.export, name="export"),
    path("<int:evaluation_id>/", views.grid, name="grid"),
    path("<int:evaluation_id>/edit/", views.edit, name="edit"),
    path("<int:evaluation_id>/remove/", views.remove, name="remove"),
]
