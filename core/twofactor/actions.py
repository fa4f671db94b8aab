"""Every change of a user's second factors, and every check of a code.

Devices are django-otp's: ``TOTPDevice`` (an authenticator app),
``StaticDevice`` with its ``StaticToken`` rows (recovery codes) and
django-otp-webauthn's ``WebAuthnCredential`` (passkeys, registered by that
library's views: :mod:`core.twofactor.passkeys`). Each enrolment, removal,
new set of recovery codes and failed second factor leaves an audit-log row
(``twofactor.*``). Wrong codes slow down through django-otp's throttling
(``OTP_TOTP_THROTTLE_FACTOR``, ``OTP_STATIC_THROTTLE_FACTOR``).
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.audit import log as audit
from core.twofactor.policy import must_have_second_factor, second_factors

RECOVERY_CODE_COUNT = 10
RECOVERY_DEVICE_NAME = "recovery"


def _record(user, action: str, ip: str | None, **detail) -> None:
    audit.record(
        actor=user,
        action=f"twofactor.{action}",
        target_type="user",
        target_id=user.pk,
        ip=ip,
        detail=detail,
    )


# Authenticator app (TOTP) --------------------------------------------------


def pending_totp(user) -> TOTPDevice:
    """The authenticator app ``user`` is adding: an unconfirmed device, the
    same one on each visit until confirmed (its secret is in the QR code)."""
    device = (
        TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    )
    if device is None:
        device = TOTPDevice.objects.create(
            user=user, name=_("Authenticator app"), confirmed=False
        )
    return device


def confirm_totp(user, device: TOTPDevice, code: str, ip: str | None) -> bool:
    """Confirm ``device`` with a code of the app; False for a wrong code."""
    if device.user_id != user.pk or device.confirmed:
        return False
    if not device.verify_token(normalise(code)):
        _record(user, "failed", ip, method="totp", step="enrolment")
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    _record(user, "totp_added", ip, device=device.pk)
    return True


# Recovery codes ------------------------------------------------------------


def has_recovery_codes(user) -> bool:
    return StaticToken.objects.filter(
        device__user=user, device__confirmed=True
    ).exists()


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def new_recovery_codes(user, ip: str | None) -> list[str]:
    """Replace the recovery codes of ``user`` with
    :data:`RECOVERY_CODE_COUNT` new ones, returned to be shown once."""
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=code) for code in codes
    )
    _record(user, "recovery_codes_generated", ip, count=len(codes))
    return [display_code(code) for code in codes]


def display_code(code: str) -> str:
    """A recovery code as printed: ``abcd-efgh``."""
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def normalise(code: str) -> str:
    """A typed code without spaces or dashes, in lower case."""
    return "".join(code.split()).replace("-", "").lower()


# The second step ------------------------------------------------------------


@dataclass
class Check:
    """The outcome of :func:`check_code`: the device that matched, or why not."""

    device: object | None = None
    throttled: bool = False


def check_code(user, code: str, ip: str | None) -> Check:
    """Check a code typed at the second step: six digits for the app, else a
    recovery code (spent by django-otp on use). Failures are audited."""
    token = normalise(code)
    is_totp = len(token) == 6 and token.isdigit()
    kind = TOTPDevice if is_totp else StaticDevice
    devices = [d for d in devices_for_user(user) if isinstance(d, kind)]
    throttled = False
    for device in devices:
        allowed, _detail = device.verify_is_allowed()
        if not allowed:
            throttled = True
            continue
        if device.verify_token(token):
            if not is_totp:
                _record(
                    user,
                    "recovery_code_used",
                    ip,
                    left=device.token_set.count(),
                )
            return Check(device=device)
    _record(
        user,
        "failed",
        ip,
        method="totp" if is_totp else "recovery_code",
        throttled=throttled,
    )
    return Check(throttled=throttled)


def record_verified(user, device, ip: str | None) -> None:
    _record(user, "verified", ip, method=method_of(device))


def record_passkey_failed(user, ip: str | None, code: str) -> None:
    """A passkey that did not verify (``user`` None: a passwordless try)."""
    audit.record(
        actor=user,
        action="twofactor.failed",
        target_type="user",
        target_id=getattr(user, "pk", 0) or 0,
        ip=ip,
        detail={"method": "passkey", "error": code},
    )


def record_passkey_added(user, device_id: int, ip: str | None) -> None:
    _record(user, "passkey_added", ip, device=device_id)


def method_of(device) -> str:
    if isinstance(device, TOTPDevice):
        return "totp"
    if isinstance(device, StaticDevice):
        return "recovery_code"
    return "passkey"


# Removal --------------------------------------------------------------------


class LastSecondFactor(Exception):
    """Staff may not remove their last authenticator app or passkey."""


@transaction.atomic
def remove_device(user, persistent_id: str, ip: str | None) -> None:
    """Remove one TOTP device or passkey of ``user`` (ignored if not theirs).

    Raises :class:`LastSecondFactor` for the last one of someone who must
    have one. Without any left, the recovery codes go too.
    """
    factors = second_factors(user)
    device = next((d for d in factors if d.persistent_id == persistent_id), None)
    if device is None:
        return
    if len(factors) == 1 and must_have_second_factor(user):
        raise LastSecondFactor
    method, pk = method_of(device), device.pk
    device.delete()
    _record(user, f"{method}_removed", ip, device=pk)
    if len(factors) == 1:
        StaticDevice.objects.filter(user=user).delete()
