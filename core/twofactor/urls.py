"""URLs of the second factor (site root)."""

from django.urls import path

from core.twofactor import passkeys, views

app_name = "twofactor"
urlpatterns = [
    path("connexion/verification/", views.verify, name="verify"),
    path("double-authentification/activer/", views.enrol, name="enrol"),
    path("settings/security/", views.security, name="security"),
    path("settings/security/password/", views.reauth, name="reauth"),
    path(
        "settings/security/recovery-codes/",
        views.recovery_codes,
        name="recovery_codes",
    ),
    path("settings/security/remove/", views.remove, name="remove"),
    path(
        "passkeys/registration/begin/",
        passkeys.BeginRegistration.as_view(),
        name="passkey_register_begin",
    ),
    path(
        "passkeys/registration/complete/",
        passkeys.CompleteRegistration.as_view(),
        name="passkey_register_complete",
    ),
    path(
        "passkeys/authentication/begin/",
        passkeys.BeginAuthentication.as_view(),
        name="passkey_auth_begin",
    ),
    path(
        "passkeys/authentication/complete/",
        passkeys.CompleteAuthentication.as_view(),
        name="passkey_auth_complete",
    ),
]
