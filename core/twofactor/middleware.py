"""Keep a logged-in user who owes a second factor on its pages.

After ``django_otp.middleware.OTPMiddleware`` (which sets
``request.user.is_verified()``): a session that has not passed the second
factor it owes (:func:`core.twofactor.policy.owes_second_factor`, and
django-otp's ``is_verified()``: a right code, a passkey) reaches only the second
step, enrolment, the passkey endpoints, logout and the language switch;
anything else, the admin included, is sent to the second step (a user with a
device) or to enrolment (staff without one), then back.
"""

from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse

from core.twofactor.policy import (
    PENDING_SESSION_KEY,
    has_second_factor,
    must_have_second_factor,
    owes_second_factor,
)

OPEN_VIEWS = frozenset(
    {
        "twofactor:verify",
        "twofactor:enrol",
        "twofactor:reauth",
        "twofactor:passkey_auth_begin",
        "twofactor:passkey_auth_complete",
        "twofactor:passkey_register_begin",
        "twofactor:passkey_register_complete",
        "logout",
        "admin:logout",
        "set_language",
        "javascript-catalog",
    }
)


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and owes_second_factor(request.session, user)
            and not user.is_verified()
            and not _is_open(request.path_info)
        ):
            if has_second_factor(user):
                step = "twofactor:verify"
            elif must_have_second_factor(user):
                step = "twofactor:enrol"
            else:
                # A family whose last device went since this login.
                request.session.pop(PENDING_SESSION_KEY, None)
                return self.get_response(request)
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse(step)}?{query}")
        return self.get_response(request)


def _is_open(path: str) -> bool:
    try:
        return resolve(path).view_name in OPEN_VIEWS
    except Resolver404:
        return False
