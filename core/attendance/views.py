"""Attendance pages. Each view parses, checks access, calls one action, responds."""

import datetime as dt
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core import crypto, files
from core.attendance import access, actions
from core.attendance.forms import ExcuseForm, ReviewForm, parse_marks
from core.attendance.models import AttendanceRecord, Excuse
from core.audit import log as audit
from core.roster.access import students_of_class
from core.roster.models import User

log = logging.getLogger(__name__)


def _day(request) -> dt.date:
    try:
        return dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return timezone.localdate()


@login_required
def index(request):
    """The absences page: roll calls (teacher), absences and excuses (guardian,
    pupil), the excuse queue (school-life staff)."""
    user = request.user
    day = _day(request)
    records = access.visible_records(user)
    student = request.GET.get("student", "")
    if student.isdigit():
        records = records.filter(student_id=int(student))
        actions.log_staff_read(
            user,
            records,
            "attendance.viewed",
            "user",
            int(student),
            subject_id=int(student),
        )
    else:
        actions.log_staff_read(user, records, "attendance.viewed", "attendance_list", 0)
    context = {
        "day": day,
        "records": records[:100],
        "reasons": ExcuseForm.base_fields["reason"].choices,  # type: ignore[attr-defined]  # a ChoiceField
    }
    if user.role == User.Role.TEACHER:
        context["lessons"] = access.lessons_to_call(user, day)
    if user.role == User.Role.ADMINISTRATOR:
        context["queue"] = access.excuse_queue(user)
        context["missing"] = access.missing_roll_calls(user, day)
    return render(request, "attendance/index.html", context)


@login_required
def records_api(request):
    """JSON list of the records the user may see: ``{"records": [...]}``."""
    records = access.visible_records(request.user)
    actions.log_staff_read(
        request.user, records, "attendance.viewed", "attendance_list", 0
    )
    rows = [
        {
            "id": r.pk,
            "student_id": r.student_id,
            "student_name": r.student.get_full_name(),
            "status": r.status,
            "minutes_late": r.minutes_late,
            "lesson": actions.lesson_ref(r.roll_call.occurrence).model_dump(),
            "excuse": _excuse_state(r),
        }
        for r in records[:100]
    ]
    return JsonResponse({"records": rows})


def _excuse_state(record: AttendanceRecord) -> str:
    latest = record.excuses.first()  # newest first (Meta.ordering), prefetched
    return latest.status if latest else ""


@login_required
def roll_call(request, occurrence_id: int):
    """The roll-call form of one lesson (GET) and its submission (POST)."""
    occurrence = access.get_occurrence_for_roll_call(request.user, occurrence_id)
    pupils = list(students_of_class(occurrence.school_class))
    if request.method == "POST":
        try:
            marks = parse_marks(request.POST, [p.pk for p in pupils])
            actions.take_roll_call(
                occurrence=occurrence, teacher=request.user, marks=marks
            )
        except (ValidationError, actions.AttendanceError) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(request, _("Roll call saved."))
            return redirect("attendance:roll_call", occurrence_id=occurrence.pk)
    current = {}
    if hasattr(occurrence, "roll_call"):
        current = {r.student_id: r for r in occurrence.roll_call.records.all()}
    rows = [(p, current.get(p.pk)) for p in pupils]
    audit.record(
        actor=request.user,
        action="roll_call.viewed",
        target_type="occurrence",
        target_id=occurrence.pk,
        org_id=occurrence.school_class.org_id,
    )
    return render(
        request,
        "attendance/roll_call.html",
        {"occurrence": occurrence, "rows": rows, "taken": bool(current)},
    )


@login_required
def excuse(request, record_id: int):
    """A guardian's excuse form for one absence or lateness."""
    record = access.get_record_for_guardian(request.user, record_id)
    state = _excuse_state(record)
    if state in (Excuse.Status.PENDING, Excuse.Status.ACCEPTED):
        messages.info(
            request,
            _("This absence is already excused.")
            if state == Excuse.Status.ACCEPTED
            else _("An excuse for this absence is waiting for the school."),
        )
        return redirect("attendance:index")
    form = ExcuseForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.submit_excuse(
                record=record,
                guardian=request.user,
                reason=form.cleaned_data["reason"],
                comment=form.cleaned_data["comment"],
                document=form.cleaned_data["document"],
            )
        except actions.AttendanceError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Your excuse was sent to the school."))
            return redirect("attendance:index")
    return render(request, "attendance/excuse.html", {"record": record, "form": form})


@require_POST
@login_required
def review(request, excuse_id: int):
    """School-life staff accept or refuse an excuse."""
    excuse = access.get_excuse_for_review(request.user, excuse_id)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to accept or refuse."))
        return redirect("attendance:index")
    try:
        actions.review_excuse(
            excuse=excuse,
            reviewer=request.user,
            accept=form.cleaned_data["decision"] == "accept",
            note=form.cleaned_data["note"],
        )
    except actions.AttendanceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Decision recorded."))
    return redirect("attendance:index")


@login_required
def document(request, excuse_id: int):
    """Serve an excuse's document to the people allowed to see it."""
    excuse = access.get_excuse_document(request.user, excuse_id)
    try:
        data = files.read_decrypted(excuse.document)
    except (FileNotFoundError, crypto.InvalidToken):
        log.error("excuse %s: its document cannot be read", excuse.pk)
        raise Http404("no such document") from None
    audit.record(
        actor=request.user,
        action="excuse.document_downloaded",
        target_type="excuse",
        target_id=excuse.pk,
        org_id=excuse.record.roll_call.occurrence.school_class.org_id,
        subject_id=excuse.record.student_id,
    )
    mime = files.detect(data) or "application/octet-stream"
    return files.serve(data, mime=mime, name=files.download_name("justificatif", mime))
