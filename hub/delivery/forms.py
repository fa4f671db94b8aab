"""Forms of the delivery pages: parsing and validation only.

The writes are :mod:`hub.delivery.actions`; these forms read what the
browser sent, offer only the choices the actions take, and keep what the
user typed when something is refused.
"""

import datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.utils.translation import gettext_lazy as _

from hub.delivery.actions import SETTINGS_FIELDS
from hub.delivery.categories import CHOICES, Category, Choice, choice_key
from hub.delivery.models import DeliverySettings

CUSTOM = "custom"
CATEGORY_PREFIX = "category_"
# Zones offered first (the time zone box still takes any IANA name).
COMMON_ZONES = [
    "Europe/Paris",
    "America/Cayenne",
    "America/Guadeloupe",
    "America/Martinique",
    "Indian/Mayotte",
    "Indian/Reunion",
    "Pacific/Noumea",
    "Pacific/Tahiti",
    "America/Miquelon",
    "Europe/London",
    "Europe/Brussels",
]
WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]
MUTE_MORNING = datetime.time(7, 0)


@cache
def known_zones() -> frozenset[str]:
    """Return the IANA zone names this system knows (read once)."""
    return frozenset(available_timezones())


def hour_label(hour: int) -> str:
    """Return ``hour`` the French way (``18 h``, ``7 h``)."""
    return f"{hour} h"


class SettingsForm(forms.Form):
    """The notification settings page: one choice per category, then the clock.

    ``categories`` are the user's role's (``preferences.categories_for``),
    ``current`` their choices (``preferences.choices_for``) and ``clock``
    their :class:`~hub.delivery.models.DeliverySettings` (saved or default).
    A stored combination the page does not offer shows as "custom" and is
    kept as it is unless the user picks another choice.
    """

    time_zone = forms.CharField(
        label=_("Time zone"),
        required=False,
        max_length=64,
        help_text=_("Leave empty to use your school's time zone."),
    )
    quiet_enabled = forms.BooleanField(
        label=_("Quiet hours: no notification at night"), required=False
    )
    quiet_start = forms.TimeField(
        label=_("From"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    quiet_end = forms.TimeField(
        label=_("To"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    quiet_weekends = forms.BooleanField(
        label=_("Quiet all weekend too"), required=False
    )
    digest_hour = forms.TypedChoiceField(
        label=_("Evening digest sent at"),
        coerce=int,
        choices=[(h, hour_label(h)) for h in range(24)],
    )
    weekly_day = forms.TypedChoiceField(
        label=_("Weekly digest sent on"), coerce=int, choices=WEEKDAYS
    )

    def __init__(
        self,
        *args,
        categories: list[Category],
        current: dict[str, Choice],
        clock: DeliverySettings,
        **kwargs,
    ):
        kwargs.setdefault(
            "initial",
            {
                "time_zone": clock.time_zone,
                "quiet_enabled": clock.quiet_enabled,
                "quiet_start": clock.quiet_start,
                "quiet_end": clock.quiet_end,
                "quiet_weekends": clock.quiet_weekends,
                "digest_hour": clock.digest_hour,
                "weekly_day": clock.weekly_day,
            },
        )
        super().__init__(*args, **kwargs)
        self.categories = categories
        for spec in categories:
            key = choice_key(current.get(spec.key, Choice()))
            choices = [(k, label) for k, (_choice, label) in CHOICES.items()]
            if key == CUSTOM:
                choices.insert(0, (CUSTOM, _("Custom (unchanged)")))
            name = CATEGORY_PREFIX + spec.key
            self.fields[name] = forms.ChoiceField(
                label=spec.label, help_text=spec.help, choices=choices
            )
            self.initial[name] = key

    def category_fields(self) -> list[forms.BoundField]:
        """Return the bound ``<select>`` of each category, in page order."""
        return [self[CATEGORY_PREFIX + spec.key] for spec in self.categories]

    def clean_time_zone(self) -> str:
        zone = self.cleaned_data["time_zone"].strip()
        if zone and zone not in known_zones():
            raise forms.ValidationError(
                _(
                    "Unknown time zone “%(zone)s”: write it as Europe/Paris "
                    "or leave the box empty."
                ),
                params={"zone": zone},
                code="unknown_zone",
            )
        return zone

    def clean(self) -> dict:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if data.get("quiet_enabled") and start is not None and start == end:
            raise forms.ValidationError(
                _("Quiet hours must start and end at different times."),
                code="empty_quiet_hours",
            )
        return data

    def preferences(self) -> dict[str, str]:
        """Return ``{category: choice key}`` of the categories the user changed."""
        changed = {}
        for spec in self.categories:
            name = CATEGORY_PREFIX + spec.key
            value = self.cleaned_data[name]
            if value != CUSTOM and value != self.initial.get(name):
                changed[spec.key] = value
        return changed

    def clock(self) -> dict:
        """Return the fields of :func:`hub.delivery.actions.save_settings`."""
        return {name: self.cleaned_data[name] for name in SETTINGS_FIELDS}


class MuteForm(forms.Form):
    """Mute a conversation for an hour, until tomorrow morning, or unmute it."""

    DURATIONS = [
        ("1h", _("1 h")),
        ("tomorrow", _("until tomorrow")),
        ("off", _("Turn notifications back on")),
    ]

    key = forms.CharField(max_length=60)
    duration = forms.ChoiceField(choices=DURATIONS)
    next = forms.CharField(required=False, max_length=500)

    def until(self, now: datetime.datetime, zone: ZoneInfo) -> datetime.datetime | None:
        """Return when the mute ends (aware), ``None`` for "off".

        ``tomorrow`` ends at the next 07:00 in ``zone`` (this morning's if it
        is not yet 07:00: "until tomorrow" said after midnight means the
        coming morning).
        """
        duration = self.cleaned_data["duration"]
        if duration == "off":
            return None
        if duration == "1h":
            return now + datetime.timedelta(hours=1)
        local = now.astimezone(zone)
        day = local.date()
        if local.time() >= MUTE_MORNING:
            day += datetime.timedelta(days=1)
        naive = datetime.datetime.combine(day, MUTE_MORNING)
        return naive.replace(tzinfo=zone).astimezone(datetime.UTC)


class UserSearchForm(forms.Form):
    """The delivery log's "find a person" box and the chosen person."""

    q = forms.CharField(label=_("Find a person"), required=False, max_length=100)
    user = forms.IntegerField(required=False, min_value=1, max_value=10**18 - 1)
