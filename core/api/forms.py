"""The form that creates a personal access token (Réglages › Accès API)."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from core.api import tokens


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the token is for, e.g. the app or phone that uses it."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Access"),
        choices=list(tokens.SCOPES.items()),
        widget=forms.CheckboxSelectMultiple,
        initial=["read"],
    )
    days = forms.TypedChoiceField(
        label=_("Valid for"),
        coerce=int,
        choices=[
            (days, ngettext_lazy("%(n)d day", "%(n)d days", days) % {"n": days})
            for days in tokens.LIFETIMES
        ],
        initial=90,
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the token a name."))
        return name
