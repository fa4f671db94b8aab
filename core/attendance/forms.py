"""Forms of the attendance pages: parsing and validation only."""

from django import forms
from django.utils.translation import gettext_lazy as _

from core import files
from core.attendance.models import AttendanceRecord, Excuse

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
# What a guardian may attach, decided from the content, not the file name.
ALLOWED_DOCUMENT_TYPES = frozenset(
    {"application/pdf", "image/jpeg", "image/png", "image/webp", "image/heic"}
)


class ExcuseForm(forms.Form):
    """A guardian's excuse: reason from the list, free text, optional document.

    The document is at most 5 MB and must be a PDF or an image by its content
    (magic bytes, ``core.files.detect``); it is stored encrypted under a
    random name and downloads as ``justificatif.<extension of its type>``,
    so a ``.exe`` renamed ``.pdf`` never lands as either.
    """

    reason = forms.ChoiceField(label=_("Reason"), choices=Excuse.Reason.choices)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    document = forms.FileField(
        label=_("Document (PDF or image, 5 MB max)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/*"}),
    )

    def clean_document(self):
        document = self.cleaned_data.get("document")
        if not document:
            return None
        if document.size > MAX_DOCUMENT_BYTES:
            raise forms.ValidationError(_("The document is larger than 5 MB."))
        head = document.read(files.HEAD_BYTES)
        document.seek(0)
        if files.detect(head) not in ALLOWED_DOCUMENT_TYPES:
            raise forms.ValidationError(_("Only PDF files and images are accepted."))
        return document


class ReviewForm(forms.Form):
    """School-life staff's decision on an excuse."""

    decision = forms.ChoiceField(
        choices=[("accept", _("Accept")), ("refuse", _("Refuse"))]
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=300)


def parse_marks(post, pupil_ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """Read ``status-<id>`` and ``minutes-<id>`` fields of the roll-call form.

    Returns ``{pupil_id: (status, minutes_or_None)}`` for the given pupils; a
    missing status means present. Raises ``forms.ValidationError`` on a
    non-numeric minutes field.
    """
    marks = {}
    for pk in pupil_ids:
        status = post.get(f"status-{pk}", AttendanceRecord.Status.PRESENT)
        raw = post.get(f"minutes-{pk}", "").strip()
        minutes = None
        if status == AttendanceRecord.Status.LATE:
            if not raw.isdigit():
                raise forms.ValidationError(
                    _("Give the minutes of lateness as a number.")
                )
            minutes = int(raw)
        marks[pk] = (status, minutes)
    return marks
