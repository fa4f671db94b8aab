"""Forms of the messaging pages: parsing and validation only.

The rules (who may write to whom, lengths, files, rates) are checked by
``core.messaging.actions``; these forms only read what the browser sent and
offer the choices the rules allow, so a forged id is refused twice.
"""

import uuid
from collections import defaultdict

from django import forms
from django.utils.translation import gettext_lazy as _

from core.messaging.models import Conversation
from core.roster.access import students_of_class
from core.roster.models import Enrollment, GuardianLink, SchoolClass, User

# Generous bounds: the actions give the precise refusals ("too_long"...).
MAX_POSTED_CHARS = 200_000

ROLE_GROUPS = [
    (User.Role.ADMINISTRATOR, _("School life")),
    (User.Role.TEACHER, _("Teachers")),
    (User.Role.GUARDIAN, _("Guardians")),
    (User.Role.STUDENT, _("Pupils")),
]


def new_key() -> str:
    """Return a fresh idempotency key for a form the server draws."""
    return uuid.uuid4().hex


class MessageForm(forms.Form):
    """A reply: its text and the client's idempotency key (files come apart)."""

    body = forms.CharField(
        required=False, strip=False, max_length=MAX_POSTED_CHARS, widget=forms.Textarea
    )
    idempotency_key = forms.CharField(max_length=64)
    silent = forms.BooleanField(required=False)
    # In a class-wide conversation, the creator answers one recipient's
    # private thread (their user id); empty: every recipient.
    private_to = forms.IntegerField(required=False, min_value=1, max_value=10**18 - 1)

    def clean_body(self) -> str:
        # Browsers send line breaks as CRLF: count them as one character.
        return self.cleaned_data["body"].replace("\r\n", "\n")


class EditForm(forms.Form):
    body = forms.CharField(
        required=False, strip=False, max_length=MAX_POSTED_CHARS, widget=forms.Textarea
    )

    def clean_body(self) -> str:
        return self.cleaned_data["body"].replace("\r\n", "\n")


class ReportForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)


class ModerationForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            ("hide", _("Hide the message")),
            ("dismiss", _("Dismiss the report")),
            ("suspend", _("Suspend the sender for 7 days")),
            ("hide_suspend", _("Hide and suspend the sender for 7 days")),
        ]
    )


def shortcut_classes(user: User, org_id: int):
    """Return the classes whose guardians ``user`` may address at once.

    A teacher: the classes they teach in the org; school-life staff: every
    class of their org. Others: none.
    """
    if user.role == User.Role.TEACHER:
        return SchoolClass.objects.filter(
            org_id=org_id,
            enrollments__user=user,
            enrollments__role=Enrollment.Role.TEACHER,
        ).distinct()
    if user.role == User.Role.ADMINISTRATOR and user.orgs.filter(pk=org_id).exists():
        return SchoolClass.objects.filter(org_id=org_id)
    return SchoolClass.objects.none()


def guardians_of(students) -> list[User]:
    """Return the active guardians of ``students`` (a queryset or list)."""
    return list(
        User.objects.filter(children__in=students, is_active=True)
        .distinct()
        .order_by("last_name", "first_name")
    )


class PupilChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.last_name} {obj.first_name}"


class NewConversationForm(forms.Form):
    """Subject, recipients among those allowed, reply policy, first message.

    ``allowed`` is :func:`core.messaging.policy.allowed_recipients` for the
    user and org; ``classes`` and ``pupil`` are shortcuts that add the
    guardians of a whole class or of one pupil (teachers and school-life
    staff). ``cleaned_data["audience"]`` is the union, every one of which
    ``actions.start_conversation`` checks again.
    """

    subject = forms.CharField(label=_("Subject"), max_length=200)
    recipients = forms.ModelMultipleChoiceField(
        label=_("Recipients"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    classes = forms.ModelMultipleChoiceField(
        label=_("All guardians of a class"),
        queryset=SchoolClass.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    pupil = PupilChoiceField(
        label=_("Guardians of one pupil"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("— none —"),
    )
    reply_policy = forms.ChoiceField(
        label=_("Replies"),
        choices=Conversation.ReplyPolicy.choices,
        widget=forms.RadioSelect,
        required=False,
        initial=Conversation.ReplyPolicy.SENDER,
    )
    body = forms.CharField(
        label=_("Message"),
        required=False,
        strip=False,
        max_length=MAX_POSTED_CHARS,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    silent = forms.BooleanField(
        label=_("Send without notifying tonight (notification at 7 am)"),
        required=False,
    )

    def __init__(self, *args, user: User, org_id: int, allowed: list[User], **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("idempotency_key", new_key())
        super().__init__(*args, **kwargs)
        self.user = user
        self.org_id = org_id
        self.allowed = allowed
        # Model choice fields (self.fields is typed as plain Fields).
        self.fields["recipients"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            pk__in=[u.pk for u in allowed]
        )
        classes = shortcut_classes(user, org_id).order_by("title")
        self.fields["classes"].queryset = classes  # type: ignore[attr-defined]
        self.fields["pupil"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            enrollments__school_class__in=classes,
            enrollments__role=Enrollment.Role.STUDENT,
        ).distinct()
        self.class_list = list(classes)

    # What the template draws ---------------------------------------------

    def recipient_groups(self) -> list[dict]:
        """Return the allowed recipients by role: ``[{label, people}]``.

        Each person is ``{user, hint, checked}``; ``hint`` says who they are
        for the sender (a guardian's children, a teacher's classes).
        """
        chosen = {str(v) for v in (self["recipients"].value() or [])}
        hints = self._hints()
        groups = []
        for role, label in ROLE_GROUPS:
            people = [
                {
                    "user": u,
                    "hint": hints.get(u.pk, ""),
                    "checked": str(u.pk) in chosen,
                }
                for u in self.allowed
                if u.role == role
            ]
            if people:
                groups.append({"role": role, "label": label, "people": people})
        return groups

    def class_choices(self) -> list[dict]:
        chosen = {str(v) for v in (self["classes"].value() or [])}
        return [{"class": c, "checked": str(c.pk) in chosen} for c in self.class_list]

    def pupil_groups(self) -> list[dict]:
        """Return the pupils of the shortcut classes, by class, for a <select>."""
        chosen = str(self["pupil"].value() or "")
        return [
            {
                "class": c,
                "pupils": [
                    {"user": p, "selected": str(p.pk) == chosen}
                    for p in students_of_class(c)
                ],
            }
            for c in self.class_list
        ]

    def _hints(self) -> dict[int, str]:
        guardians = [u.pk for u in self.allowed if u.role == User.Role.GUARDIAN]
        teachers = [u.pk for u in self.allowed if u.role == User.Role.TEACHER]
        hints: dict[int, list[str]] = defaultdict(list)
        links = (
            GuardianLink.objects.filter(
                guardian_id__in=guardians,
                student__enrollments__school_class__org_id=self.org_id,
                student__enrollments__role=Enrollment.Role.STUDENT,
            )
            .values_list(
                "guardian_id",
                "student__first_name",
                "student__enrollments__school_class__title",
            )
            .distinct()
            .order_by("student__first_name")
        )
        for guardian_id, child, title in links:
            hints[guardian_id].append(f"{child} ({title})")
        taught = (
            Enrollment.objects.filter(
                user_id__in=teachers,
                role=Enrollment.Role.TEACHER,
                school_class__org_id=self.org_id,
            )
            .values_list("user_id", "school_class__title")
            .distinct()
            .order_by("school_class__title")
        )
        for teacher_id, title in taught:
            hints[teacher_id].append(title)
        return {pk: ", ".join(values) for pk, values in hints.items()}

    # Validation ----------------------------------------------------------

    def clean_body(self) -> str:
        return self.cleaned_data["body"].replace("\r\n", "\n")

    def clean(self):
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data
        audience = {u.pk: u for u in data.get("recipients") or []}
        classes = data.get("classes") or []
        for school_class in classes:
            for guardian in guardians_of(students_of_class(school_class)):
                audience.setdefault(guardian.pk, guardian)
        if data.get("pupil"):
            for guardian in guardians_of([data["pupil"]]):
                audience.setdefault(guardian.pk, guardian)
        audience.pop(self.user.pk, None)
        if not self.errors and not audience:
            raise forms.ValidationError(_("Choose at least one recipient."))
        data["audience"] = list(audience.values())
        if not data.get("reply_policy"):
            # A message to whole classes: replies go to the sender only.
            data["reply_policy"] = (
                Conversation.ReplyPolicy.SENDER
                if classes
                else Conversation.ReplyPolicy.ALL
            )
        return data
