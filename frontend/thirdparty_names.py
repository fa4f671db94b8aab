"""French names, in the admin, of the libraries' apps and models.

The libraries name them in English, some without gettext (django-otp's
"TOTP device"): their app configs and models' ``_meta`` get the same
English words, lazily translated, when the apps are ready. Migrations read
``Meta``'s original attributes, so this changes no migration state.
"""

from django.apps import apps
from django.utils.translation import gettext_lazy as _

APP_NAMES = {
    "axes": _("Login lockout"),
    "otp_totp": _("Authenticator apps"),
    "otp_static": _("Recovery codes"),
    "django_tasks_database": _("Background tasks"),
}
MODEL_NAMES = {
    ("otp_totp", "totpdevice"): (_("TOTP device"), _("TOTP devices")),
    ("otp_static", "staticdevice"): (_("recovery code set"), _("recovery code sets")),
    ("django_tasks_database", "dbtaskresult"): (_("Task Result"), _("Task Results")),
}


def name_in_french() -> None:
    """Give the installed libraries' apps and models their translated names."""
    for label, name in APP_NAMES.items():
        apps.get_app_config(label).verbose_name = name
    for (label, model), (one, many) in MODEL_NAMES.items():
        opts = apps.get_model(label, model)._meta
        opts.verbose_name, opts.verbose_name_plural = one, many
