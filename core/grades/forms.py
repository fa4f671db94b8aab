"""Forms of the grades pages: parsing and validation only (the grid's cells
are parsed by :func:`core.grades.actions.parse_cell`)."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.grades.models import Evaluation, GradesPolicy, Period, Skill
from core.roster.models import AcademicSession


class CommaDecimalField(forms.DecimalField):
    """A decimal typed with a comma ("1,5") or a dot."""

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().replace(",", ".")
        return super().to_python(value)


class EvaluationForm(forms.Form):
    """An evaluation as the teacher describes it. No "out of": skills only."""

    title = forms.CharField(label=_("Title"), max_length=200)
    subject = forms.CharField(label=pgettext_lazy("grades", "Subject"), max_length=300)
    date = forms.DateField(
        label=_("Date"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=Evaluation.Kind.choices)
    coefficient = CommaDecimalField(
        label=_("Coefficient"),
        min_value=0.01,
        max_value=20,
        decimal_places=2,
        initial="1",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 5}),
    )
    out_of = CommaDecimalField(
        label=_("Out of"),
        required=False,
        min_value=1,
        max_value=200,
        decimal_places=2,
        initial="20",
        help_text=_("Leave empty for a skills assessment without a mark."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 5}),
    )
    period = forms.ModelChoiceField(
        label=_("Period"),
        queryset=Period.objects.none(),
        required=False,
        empty_label=_("The period of the date"),
    )
    skills: "forms.ModelMultipleChoiceField[Skill]" = forms.ModelMultipleChoiceField(
        label=_("Skills assessed"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, periods, skills, subjects=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Model choice fields (self.fields is typed as plain Fields).
        self.fields["period"].queryset = periods  # type: ignore[attr-defined]
        self.fields["skills"].queryset = skills  # type: ignore[attr-defined]
        if subjects:
            self.fields["subject"].widget = forms.Select(
                choices=[(s, s) for s in subjects]
            )


class PeriodForm(forms.Form):
    """A grading period of one of the staff member's schools."""

    session: "forms.ModelChoiceField[AcademicSession]" = forms.ModelChoiceField(
        label=_("School year"), queryset=None
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=Period.Kind.choices)
    title = forms.CharField(label=_("Title"), max_length=100)
    start_date = forms.DateField(
        label=_("Start date"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    end_date = forms.DateField(
        label=_("End date"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )

    def __init__(self, *args, sessions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["session"].queryset = sessions  # type: ignore[attr-defined]  # idem


class PolicyForm(forms.ModelForm):
    """A school's grades settings (``GradesPolicy``)."""

    alert_below = CommaDecimalField(
        label=_("Flag pupils below (out of 20)"),
        min_value=0,
        max_value=20,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 5}),
    )

    class Meta:
        model = GradesPolicy
        fields = [
            "show_class_average",
            "show_min_max",
            "not_submitted_counts_zero",
            "alert_below",
        ]
