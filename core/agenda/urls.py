from django.urls import path

from core.agenda import views

app_name = "agenda"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.entry_new, name="entry_new"),
    path("<int:entry_id>/edit/", views.entry_edit, name="entry_edit"),
    path("<int:entry_id>/cancel/", views.entry_cancel, name="entry_cancel"),
    path("evenings/new/", views.evening_new, name="evening_new"),
    path("evenings/<int:evening_id>/", views.evening, name="evening"),
    path("evenings/<int:evening_id>/slots/", views.open_slots, name="open_slots"),
    path("slots/<int:slot_id>/remove/", views.remove_slot, name="remove_slot"),
    path("slots/<int:slot_id>/book/", views.book, name="book"),
    path(
        "bookings/<int:booking_id>/cancel/", views.cancel_booking, name="cancel_booking"
    ),
]
