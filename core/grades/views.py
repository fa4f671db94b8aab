"""Grades pages and the CSV export. Each view parses, checks access
(``access``), calls one action, responds."""

import csv
from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core import spreadsheet
from core.audit import log as audit
from core.grades import access, actions, averages, notes
from core.grades.forms import EvaluationForm, PeriodForm, PolicyForm
from core.grades.models import Evaluation, Period, SkillLevel
from core.roster.access import students_of_class
from core.roster.models import AcademicSession, SchoolClass, User
from core.timetable.models import Occurrence

# The brackets of the distribution (/20): [low, high[, the last closed.
BRACKETS = [(0, 5), (5, 8), (8, 10), (10, 12), (12, 14), (14, 16), (16, 20)]


def _int(value) -> int | None:
    return int(value) if isinstance(value, str) and value.isdecimal() else None


def _fr(value: Decimal | None) -> str:
    """ "12,50" for the CSV (French Excel), "" for none."""
    return "" if value is None else str(averages.rounded(value)).replace(".", ",")


@login_required
def index(request):
    """The Notes page of a pupil or a child; a teacher's evaluations; the
    staff's classes."""
    user = request.user
    if user.role in (User.Role.STUDENT, User.Role.GUARDIAN):
        return _notes_page(request)
    if user.role == User.Role.TEACHER:
        return _teacher_page(request)
    classes = access.staff_classes(user).select_related("org").order_by("title")
    return render(request, "grades/staff.html", {"classes": classes})


def _teacher_page(request):
    user = request.user
    classes = list(access.teaching_classes(user).select_related("org"))
    periods = list(
        Period.objects.filter(session__in={c.session_id for c in classes}).order_by(
            "start_date"
        )
    )
    period = notes.chosen_period(periods, _int(request.GET.get("period")))
    rows = Evaluation.objects.filter(
        school_class__in=classes, deleted_at__isnull=True
    ).select_related("school_class", "period")
    if period is not None:
        rows = rows.filter(period=period)
    evaluations = access.managed(user, rows.order_by("-date", "pk"))
    per_class = defaultdict(list)
    for evaluation in evaluations:
        per_class[evaluation.school_class_id].append(evaluation)
    return render(
        request,
        "grades/teacher.html",
        {
            "periods": periods,
            "period": period,
            "classes": [(c, per_class[c.pk]) for c in classes],
        },
    )


def _notes_page(request):
    user = request.user
    children = access.pupils_of_user(user)
    if not children:
        return render(request, "grades/notes.html", {"pupil": None})
    pupil = access.get_pupil(user, _int(request.GET.get("child")))
    context = {
        "pupil": pupil,
        "children": children if user.role == User.Role.GUARDIAN else [],
        "live": {"pupil": pupil.pk},
        **notes.pupil_notes(pupil, _int(request.GET.get("period"))),
    }
    return render(request, "grades/notes.html", context)


def _evaluation_form(request, school_class: SchoolClass, user, initial=None):
    timetabled = Occurrence.objects.filter(school_class=school_class).exists()
    subjects = access.subjects_taught(user, school_class) if timetabled else []
    initial = dict(initial or {})
    if subjects and not initial.get("subject"):
        # The subject the teacher's own lessons of the class are in, the most
        # frequent first (not the first one alphabetically).
        mine = (
            Occurrence.objects.filter(school_class=school_class, teachers=user)
            .values("subject")
            .annotate(lessons=Count("pk"))
            .order_by("-lessons", "subject")
            .first()
        )
        if mine and mine["subject"] in subjects:
            initial["subject"] = mine["subject"]
    return EvaluationForm(
        request.POST or None,
        initial=initial,
        periods=Period.objects.filter(session=school_class.session_id),
        skills=actions.skills_for(school_class.org_id),
        subjects=subjects,
    )


def _fields(form: EvaluationForm) -> dict:
    data = form.cleaned_data
    return {
        "title": data["title"],
        "subject": data["subject"],
        "date": data["date"],
        "kind": data["kind"],
        "coefficient": data["coefficient"],
        "out_of": data["out_of"],
        "period": data["period"],
        "skills": list(data["skills"]),
    }


@login_required
def new(request, class_id: int):
    """Create a draft evaluation of a class the teacher teaches."""
    school_class = access.get_class_to_manage(request.user, class_id)
    form = _evaluation_form(
        request, school_class, request.user, initial={"date": timezone.localdate()}
    )
    if request.method == "POST" and form.is_valid():
        try:
            evaluation = actions.create_evaluation(
                teacher=request.user, school_class=school_class, **_fields(form)
            )
        except actions.GradesError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Evaluation created: enter the marks."))
            return redirect("grades:grid", evaluation_id=evaluation.pk)
    return render(
        request,
        "grades/evaluation_form.html",
        {"form": form, "school_class": school_class, "evaluation": None},
    )


@login_required
def edit(request, evaluation_id: int):
    """Change an evaluation's description."""
    evaluation = access.get_evaluation_to_manage(request.user, evaluation_id)
    initial = {
        "title": evaluation.title,
        "subject": evaluation.subject,
        "date": evaluation.date,
        "kind": evaluation.kind,
        "coefficient": actions.cell(evaluation.coefficient, ""),
        "out_of": actions.cell(evaluation.out_of, ""),
        "period": evaluation.period_id,
        "skills": list(evaluation.skills.values_list("pk", flat=True)),
    }
    form = _evaluation_form(request, evaluation.school_class, request.user, initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions.change_evaluation(
                evaluation=evaluation, teacher=request.user, **_fields(form)
            )
        except actions.GradesError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Evaluation changed."))
            return redirect("grades:grid", evaluation_id=evaluation.pk)
    return render(
        request,
        "grades/evaluation_form.html",
        {
            "form": form,
            "school_class": evaluation.school_class,
            "evaluation": evaluation,
        },
    )


def _entries(request, pupils, skills) -> dict[int, actions.Entry]:
    """The grid's rows as posted (``mark-<pupil>``, ``comment-<pupil>``,
    ``skill-<pupil>-<skill>``), for the pupils of the class only."""
    entries = {}
    for pupil in pupils:
        if f"mark-{pupil.pk}" not in request.POST:
            continue
        entries[pupil.pk] = actions.Entry(
            mark=request.POST.get(f"mark-{pupil.pk}", "")[:20],
            comment=request.POST.get(f"comment-{pupil.pk}", ""),
            skills={
                skill.pk: request.POST.get(f"skill-{pupil.pk}-{skill.pk}", "")
                for skill in skills
            },
        )
    return entries


def _distribution(evaluation: Evaluation, marks, threshold: Decimal):
    """Brackets of the /20 marks (count each) and the pupils under the
    threshold (/20), lowest first."""
    zero = averages.policy(evaluation.school_class.org_id).not_submitted_counts_zero
    counts = [0] * len(BRACKETS)
    below: list[tuple[User, Decimal]] = []
    for mark in marks:
        value = averages.on_twenty(mark.value, mark.status, evaluation.out_of, zero)
        if value is None:
            continue
        for index, (low, high) in enumerate(BRACKETS):
            if low <= value < high or (high == 20 and value == 20):
                counts[index] += 1
                break
        if value < threshold:
            below.append((mark.student, averages.rounded(value)))
    total = max(counts) if counts else 0
    return (
        [
            {"low": low, "high": high, "count": count, "max": total or 1}
            for (low, high), count in zip(BRACKETS, counts, strict=True)
        ],
        sorted(below, key=lambda item: item[1]),
    )


@login_required
def grid(request, evaluation_id: int):
    """The marks grid: save a draft, publish, change after publication."""
    evaluation = access.get_evaluation_to_manage(request.user, evaluation_id)
    pupils = list(students_of_class(evaluation.school_class))
    skills = list(evaluation.skills.order_by("code"))
    errors: dict[int, str] = {}
    typed: dict[int, actions.Entry] = {}
    if request.method == "POST":
        typed = _entries(request, pupils, skills)
        publishing = request.POST.get("action") == "publish"
        try:
            actions.save_marks(
                evaluation=evaluation, teacher=request.user, entries=typed
            )
            if publishing:
                actions.publish(evaluation=evaluation, teacher=request.user)
        except actions.GridError as error:
            errors = error.errors
            messages.error(request, str(error))
        except actions.GradesError as error:
            messages.error(request, str(error))
        else:
            if publishing:
                messages.success(request, _("Marks published: families see them."))
            else:
                messages.success(request, _("Marks saved."))
            return redirect("grades:grid", evaluation_id=evaluation.pk)
    marks = {m.student_id: m for m in evaluation.marks.select_related("student")}
    levels: defaultdict[int, dict[int, str]] = defaultdict(dict)
    for student_id, skill_id, level in evaluation.skill_levels.values_list(
        "student_id", "skill_id", "level"
    ):
        levels[student_id][skill_id] = str(level)
    rows = []
    for pupil in pupils:
        mark = marks.get(pupil.pk)
        entry = typed.get(pupil.pk) or actions.Entry(
            mark=actions.cell(mark.value, mark.status) if mark else "",
            comment=mark.comment if mark else "",
            skills=levels[pupil.pk],
        )
        rows.append(
            {
                "pupil": pupil,
                "entry": entry,
                "skills": [(s, entry.skills.get(s.pk, "")) for s in skills],
                "error": errors.get(pupil.pk, ""),
            }
        )
    policy = averages.policy(evaluation.school_class.org_id)
    brackets, below = _distribution(evaluation, marks.values(), policy.alert_below)
    return render(
        request,
        "grades/grid.html",
        {
            "evaluation": evaluation,
            "rows": rows,
            "skills": skills,
            "levels": SkillLevel.Level.choices,
            "stats": averages.evaluation_stats(evaluation),
            "brackets": brackets,
            "below": below,
            "threshold": averages.rounded(policy.alert_below),
            "policy": policy,
        },
    )


@require_POST
@login_required
def remove(request, evaluation_id: int):
    evaluation = access.get_evaluation_to_manage(request.user, evaluation_id)
    actions.remove_evaluation(evaluation=evaluation, teacher=request.user)
    messages.success(request, _("Evaluation removed."))
    return redirect("grades:index")


def _class_table(school_class: SchoolClass, period: Period):
    """Pupils of the class with their subject averages and overall."""
    pupils = list(students_of_class(school_class))
    found = averages.subject_averages([p.pk for p in pupils], period)
    subjects = sorted({s for per in found.values() for s in per})
    rows = [
        (
            pupil,
            [found[pupil.pk].get(subject) for subject in subjects],
            averages.overall(found[pupil.pk]),
        )
        for pupil in pupils
    ]
    return subjects, rows, averages.class_subject_stats(found)


@login_required
def class_summary(request, class_id: int):
    """A class's averages per pupil and subject for a period (its teachers
    and the staff of its org; every read logged)."""
    school_class = access.get_class_for_export(request.user, class_id)
    periods = list(Period.objects.filter(session=school_class.session_id))
    period = notes.chosen_period(periods, _int(request.GET.get("period")))
    subjects, rows, stats = ([], [], {})
    if period is not None:
        subjects, rows, stats = _class_table(school_class, period)
    audit.record_read(
        actor=request.user,
        action="grades.class_viewed",
        target_type="class",
        target_id=school_class.pk,
        org_ids=[school_class.org_id],
        detail={"period": getattr(period, "pk", None)},
    )
    evaluations = []
    if period is not None:
        evaluations = list(
            access.published_evaluations([school_class])
            .filter(period=period)
            .order_by("subject", "date")
        )
    return render(
        request,
        "grades/class.html",
        {
            "school_class": school_class,
            "periods": periods,
            "period": period,
            "subjects": subjects,
            "rows": rows,
            "class_stats": [stats.get(s) for s in subjects],
            "evaluations": evaluations,
        },
    )


@login_required
def export(request, class_id: int):
    """CSV of a class for a period: a row per pupil, a column per subject
    average and the overall average (``;``, decimal comma, UTF-8 with a
    BOM: what French Excel opens). Logged."""
    school_class = access.get_class_for_export(request.user, class_id)
    period = Period.objects.filter(
        org=school_class.org_id,
        pk=_int(request.GET.get("period")),  # type: ignore[misc]  # None: no period
    ).first()
    if period is None:
        raise Http404("no such period")
    subjects, rows, _stats = _class_table(school_class, period)
    audit.record_read(
        actor=request.user,
        action="grades.exported",
        target_type="class",
        target_id=school_class.pk,
        org_ids=[school_class.org_id],
        detail={"period": period.pk, "pupils": len(rows)},
    )
    name = slugify(f"notes-{school_class.title}-{period.title}") or "notes"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response, delimiter=";")
    writer.writerow(
        [
            _("Last name"),
            _("First name"),
            *[spreadsheet.cell(subject) for subject in subjects],
            _("Overall average"),
        ]
    )
    for pupil, values, overall in rows:
        writer.writerow(
            [
                spreadsheet.cell(pupil.last_name),
                spreadsheet.cell(pupil.first_name),
                *[_fr(v) for v in values],
                _fr(overall),
            ]
        )
    return response


@login_required
def periods(request):
    """Staff: the grading periods of their schools, and a form to add one."""
    orgs = access.period_orgs(request.user)
    if not orgs.exists():
        raise Http404("no periods to manage")
    editing = None
    edit_id = _int(request.GET.get("edit"))
    if edit_id:
        editing = access.get_period_to_manage(request.user, edit_id)
    sessions = AcademicSession.objects.filter(org__in=orgs).select_related("org")
    initial = None
    posted = None
    if editing:
        initial = {
            "session": editing.session_id,
            "kind": editing.kind,
            "title": editing.title,
            "start_date": editing.start_date,
            "end_date": editing.end_date,
        }
    settings_post = request.method == "POST" and "settings_org" in request.POST
    if settings_post:
        posted = _save_settings(request, orgs)
        if posted is None:
            return redirect("grades:periods")
    form = PeriodForm(
        None if settings_post else request.POST or None,
        initial=initial,
        sessions=sessions,
    )
    if request.method == "POST" and not settings_post and form.is_valid():
        data = form.cleaned_data
        try:
            actions.save_period(
                actor=request.user,
                org=data["session"].org,
                period=editing,
                **data,
            )
        except actions.GradesError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Period saved."))
            return redirect("grades:periods")
    policies = [
        (
            org,
            posted
            if posted is not None and posted.instance.org_id == org.pk
            else PolicyForm(instance=averages.policy(org.pk), prefix=f"org{org.pk}"),
        )
        for org in orgs.order_by("name")
    ]
    return render(
        request,
        "grades/periods.html",
        {
            "form": form,
            "policies": policies,
            "editing": editing,
            "periods": Period.objects.filter(org__in=orgs).select_related(
                "org", "session"
            ),
        },
    )


def _save_settings(request, orgs):
    """Save the posted grades settings of one of ``orgs``; return ``None``
    when saved, else the bound form (shown again with its errors)."""
    org = orgs.filter(pk=_int(request.POST.get("settings_org"))).first()
    if org is None:
        raise Http404("no such school")
    form = PolicyForm(
        request.POST, instance=averages.policy(org.pk), prefix=f"org{org.pk}"
    )
    if not form.is_valid():
        return form
    actions.save_policy(actor=request.user, policy=form.save(commit=False))
    messages.success(request, _("Grades settings saved."))
    return None
