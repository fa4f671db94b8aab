"""Forms of the activation, password-reset and password-change pages."""

import logging
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.accounts import mail
from core.roster.models import User

logger = logging.getLogger(__name__)


class ActivationCodeForm(forms.Form):
    """Step 1 of the activation: the login and the code of the letter or e-mail."""

    login = forms.CharField(label=_("Username"), max_length=150)
    code = forms.CharField(
        label=_("Activation code"),
        max_length=40,
        help_text=_("10 letters and digits, e.g. ABCD-EFGH-JK; dashes optional."),
    )


class ActivationForm(SetPasswordForm):
    """Step 2: a new password (Django's validators) and the e-mail address.

    The address is required except for pupils (many have none); it is what a
    forgotten password's link is sent to.
    """

    email = forms.EmailField(
        label=_("E-mail address"),
        help_text=_("Check it: a forgotten password's link is sent to it."),
    )

    field_order = ["email", "new_password1", "new_password2"]

    def __init__(self, user, *args, **kwargs):
        super().__init__(user, *args, **kwargs)
        if user.role == User.Role.STUDENT:
            self.fields["email"].required = False

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class ResetForm(PasswordResetForm):
    """Django's reset form, its e-mail sent by :mod:`core.accounts.mail`.

    The link is absolute on ``SITE_URL`` (not the request's Host header, which
    a client chooses) and carries the token in its fragment. Users with no usable password (not yet activated) get
    nothing, as in Django: they need an activation code.
    """

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        user = context["user"]
        # The token rides in the fragment, which no server or proxy log sees
        # (views.password_reset_link).
        fragment = urlencode({"uid": context["uid"], "token": context["token"]})
        path = reverse("accounts:password_reset_link")
        message = mail.password_reset_message(
            user=user,
            link=f"{settings.SITE_URL}{path}#{fragment}",
            valid_hours=settings.PASSWORD_RESET_TIMEOUT // 3600,
        )
        try:
            with mail.connection() as connection:
                connection.send_messages([message])
        except Exception as error:
            # Never the message: it holds the link.
            logger.warning(
                "password reset e-mail to user %s failed: %s",
                user.pk,
                type(error).__name__,
            )
