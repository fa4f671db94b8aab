"""URLs of the timetable's calendar feed (included at ``calendar/``)."""

from django.urls import path

from core.timetable import views

urlpatterns = [
    path("<str:token>.ics", views.calendar_feed, name="calendar-feed"),
    path("rotate/", views.rotate, name="calendar-feed-rotate"),
]
