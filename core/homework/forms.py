"""Forms of the homework pages: parsing and validation only."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.homework import uploads
from core.homework.models import Homework


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


def size_checked(multiple: bool = False) -> dict:
    """The attributes the page's script (homework.js) checks before sending:
    no file over ``uploads.MAX_FILE_BYTES``, at most ``MAX_ATTACHMENTS``."""
    attrs = {
        "data-max-bytes": str(uploads.MAX_FILE_BYTES),
        "data-too-big": _("Each file must be at most 10 MB."),
    }
    if multiple:
        attrs["data-max-files"] = str(uploads.MAX_ATTACHMENTS)
        attrs["data-too-many"] = _("At most 5 files per homework.")
    return attrs


class MultipleFileField(forms.FileField):
    """Several files (Django's documented pattern); checked by ``uploads``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs=size_checked(True)))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class HomeworkForm(forms.Form):
    """A homework as the teacher writes it. Empty due date: the next lesson."""

    subject = forms.CharField(
        label=pgettext_lazy("homework", "Subject"), max_length=300
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Homework.Kind.choices)
    text = forms.CharField(
        label=_("Instructions"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    links = forms.CharField(
        label=_("Links (one per line)"),
        required=False,
        max_length=2600,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    due_date = forms.DateField(
        label=_("Due date"),
        required=False,
        help_text=_("Empty: the next lesson of this class in this subject."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    handin_required = forms.BooleanField(
        label=_("Work to hand in online"), required=False
    )
    handin_deadline = forms.DateTimeField(
        label=_("Hand-in deadline"),
        required=False,
        help_text=_("Empty: 08:00 on the due date."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    late_allowed = forms.BooleanField(
        label=_("Accept late hand-ins (marked late)"), required=False, initial=True
    )
    publish_at = forms.DateTimeField(
        label=_("Visible from"),
        required=False,
        help_text=_("Empty: now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    attachments = MultipleFileField(
        label=_("Files (PDF, image, office document; 10 MB each)"),
        required=False,
    )

    def __init__(self, *args, subjects: list[str] | None = None, **kwargs):
        """``subjects``: the timetable's subjects the teacher may choose from
        (``access.subjects_taught``); ``None`` for a class with no timetable
        (free text)."""
        super().__init__(*args, **kwargs)
        if subjects is not None:
            self.fields["subject"] = forms.ChoiceField(
                label=pgettext_lazy("homework", "Subject"),
                choices=[(s, s) for s in subjects],
            )

    def clean_links(self) -> list[str]:
        return [
            line.strip()
            for line in self.cleaned_data.get("links", "").splitlines()
            if line.strip()
        ]

    def details(self) -> dict:
        """The cleaned fields that setting and changing a homework both pass
        to the action as they are (``actions.set_homework``,
        ``actions.change_homework``); the subject, the due date and the files
        are each view's."""
        return {
            name: self.cleaned_data[name]
            for name in (
                "title",
                "text",
                "kind",
                "links",
                "handin_required",
                "handin_deadline",
                "late_allowed",
                "publish_at",
            )
        }

    def checked_files(self, request_files) -> list[uploads.CheckedFile]:
        """Check the uploaded files (raises ``uploads.FileRefused``)."""
        return [uploads.check(f) for f in request_files.getlist("attachments")]


class HandInForm(forms.Form):
    file = forms.FileField(
        label=_("Your work (PDF, image, office document)"),
        widget=forms.ClearableFileInput(attrs=size_checked()),
    )


class ReturnForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class SessionContentForm(forms.Form):
    text = forms.CharField(
        label=_("What was done"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
