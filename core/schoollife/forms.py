"""Forms of the school-life pages: parsing and validation only (the rules
are the actions')."""

from django import forms
from django.utils.translation import gettext_lazy as _

from core.homework.forms import MultipleFileField
from core.roster import audience as audiences
from core.roster.models import SchoolClass
from core.schoollife.models import MAX_BODY, Notice

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


def body_field() -> forms.CharField:
    """A notice's text. The limit is said, and checked by the server only:
    the browser's maxlength cut a long text silently; the server's error
    keeps the whole text in the form."""
    field = forms.CharField(
        label=_("Text"),
        required=False,
        max_length=MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "Plain text; **bold**, *italics*, lists and links work. "
            "At most 10,000 characters."
        ),
    )
    field.widget.attrs.pop("maxlength", None)
    return field


class NoticeForm(forms.Form):
    """A notice as staff write it: school, audience, text, files, options."""

    org = forms.TypedChoiceField(label=_("School"), coerce=int)
    roles = forms.MultipleChoiceField(
        label=_("For"),
        required=False,
        choices=list(audiences.ROLES.items()),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: everyone."),
    )
    levels = forms.MultipleChoiceField(
        label=_("Levels"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("No level and no class: the whole school."),
    )
    classes = forms.TypedMultipleChoiceField(
        label=_("Classes"), required=False, coerce=int
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    body = body_field()
    attachments = MultipleFileField(label=_("Files"), required=False)
    publish_at = forms.DateTimeField(
        label=_("Publish on"),
        required=False,
        help_text=_("Empty: now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=DATETIME_FORMATS,
    )
    urgent = forms.BooleanField(
        label=_("Urgent (sent even during quiet hours)"), required=False
    )
    requires_ack = forms.BooleanField(
        label=_("Ask for an acknowledgement"), required=False
    )
    reply_kind = forms.ChoiceField(
        label=_("Answer asked"),
        choices=Notice.ReplyKind.choices,
        initial=Notice.ReplyKind.NONE,
    )
    reply_options = forms.CharField(
        label=_("Options (one per line)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, orgs, **kwargs):
        super().__init__(*args, **kwargs)
        orgs = list(orgs)
        # Choice fields (self.fields is typed as plain Fields).
        self.fields["org"].choices = [(org.pk, org.name) for org in orgs]  # type: ignore[attr-defined]
        if orgs:
            self.fields["org"].initial = orgs[0].pk
        classes = list(
            SchoolClass.objects.filter(org__in=orgs)
            .select_related("org")
            .order_by("org__name", "title")
        )
        several = len(orgs) > 1
        self.fields["classes"].choices = [  # type: ignore[attr-defined]
            (c.pk, f"{c.title} ({c.org.name})" if several else c.title) for c in classes
        ]
        self.fields["classes"].widget.attrs["size"] = str(min(10, max(3, len(classes))))
        self.fields["levels"].choices = [  # type: ignore[attr-defined]
            (level, level) for level in audiences.levels_of(classes)
        ]

    def audience(self) -> dict:
        data = self.cleaned_data
        return {
            "roles": data["roles"],
            "levels": data["levels"],
            "classes": data["classes"],
        }

    def options(self) -> list[str]:
        return [
            line.strip()
            for line in self.cleaned_data["reply_options"].splitlines()
            if line.strip()
        ]


class NoticeChangeForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    body = body_field()
    urgent = forms.BooleanField(
        label=_("Urgent (sent even during quiet hours)"), required=False
    )
