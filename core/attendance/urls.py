from django.urls import path

from core.attendance import views

app_name = "attendance"
urlpatterns = [
    path("", views.index, name="index"),
    path("roll-call/<int:occurrence_id>/", views.roll_call, name="roll_call"),
    path("<int:record_id>/excuse/", views.excuse, name="excuse"),
    path("excuses/<int:excuse_id>/review/", views.review, name="review"),
    path("excuses/<int:excuse_id>/document/", views.document, name="document"),
    path("api/records/", views.records_api, name="records_api"),
]
