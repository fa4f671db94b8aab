"""Activation, password reset and password change pages.

Activation (``/activer/``) takes two steps. Step 1 POSTs the login and the
code (a link carries them in its fragment, which never reaches the server:
``static/accounts/activate.js`` fills the form). A right code is remembered
in the session by its row id, never the code itself, and the browser is
redirected to step 2 (``/activer/mot-de-passe/``), the way Django's
``PasswordResetConfirmView`` moves its token into the session. Step 2 asks
for the password and the e-mail address, spends the code and logs the user
in. Wrong, spent, revoked and expired codes and unknown logins all get the
same error; ``throttle`` locks out guessing.

Password reset and change are Django's views with the hub's templates; a
new password ends the user's other sessions (their session hash no longer
matches) and closes all their sockets (``core.roster.socket_access``).
"""

import time
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from core.accounts import actions, browsers, lockout, sessions, throttle
from core.accounts.forms import ActivationCodeForm, ActivationForm, ResetForm
from core.accounts.models import ActivationCode
from core.audit import log as audit
from core.audit.ip import client_ip

# The login page's link (frontend/templates/registration/login.html) is this
# app's: its words live in this app's catalogue.
LOGIN_PAGE_STRINGS = [gettext_noop("Forgot your password?")]

SESSION_KEY = "_accounts_activation"
STEP_SECONDS = 30 * 60  # step 2 must follow step 1 within this time


def wrong_code_message() -> str:
    return _(
        "This username and code do not open an account: the code may be "
        "mistyped, already used or expired. Check the letter or e-mail, or "
        "ask the school for a new code."
    )


@never_cache
@sensitive_post_parameters("code")
@csrf_protect
@require_http_methods(["GET", "POST"])
def activate(request):
    """Step 1: check the login and the code."""
    form = ActivationCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login = form.cleaned_data["login"].strip()
        ip = client_ip(request)
        if throttle.is_locked(ip, login):
            form.add_error(
                None,
                _("Too many wrong tries. Wait 15 minutes, then try again."),
            )
        else:
            activation = actions.check_code(login=login, code=form.cleaned_data["code"])
            if activation is None:
                throttle.count_wrong_try(ip, login)
                form.add_error(None, wrong_code_message())
            else:
                throttle.forget(login)
                request.session.cycle_key()
                request.session[SESSION_KEY] = {
                    "code_id": activation.pk,
                    "user_id": activation.user_id,
                    "at": time.time(),
                }
                return redirect("accounts:activate_password")
    return render(request, "accounts/activate.html", {"form": form})


def _pending_activation(request) -> ActivationCode | None:
    """Return the live code step 1 accepted in this session, or None."""
    pending = request.session.get(SESSION_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at", 0)) > STEP_SECONDS:
        return None
    return (
        ActivationCode.objects.select_related("user")
        .live()
        .filter(
            pk=pending.get("code_id"),
            user_id=pending.get("user_id"),
            user__is_active=True,
        )
        .first()
    )


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
@csrf_protect
@require_http_methods(["GET", "POST"])
def activate_password(request):
    """Step 2: choose the password, confirm the e-mail address."""
    activation = _pending_activation(request)
    if activation is None:
        request.session.pop(SESSION_KEY, None)
        messages.error(request, wrong_code_message())
        return redirect("accounts:activate")
    user = activation.user
    form = ActivationForm(user, request.POST or None, initial={"email": user.email})
    if request.method == "POST" and form.is_valid():
        try:
            user = actions.activate_account(
                activation=activation,
                password=form.cleaned_data["new_password1"],
                email=form.cleaned_data["email"],
                ip=client_ip(request),
            )
        except actions.CodeNoLongerValid:
            request.session.pop(SESSION_KEY, None)
            messages.error(request, wrong_code_message())
            return redirect("accounts:activate")
        request.session.pop(SESSION_KEY, None)
        auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Your account is active. Welcome!"))
        return redirect("home")
    return render(
        request, "accounts/activate_password.html", {"form": form, "person": user}
    )


# Password reset and change: Django's views ------------------------------------


# A mixin for Django's FormViews: mypy checks its super() calls against them.
if TYPE_CHECKING:
    from django.views.generic.edit import FormView as _FormViewBase
else:
    _FormViewBase = object


class _AuditedPasswordMixin(_FormViewBase):
    """Leave an audit-log row ``audit_action`` once Django's form saved the
    new password."""

    audit_action: str

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(
            actor=form.user,
            action=self.audit_action,
            target_type="user",
            target_id=form.user.pk,
            ip=client_ip(self.request),
        )
        return response


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ResetForm
    template_name = "accounts/password_reset_form.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        """Send the e-mail unless this address or client asked too often;
        either way the same "sent if the address is known" page."""
        email = form.cleaned_data["email"]
        if not throttle.allow_reset_mail(client_ip(self.request), email):
            return redirect(self.get_success_url())
        return super().form_valid(form)


@never_cache
@sensitive_post_parameters("token")
@csrf_protect
@require_http_methods(["GET", "POST"])
def password_reset_link(request):
    """The reset e-mail's link, its token in the fragment (never sent, never
    logged by a proxy): the page's script POSTs it here, and a valid token
    goes into the session, as Django's ``PasswordResetConfirmView`` keeps it,
    before the redirect to that view's form (URL without the token)."""
    if request.method == "POST":
        confirm = PasswordResetConfirmView()
        user = confirm.get_user(request.POST.get("uid", ""))
        token = request.POST.get("token", "")
        if user is not None and confirm.token_generator.check_token(user, token):
            request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN] = token
            return redirect(
                "accounts:password_reset_confirm",
                uidb64=request.POST["uid"],
                token=confirm.reset_url_token,
            )
        return render(
            request, "accounts/password_reset_confirm.html", {"validlink": False}
        )
    return render(request, "accounts/password_reset_link.html")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(
    _AuditedPasswordMixin, auth_views.PasswordResetConfirmView
):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    audit_action = "account.password_reset"

    def form_valid(self, form):
        """A reset proves the mailbox: it also lifts the login's lockout
        (the lock page points here)."""
        response = super().form_valid(form)
        lockout.unlock(user=form.user, by=form.user, ip=client_ip(self.request))
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class PasswordChangeView(_AuditedPasswordMixin, auth_views.PasswordChangeView):
    """Django's change view: keeps this session, ends the others."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("delivery:settings")
    audit_action = "account.password_changed"

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(
            self.request,
            _(
                "Your password has changed. Your other devices must log in "
                "again with it."
            ),
        )
        return response


# Sessions ("Mes appareils") --------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def sessions_page(request):
    """List the user's sessions; end one, all the others, or all.

    POST ``end``: a session's id, ``others`` or ``all``. Ending the current
    session is a logout (its sockets close through ``core.roster.socket_access``); the
    others are deleted and their sockets closed at once
    (:func:`core.accounts.actions.end_sessions`).
    """
    sessions.touch(request, force=True)
    rows = sessions.live_sessions(request.user)
    current = request.session.session_key
    if request.method == "POST":
        choice = request.POST.get("end", "")
        if choice == "others" or choice == "all":
            chosen = [row for row in rows if row.session_key != current]
        else:
            chosen = [
                row
                for row in rows
                if str(row.pk) == choice and row.session_key != current
            ]
        ends_this = choice == "all" or any(
            str(row.pk) == choice and row.session_key == current for row in rows
        )
        count = actions.end_sessions(
            user=request.user, sessions=chosen, ip=client_ip(request)
        )
        if ends_this:
            auth_logout(request)
            messages.success(request, _("You are logged out on every device."))
            return redirect("login")
        if count:
            messages.success(
                request,
                ngettext(
                    "%(count)d device is logged out.",
                    "%(count)d devices are logged out.",
                    count,
                )
                % {"count": count},
            )
        return redirect("accounts:sessions")
    listed = []
    for row in rows:
        browser, system = browsers.describe(row.user_agent)
        listed.append(
            {
                "row": row,
                "browser": browser,
                "system": system,
                "current": row.session_key == current,
            }
        )
    return render(
        request,
        "accounts/sessions.html",
        {"sessions": listed, "others": len(listed) - 1},
    )
