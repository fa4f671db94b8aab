"""Pages of the second factor: the second step, enrolment, the settings.

- ``/connexion/verification/``: after the password (Django's login view),
  a code of the app, a recovery code or a passkey; then the page asked for.
- ``/double-authentification/activer/``: a QR code and the secret of a new
  authenticator app, confirmed with one of its codes; the first time, the 10
  recovery codes, shown once.
- ``/settings/security/``: add or remove apps and passkeys, new recovery
  codes; the password is asked again when it was typed more than
  ``TWOFACTOR_REAUTH_SECONDS`` ago (``/settings/security/password/``).
"""

from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from core.audit.ip import client_ip
from core.twofactor import actions
from core.twofactor.forms import AppCodeForm, CodeForm, PasswordForm
from core.twofactor.passkeys import offers_passkey
from core.twofactor.policy import (
    PENDING_SESSION_KEY,
    has_second_factor,
    mark_password_checked,
    must_have_second_factor,
    owes_second_factor,
    password_recently_checked,
)


def next_url(request, default: str = "home") -> str:
    """The ``next`` of the query or form if it stays on this site."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(default)


def with_next(view_name: str, next_: str) -> str:
    return f"{reverse(view_name)}?{urlencode({'next': next_})}"


def _passed(request, device) -> None:
    """Mark this session as having passed the second factor."""
    otp_login(request, device)
    request.session.pop(PENDING_SESSION_KEY, None)
    # A new session key once the login is complete (as Django's login does).
    request.session.cycle_key()


@never_cache
@sensitive_post_parameters("code")
@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    """The second step after the password."""
    user = request.user
    target = next_url(request)
    if request.user.is_verified() or not owes_second_factor(request.session, user):
        return HttpResponseRedirect(target)
    if not has_second_factor(user):
        if must_have_second_factor(user):
            return HttpResponseRedirect(with_next("twofactor:enrol", target))
        request.session.pop(PENDING_SESSION_KEY, None)
        return HttpResponseRedirect(target)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = actions.check_code(user, form.cleaned_data["code"], client_ip(request))
        if check.device is not None:
            _passed(request, check.device)
            actions.record_verified(user, check.device, client_ip(request))
            if actions.method_of(check.device) == "recovery_code":
                left = actions.recovery_codes_left(user)
                messages.warning(
                    request,
                    _(
                        "Recovery code accepted. %(left)s left: make new ones in "
                        "Settings › Two-factor authentication."
                    )
                    % {"left": left},
                )
            return HttpResponseRedirect(target)
        form.add_error(
            "code",
            _("Too many wrong codes: wait a few seconds, then try again.")
            if check.throttled
            else _("This code is not right. Check it and try again."),
        )
    return render(
        request,
        "twofactor/verify.html",
        {"form": form, "next": target, "passkey": offers_passkey(user)},
    )


@never_cache
@sensitive_post_parameters("code")
@login_required
@require_http_methods(["GET", "POST"])
def enrol(request):
    """Add an authenticator app: QR code and secret, then one of its codes."""
    user = request.user
    target = next_url(request, "twofactor:security")
    verified = request.user.is_verified()
    if not verified and has_second_factor(user):
        return HttpResponseRedirect(
            with_next("twofactor:verify", request.get_full_path())
        )
    if not password_recently_checked(request.session):
        return HttpResponseRedirect(
            with_next("twofactor:reauth", request.get_full_path())
        )
    device = actions.pending_totp(user)
    form = AppCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if actions.confirm_totp(
            user, device, form.cleaned_data["code"], client_ip(request)
        ):
            if not verified:
                _passed(request, device)
            if not actions.has_recovery_codes(user):
                codes = actions.new_recovery_codes(user, client_ip(request))
                return render(
                    request,
                    "twofactor/recovery_codes.html",
                    {"codes": codes, "next": target, "first_time": True},
                )
            messages.success(request, _("Your authenticator app is added."))
            return HttpResponseRedirect(target)
        allowed, _detail = device.verify_is_allowed()
        form.add_error(
            "code",
            _("This code is not right. Check it and try again.")
            if allowed
            else _("Too many wrong codes: wait a few seconds, then try again."),
        )
    return render(
        request,
        "twofactor/enrol.html",
        {
            "form": form,
            "next": target,
            "qr_svg": qr_svg(device.config_url),
            "otpauth_url": device.config_url,
            "secret": spaced_secret(device),
            "mandatory": must_have_second_factor(user) and not has_second_factor(user),
        },
    )


def qr_svg(data: str) -> str:
    """An inline SVG QR code of ``data`` (segno; no script, no image URL)."""
    return segno.make(data, error="m").svg_inline(
        scale=5, border=2, dark="#1a1a2e", light="#ffffff", omitsize=True
    )


def spaced_secret(device: TOTPDevice) -> str:
    """The device's base32 secret in groups of four (for typing by hand)."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@sensitive_post_parameters("password")
@login_required
@require_http_methods(["GET", "POST"])
def reauth(request):
    """Type the password again before changing second factors."""
    target = next_url(request, "twofactor:security")
    form = PasswordForm(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        mark_password_checked(request.session)
        return HttpResponseRedirect(target)
    return render(request, "twofactor/reauth.html", {"form": form, "next": target})


@never_cache
@login_required
def security(request):
    """Settings › Two-factor authentication."""
    user = request.user
    return render(
        request,
        "twofactor/security.html",
        {
            "apps": TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk"),
            "passkeys": WebAuthnCredential.objects.filter(
                user=user, confirmed=True
            ).order_by("pk"),
            "codes_left": actions.recovery_codes_left(user),
            "has_factor": has_second_factor(user),
            "mandatory": must_have_second_factor(user),
            "password_ok": password_recently_checked(request.session),
            "password_form": PasswordForm(request),
        },
    )


def _needs_password(request):
    if password_recently_checked(request.session):
        return None
    messages.error(request, _("Confirm your password first."))
    return redirect("twofactor:security")


@never_cache
@login_required
@require_POST
def recovery_codes(request):
    """New recovery codes (the old ones stop working), shown once."""
    if (refused := _needs_password(request)) is not None:
        return refused
    if not has_second_factor(request.user):
        return redirect("twofactor:security")
    codes = actions.new_recovery_codes(request.user, client_ip(request))
    return render(
        request,
        "twofactor/recovery_codes.html",
        {"codes": codes, "next": reverse("twofactor:security"), "first_time": False},
    )


@never_cache
@login_required
@require_POST
def remove(request):
    """Remove one authenticator app or passkey."""
    if (refused := _needs_password(request)) is not None:
        return refused
    try:
        actions.remove_device(
            request.user, request.POST.get("device", ""), client_ip(request)
        )
    except actions.LastSecondFactor:
        messages.error(
            request,
            _(
                "Your account must keep a second factor: add another app or "
                "passkey before removing this one."
            ),
        )
    else:
        messages.success(request, _("Removed."))
    return redirect("twofactor:security")
