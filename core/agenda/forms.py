"""The agenda's forms: parsing only; the rules live in ``actions``.

Date, time and datetime inputs are drawn in the ISO forms browsers' pickers
read ("2026-01-22", "17:30"), whatever the page's language."""

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.agenda.models import AgendaEntry
from core.roster.audience import ROLES, levels_of
from core.roster.models import Org, SchoolClass

LOCAL_DATETIME = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


class _ClassChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: SchoolClass) -> str:
        return f"{obj.title} · {obj.org.name}"


class EntryForm(forms.Form):
    org = forms.ModelChoiceField(Org.objects.none(), label=_("School"))
    kind = forms.ChoiceField(choices=AgendaEntry.Kind.choices, label=_("Kind"))
    title = forms.CharField(max_length=200, label=_("Title"))
    description = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea, label=_("Description")
    )
    location = forms.CharField(required=False, max_length=200, label=_("Location"))
    all_day = forms.BooleanField(required=False, label=_("All day"))
    start_date = forms.DateField(
        label=_("Start date"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    start_time = forms.TimeField(
        required=False,
        label=_("Start time"),
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
    )
    end_date = forms.DateField(
        label=_("End date"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    end_time = forms.TimeField(
        required=False,
        label=_("End time"),
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
    )
    roles = forms.MultipleChoiceField(
        required=False,
        choices=list(ROLES.items()),
        widget=forms.CheckboxSelectMultiple,
        label=_("For (none ticked: everyone)"),
    )
    levels = forms.MultipleChoiceField(
        required=False,
        choices=(),
        widget=forms.CheckboxSelectMultiple,
        label=_("Levels"),
    )
    classes = _ClassChoice(
        SchoolClass.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Classes (none ticked with no level: the whole school)"),
    )

    def __init__(self, *args, orgs, **kwargs):
        super().__init__(*args, **kwargs)
        # Choice fields (self.fields is typed as plain Fields).
        self.fields["org"].queryset = orgs  # type: ignore[attr-defined]
        if len(orgs) == 1:  # nothing to choose: preselected
            self.fields["org"].initial = orgs[0].pk
        classes = (
            SchoolClass.objects.filter(org__in=orgs)
            .select_related("org")
            .order_by("org__name", "title")
        )
        self.fields["classes"].queryset = classes  # type: ignore[attr-defined]
        self.fields["levels"].choices = [(level, level) for level in levels_of(classes)]  # type: ignore[attr-defined]

    def clean(self):
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data
        if data.get("all_day"):
            return data
        for name in ("start_time", "end_time"):
            if not data.get(name) and name not in self.errors:
                self.add_error(name, _('Give a time, or tick "All day".'))
        return data

    def moments(self) -> tuple:
        """(start, end) for the action: dates for an all-day entry, else
        aware datetimes in the current time zone."""
        data = self.cleaned_data
        if data["all_day"]:
            return data["start_date"], data["end_date"]
        zone = timezone.get_current_timezone()
        return (
            dt.datetime.combine(data["start_date"], data["start_time"], zone),
            dt.datetime.combine(data["end_date"], data["end_time"], zone),
        )


class EveningForm(forms.Form):
    org = forms.ModelChoiceField(Org.objects.none(), label=_("School"))
    title = forms.CharField(max_length=200, label=_("Title"))
    date = forms.DateField(
        label=_("Date"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    classes = _ClassChoice(
        SchoolClass.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label=_("Classes concerned"),
    )
    booking_opens = forms.DateTimeField(
        input_formats=LOCAL_DATETIME,
        label=_("Booking opens"),
        widget=forms.DateTimeInput(
            format="%Y-%m-%dT%H:%M", attrs={"type": "datetime-local"}
        ),
    )
    booking_closes = forms.DateTimeField(
        input_formats=LOCAL_DATETIME,
        label=_("Booking closes"),
        widget=forms.DateTimeInput(
            format="%Y-%m-%dT%H:%M", attrs={"type": "datetime-local"}
        ),
    )

    def __init__(self, *args, orgs, **kwargs):
        super().__init__(*args, **kwargs)
        # Model choice fields (self.fields is typed as plain Fields).
        self.fields["org"].queryset = orgs  # type: ignore[attr-defined]
        self.fields["classes"].queryset = (  # type: ignore[attr-defined]
            SchoolClass.objects.filter(org__in=orgs)
            .select_related("org")
            .order_by("org__name", "title")
        )


class SlotsForm(forms.Form):
    start = forms.TimeField(
        label=_("From"), widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"})
    )
    end = forms.TimeField(
        label=_("To"), widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"})
    )
    minutes = forms.IntegerField(
        min_value=5, max_value=60, initial=10, label=_("Minutes per slot")
    )
    room = forms.CharField(required=False, max_length=100, label=_("Room"))
