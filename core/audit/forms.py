"""The audit page's filters."""

from django import forms
from django.utils.translation import gettext_lazy as _


class AuditFilterForm(forms.Form):
    who = forms.CharField(label=_("Who"), max_length=150, required=False)
    action = forms.CharField(label=_("Action"), max_length=50, required=False)
    target_type = forms.CharField(label=_("Target type"), max_length=50, required=False)
    target_id = forms.IntegerField(
        label=_("Target id"), required=False, min_value=0, max_value=10**18
    )
    pupil = forms.CharField(label=_("Pupil"), max_length=100, required=False)
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
