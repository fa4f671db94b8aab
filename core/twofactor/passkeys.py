"""Passkeys (WebAuthn) through django-otp-webauthn, with the hub's rules.

The library (on py_webauthn, Duo Labs) does the ceremonies and stores each
passkey as a django-otp device (``WebAuthnCredential``), so a passkey marks a
session verified like a TOTP code. Here:

- :class:`PasskeyHelper`: the relying party is the host the page was served
  from (validated by ``ALLOWED_HOSTS``) and the only origin accepted is that
  page's own; passkeys are discoverable, so one can log in without a
  password (the login page's "Se connecter avec une clé d'accès");
- the views add the audit log (a passkey added, a failed passkey) and ask for
  the password again before a passkey is added to an account
  (:func:`core.twofactor.policy.password_recently_checked`).
"""

import json
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp_webauthn import exceptions
from django_otp_webauthn import views as webauthn_views
from django_otp_webauthn.helpers import WebAuthnHelper

from core.audit.ip import client_ip
from core.twofactor import actions
from core.twofactor.policy import (
    PENDING_SESSION_KEY,
    has_second_factor,
    password_recently_checked,
)


class PasskeyHelper(WebAuthnHelper):
    def get_relying_party_domain(self) -> str:
        host = self.request.get_host()
        return host.rsplit(":", 1)[0] if not host.endswith("]") else host

    def get_allowed_origins(self) -> list[str]:
        return [f"{self.request.scheme}://{self.request.get_host()}"]

    def create_credential(self, user, *args, **kwargs):
        device = super().create_credential(user, *args, **kwargs)
        device.name = _("Passkey of %(date)s") % {
            "date": timezone.localdate().strftime("%d/%m/%Y")
        }
        return device


class PasswordNeeded(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_detail = gettext_lazy(
        "Confirm your password first: reload the page and type it."
    )
    default_code = "password_needed"


# A mixin for the registration views: typed against one of them (untyped
# library: Any), so its super() call and self.request check.
if TYPE_CHECKING:
    from django_otp_webauthn.views import (
        BeginCredentialRegistrationView as _RegisterBase,
    )
else:
    _RegisterBase = object


class _Register(_RegisterBase):
    def check_can_register(self):
        super().check_can_register()
        # Enrolment right after a login, or within minutes of typing the
        # password again on the settings page.
        if not password_recently_checked(self.request.session):
            raise PasswordNeeded


class BeginRegistration(_Register, webauthn_views.BeginCredentialRegistrationView):
    pass


class CompleteRegistration(
    _Register, webauthn_views.CompleteCredentialRegistrationView
):
    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        if response.status_code == 200:
            actions.record_passkey_added(
                self.request.user,
                json.loads(response.content)["id"],
                client_ip(self.request),
            )
            self.request.session.pop(PENDING_SESSION_KEY, None)
        return response


class BeginAuthentication(webauthn_views.BeginCredentialAuthenticationView):
    pass


class CompleteAuthentication(webauthn_views.CompleteCredentialAuthenticationView):
    """A passkey as the second step (logged in by password) or instead of
    the password (nobody logged in yet)."""

    def complete_auth(self, device):
        super().complete_auth(device)
        self.request.session.pop(PENDING_SESSION_KEY, None)
        self.request.session.cycle_key()
        actions.record_verified(device.user, device, client_ip(self.request))

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.OTPWebAuthnApiError) and not isinstance(
            exc, exceptions.InvalidState | exceptions.MalformedRequest
        ):
            user = self.request.user if self.request.user.is_authenticated else None
            actions.record_passkey_failed(user, client_ip(self.request), exc.code)
        return super().handle_exception(exc)


def offers_passkey(user) -> bool:
    """Whether the second step should show the passkey button."""
    from django_otp_webauthn.models import WebAuthnCredential

    return (
        has_second_factor(user)
        and WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()
    )
