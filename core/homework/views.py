"""Homework pages and endpoints. Each view parses, checks access (``access``),
calls one action, responds."""

import datetime as dt
import json
import logging
import tempfile
import zipfile
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core import crypto, files
from core.audit import log as audit
from core.homework import access, actions, uploads, workload
from core.homework.forms import HandInForm, HomeworkForm, ReturnForm, SessionContentForm
from core.homework.models import Attachment, HandIn, Homework
from core.roster.access import students_of_class
from core.roster.models import Enrollment, SchoolClass, User
from core.timetable.models import Occurrence

log = logging.getLogger(__name__)
# How far from today the workload API looks (a date past it is refused).
WORKLOAD_REACH = dt.timedelta(days=366)
# Characters no file name in a zip should hold (separators, Windows' reserved).
UNSAFE_IN_NAMES = frozenset('/\\:*?"<>|')
# The zip's list of hand-ins whose file could not be read.
MISSING_LIST = "MANQUANTS.txt"


def _int(value) -> int | None:
    return int(value) if isinstance(value, str) and value.isdecimal() else None


def _groups(items, today: dt.date) -> list[tuple[str, str, list]]:
    """Split a pupil's items into today, tomorrow, this week, later."""
    tomorrow = today + dt.timedelta(days=1)
    sunday = today + dt.timedelta(days=6 - today.weekday())
    groups: list[tuple[str, str, list]] = [
        ("today", _("For today"), []),
        ("tomorrow", _("For tomorrow"), []),
        ("week", _("This week"), []),
        ("later", _("Later"), []),
    ]
    for item in items:
        due = item.homework.due_date
        index = (
            0 if due == today else 1 if due == tomorrow else 2 if due <= sunday else 3
        )
        groups[index][2].append(item)
    return groups


@login_required
def index(request):
    """The notebook: a pupil's or a child's "à faire" list, a teacher's
    classes and hand-ins to review, the staff's classes."""
    user = request.user
    if user.role in (User.Role.STUDENT, User.Role.GUARDIAN):
        return _family_page(request)
    context: dict[str, Any] = {
        "classes": access.readable_classes(user).order_by("title")
    }
    if user.role == User.Role.TEACHER:
        context["classes"] = access.writable_classes(user)
        context["to_review"] = list(access.handins_to_review(user)[:50])
        actions.log_handins_listed(user, context["to_review"])
    return render(request, "homework/index.html", context)


def _family_page(request):
    user = request.user
    children = access.pupils_of_user(user)
    if not children:
        return render(request, "homework/notebook.html", {"groups": [], "children": []})
    pupil = access.get_pupil(user, _int(request.GET.get("child")))
    today = timezone.localdate()
    items = access.due_between(pupil, today, today + access.HORIZON)
    classes = SchoolClass.objects.filter(
        enrollments__user=pupil, enrollments__role=Enrollment.Role.STUDENT
    ).order_by("title")
    return render(
        request,
        "homework/notebook.html",
        {
            "pupil": pupil,
            "classes": classes,
            "children": children if user.role == User.Role.GUARDIAN else [],
            "groups": _groups(items, today),
            "can_tick": user.role == User.Role.STUDENT,
            "handin_form": HandInForm(),
            "max_file_bytes": uploads.MAX_FILE_BYTES,
            "now": timezone.now(),
            "live": {
                "pupil": pupil.pk,
                "classes": [c.pk for c in classes],
            },
        },
    )


@login_required
def class_page(request, class_id: int):
    """A class's homework: the teacher's form, the list, the workload."""
    user = request.user
    school_class = access.get_class_for_team(user, class_id)
    teaching = access.writable_classes(user).filter(pk=school_class.pk).exists()
    subjects = access.subjects_taught(user, school_class) if teaching else []
    timetabled = Occurrence.objects.filter(school_class=school_class).exists()
    form = HomeworkForm(
        request.POST or None,
        request.FILES or None,
        subjects=subjects if timetabled else None,
    )
    if request.method == "POST":
        if not teaching:
            raise Http404("no such class")
        if form.is_valid():
            data = form.cleaned_data
            try:
                checked = form.checked_files(request.FILES)
                actions.set_homework(
                    teacher=user,
                    school_class=school_class,
                    subject=data["subject"],
                    due_date=data["due_date"],
                    attachments=checked,
                    **form.details(),
                )
            except (uploads.FileRefused, actions.HomeworkError) as error:
                messages.error(request, str(error))
            else:
                messages.success(request, _("Homework saved."))
                return redirect("homework:class", class_id=school_class.pk)
    elif subjects:
        form.initial["subject"] = subjects[0]
    today = timezone.localdate()
    rows = list(
        access.visible(user)
        .filter(school_class=school_class, due_date__gte=today)
        .order_by("due_date", "subject")
    )
    managed = access.pairs_taught(
        user, {(hw.school_class_id, hw.subject) for hw in rows}
    )
    items = [(hw, (hw.school_class_id, hw.subject) in managed) for hw in rows]
    days = workload.workload(
        school_class, today, today + dt.timedelta(days=workload.DAYS_SHOWN), user
    )
    return render(
        request,
        "homework/class.html",
        {
            "school_class": school_class,
            "teaching": teaching,
            "subjects": subjects,
            "form": form,
            "items": items,
            "days": days,
            "now": timezone.now(),
        },
    )


@login_required
def workload_api(request, class_id: int):
    """JSON workload of a class for the form: ``{"days": [...]}``."""
    school_class = access.get_writable_class(request.user, class_id)
    today = timezone.localdate()
    raw = request.GET.get("from", "")
    try:
        first = dt.date.fromisoformat(raw) if raw else today
    except ValueError:
        first = None
    if first is None or not (today - WORKLOAD_REACH <= first <= today + WORKLOAD_REACH):
        return JsonResponse(
            {"error": _("Choose a date within a year of today.")}, status=400
        )
    days = workload.workload(
        school_class,
        first,
        first + dt.timedelta(days=workload.DAYS_SHOWN),
        request.user,
    )
    return JsonResponse({"days": workload.as_json(days)})


@login_required
def edit(request, homework_id: int):
    """Change a homework (its teacher or a teacher of its subject in its class)."""
    homework = access.get_homework_to_manage(request.user, homework_id)
    initial = {
        "subject": homework.subject,
        "title": homework.title,
        "kind": homework.kind,
        "text": homework.text,
        "links": "\n".join(homework.links),
        "due_date": homework.due_date,
        "handin_required": homework.handin_required,
        "handin_deadline": timezone.localtime(homework.handin_deadline).strftime(
            "%Y-%m-%dT%H:%M"
        )
        if homework.handin_deadline
        else None,
        "late_allowed": homework.late_allowed,
        "publish_at": None
        if homework.published
        else timezone.localtime(homework.publish_at).strftime("%Y-%m-%dT%H:%M"),
    }
    form = HomeworkForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            checked = form.checked_files(request.FILES)
            actions.change_homework(
                homework=homework,
                teacher=request.user,
                attachments=checked,
                remove_attachments=[
                    int(pk) for pk in request.POST.getlist("remove") if pk.isdecimal()
                ],
                due_date=form.cleaned_data["due_date"] or homework.due_date,
                **form.details(),
            )
        except (uploads.FileRefused, actions.HomeworkError) as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Homework changed."))
            return redirect("homework:class", class_id=homework.school_class_id)
    return render(request, "homework/edit.html", {"homework": homework, "form": form})


@require_POST
@login_required
def remove(request, homework_id: int):
    homework = access.get_homework_to_manage(request.user, homework_id)
    actions.remove_homework(homework=homework, teacher=request.user)
    messages.success(request, _("Homework removed."))
    return redirect("homework:class", class_id=homework.school_class_id)


@require_POST
@login_required
def done(request, homework_id: int):
    """Tick or untick "fait": JSON ``{"done": true}`` (or a form field)."""
    homework = access.get_pupil_homework(request.user, homework_id)
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"error": _("Malformed request.")}, status=400)
        value = body.get("done") if isinstance(body, dict) else None
    else:
        value = request.POST.get("done") in ("1", "true", "on")
    if not isinstance(value, bool):
        return JsonResponse({"error": _("Malformed request.")}, status=400)
    actions.set_done(homework=homework, student=request.user, done=value)
    return JsonResponse({"id": homework.pk, "done": value})


@require_POST
@login_required
def hand_in(request, homework_id: int):
    """A pupil hands work in (multipart ``file``)."""
    homework = access.get_pupil_homework(request.user, homework_id)
    form = HandInForm(request.POST, request.FILES)
    if not form.is_valid():
        errors = form.errors.get("file") or [_("Choose a file to hand in.")]
        messages.error(request, " ".join(str(e) for e in errors))
        return redirect("homework:index")
    try:
        checked = uploads.check(form.cleaned_data["file"])
        handin = actions.hand_in(
            homework=homework, student=request.user, upload=checked
        )
    except (uploads.FileRefused, actions.HomeworkError) as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("Handed in late.") if handin.late else _("Handed in. Well done!"),
        )
    return redirect("homework:index")


def _handin_rows(homework: Homework):
    handins = {
        h.student_id: h for h in homework.handins.select_related("student").all()
    }
    return [
        (pupil, handins.get(pupil.pk))
        for pupil in students_of_class(homework.school_class)
    ]


@login_required
def handins(request, homework_id: int):
    """Who has handed in (on time, late, missing); return comments."""
    homework = access.get_homework_to_manage(request.user, homework_id)
    rows = _handin_rows(homework)
    audit.record_read(
        actor=request.user,
        action="handins.viewed",
        target_type="homework",
        target_id=homework.pk,
        org_ids=[homework.school_class.org_id],
    )
    return render(
        request,
        "homework/handins.html",
        {"homework": homework, "rows": rows, "return_form": ReturnForm()},
    )


@require_POST
@login_required
def return_handin(request, handin_id: int):
    handin = access.get_handin_for_teacher(request.user, handin_id)
    form = ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write a comment."))
    else:
        actions.return_handin(
            handin=handin, teacher=request.user, comment=form.cleaned_data["comment"]
        )
        messages.success(request, _("Returned to the pupil."))
    return redirect("homework:handins", homework_id=handin.homework_id)


def _read(handin: HandIn) -> bytes:
    try:
        return files.read_decrypted(handin.file)
    except (FileNotFoundError, crypto.InvalidToken):
        log.error("hand-in %s: its file cannot be read", handin.pk)
        raise Http404("no such file") from None


@login_required
def handin_file(request, handin_id: int):
    """A hand-in's file: for its teacher (logged) or its pupil and guardians."""
    user = request.user
    if user.role == User.Role.TEACHER:
        handin = access.get_handin_for_teacher(user, handin_id)
        audit.record(
            actor=user,
            action="handin.downloaded",
            target_type="handin",
            target_id=handin.pk,
            org_id=handin.homework.school_class.org_id,
            subject_id=handin.student_id,
        )
    else:
        handin = access.get_handin_for_family(user, handin_id)
    data = _read(handin)
    mime = files.detect(data) or "application/octet-stream"
    return files.serve(data, mime=mime, name=files.download_name(handin.name, mime))


def zip_name(pupil: User, name: str, mime: str, taken: set[str]) -> str:
    """ "Nom Prénom - devoir.pdf", unique within the archive."""
    person = "".join(
        ch
        for ch in f"{pupil.last_name} {pupil.first_name}"
        if ch.isprintable() and ch not in UNSAFE_IN_NAMES
    ).strip(" .")
    person = person[:80] or "eleve"
    base = f"{person} - {files.download_name(name, mime)}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        stem, _dot, ext = base.rpartition(".")
        candidate = f"{stem} ({n}).{ext}"
    taken.add(candidate)
    return candidate


@login_required
def handins_zip(request, homework_id: int):
    """Every hand-in of a homework as one zip (audit: a staff read of minors' data).

    A file that cannot be read (lost, undecryptable) is logged and left
    out; :data:`MISSING_LIST` in the zip names those pupils."""
    homework = access.get_homework_to_manage(request.user, homework_id)
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    taken: set[str] = set()
    count = 0
    missing: list[str] = []
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
        for pupil, handin in _handin_rows(homework):
            if handin is None:
                continue
            try:
                data = _read(handin)
            except Http404:  # logged by _read; the others still come
                missing.append(f"{pupil.last_name} {pupil.first_name} - {handin.name}")
                continue
            mime = files.detect(data) or "application/octet-stream"
            archive.writestr(zip_name(pupil, handin.name, mime, taken), data)
            count += 1
        if missing:
            note = _("These hand-ins could not be read; ask the pupils again:")
            archive.writestr(
                MISSING_LIST, "\r\n".join([note, "", *missing, ""]).encode()
            )
    audit.record_read(
        actor=request.user,
        action="handins.downloaded",
        target_type="homework",
        target_id=homework.pk,
        org_ids=[homework.school_class.org_id],
        detail={"files": count, "missing": len(missing)},
    )
    spool.seek(0)
    name = get_valid_filename(
        f"{homework.school_class.title} {homework.subject} {homework.due_date}"
    )
    response = FileResponse(spool, as_attachment=True, filename=f"{name}.zip")
    response["Content-Type"] = "application/zip"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def attachment(request, attachment_id: int):
    """A teacher's file, for the readers of its homework."""
    item = (
        Attachment.objects.filter(
            pk=attachment_id, homework__in=_readable_homework(request.user)
        )
        .select_related("homework")
        .first()
    )
    if item is None:
        raise Http404("no such file")
    try:
        with item.file.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise Http404("no such file") from None
    return files.serve(data, mime=item.mime, name=item.name)


def _readable_homework(user):
    if user.role == User.Role.STUDENT:
        return access.for_pupil(user)
    if user.role == User.Role.GUARDIAN:
        ids: set[int] = set()
        for child in access.pupils_of_user(user):
            ids.update(access.for_pupil(child).values_list("pk", flat=True))
        return Homework.objects.filter(pk__in=ids)
    return access.visible(user)


@login_required
def items_api(request):
    """JSON of the notebook ``?child=``: ``{"items": [...]}`` with state."""
    pupil = access.get_pupil(request.user, _int(request.GET.get("child")))
    today = timezone.localdate()
    items = access.due_between(pupil, today, today + access.HORIZON)
    return JsonResponse({"items": [actions.item_json(item) for item in items]})


@login_required
def sessions(request, class_id: int):
    """The session log ("contenu des séances") of a class; teachers write it."""
    user = request.user
    school_class = access.get_class_for_reader(user, class_id)
    lessons = access.session_lessons(school_class)
    writable = set()
    if user.role == User.Role.TEACHER:
        subjects = set(access.subjects_taught(user, school_class))
        writable = {o.pk for o in lessons if o.subject in subjects}
        writable |= access.lessons_named_on(user, lessons)
    return render(
        request,
        "homework/sessions.html",
        {
            "school_class": school_class,
            "lessons": lessons,
            "writable": writable,
            "form": SessionContentForm(),
        },
    )


@require_POST
@login_required
def write_session(request, occurrence_id: int):
    occurrence = access.get_occurrence_to_write(request.user, occurrence_id)
    form = SessionContentForm(request.POST)
    if form.is_valid():
        try:
            actions.write_session_content(
                occurrence=occurrence,
                teacher=request.user,
                text=form.cleaned_data["text"],
            )
        except actions.HomeworkError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Lesson content saved."))
    else:
        messages.error(request, _("Write what was done in the lesson."))
    return redirect("homework:sessions", class_id=occurrence.school_class_id)
