"""Forms of the second step, enrolment and the password confirmation."""

from django import forms
from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        help_text=_(
            "The 6 digits shown by your authenticator app, or one of your "
            "recovery codes."
        ),
    )


class AppCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code shown by the app"),
        max_length=16,
        help_text=_("6 digits; a new one every 30 seconds."),
    )


class PasswordForm(forms.Form):
    password = forms.CharField(label=_("Password"), strip=False)

    def __init__(self, request, *args, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        user = self.request.user
        if (
            authenticate(self.request, username=user.get_username(), password=password)
            is None
        ):
            raise forms.ValidationError(_("This is not your password."))
        return password
