"""URLs of account activation, password reset and change (site root)."""

from django.urls import path

from core.accounts import views

app_name = "accounts"
urlpatterns = [
    path("activer/", views.activate, name="activate"),
    path("activer/mot-de-passe/", views.activate_password, name="activate_password"),
    path(
        "mot-de-passe/oublie/",
        views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "mot-de-passe/oublie/envoye/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "mot-de-passe/nouveau/",
        views.password_reset_link,
        name="password_reset_link",
    ),
    path(
        "mot-de-passe/nouveau/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "mot-de-passe/nouveau/termine/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("settings/sessions/", views.sessions_page, name="sessions"),
    path(
        "settings/password/",
        views.PasswordChangeView.as_view(),
        name="password_change",
    ),
]
