"""Report card pages and the PDF download. Each view parses, checks access
(``access``), calls one action, responds."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from core.audit import log as audit
from core.grades import averages as rule
from core.reportcards import access, actions
from core.reportcards.download import pdf_response
from core.reportcards.models import (
    MAX_APPRAISAL,
    Publication,
    ReportCard,
    SubjectAppraisal,
)
from core.roster.access import students_of_class
from core.roster.models import User

log = logging.getLogger(__name__)


@login_required
def index(request):
    """Guardians: each child's published cards. Teachers: the appraisals to
    write. School-life staff: their homerooms and periods. Pupils: a note."""
    user = request.user
    if user.role == User.Role.GUARDIAN:
        children = access.cards_for_guardian(user)
        return render(
            request,
            "reportcards/family.html",
            {"children": children, "live": {"kind": "family"}},
        )
    if user.role == User.Role.TEACHER:
        rows = []
        for school_class in access.teacher_classes(user):
            for period in access.periods_of(school_class):
                subjects = access.subjects_to_appraise(user, school_class, period)
                if subjects:
                    rows.append((school_class, period, subjects))
        return render(request, "reportcards/teacher.html", {"rows": rows})
    if user.role == User.Role.ADMINISTRATOR:
        classes = list(access.staff_classes(user))
        published = {
            (p.school_class_id, p.period_id): p
            for p in Publication.objects.filter(school_class__in=classes)
        }
        changed = _changed_since(published.values())
        rows = [
            (
                school_class,
                [
                    (
                        period,
                        published.get((school_class.pk, period.pk)),
                        (school_class.pk, period.pk) in changed,
                    )
                    for period in access.periods_of(school_class)
                ],
            )
            for school_class in classes
        ]
        return render(request, "reportcards/staff.html", {"rows": rows})
    return render(request, "reportcards/pupil.html")


def _changed_since(publications) -> set[tuple[int, int]]:
    """(class id, period id) of the publications whose subject appraisals
    changed after they were published: families have an older card."""
    publications = list(publications)
    if not publications:
        return set()
    latest = (
        SubjectAppraisal.objects.filter(
            school_class_id__in={p.school_class_id for p in publications},
            period_id__in={p.period_id for p in publications},
        )
        .values("school_class_id", "period_id")
        .annotate(last=Max("updated_at"))
    )
    last = {(row["school_class_id"], row["period_id"]): row["last"] for row in latest}
    return {
        (p.school_class_id, p.period_id)
        for p in publications
        if last.get((p.school_class_id, p.period_id))
        and last[(p.school_class_id, p.period_id)] > p.published_at
    }


def _texts(request, pupils) -> dict[int, str]:
    """The posted ``appraisal-<pupil id>`` fields of ``pupils``."""
    return {
        pupil.pk: request.POST[f"appraisal-{pupil.pk}"]
        for pupil in pupils
        if f"appraisal-{pupil.pk}" in request.POST
    }


@login_required
def subject_page(request, class_id: int, period_id: int):
    """A teacher's appraisals of one subject: a textarea per pupil, with the
    pupil's average in the subject for the period."""
    user = request.user
    school_class = access.get_teacher_class(user, class_id)
    period = access.get_period(school_class, period_id)
    subjects = access.subjects_to_appraise(user, school_class, period)
    subject = (request.POST.get("subject") or request.GET.get("subject") or "").strip()
    if not subject and subjects:
        subject = subjects[0]
    if subject not in subjects:
        raise Http404("no such subject")
    pupils = list(students_of_class(school_class))
    posted = {}
    if request.method == "POST":
        posted = _texts(request, pupils)
        try:
            changed = actions.save_subject_appraisals(
                teacher=user,
                school_class=school_class,
                period=period,
                subject=subject,
                texts=posted,
            )
        except actions.ReportCardError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                ngettext(
                    "Appraisals saved (%(count)s changed).",
                    "Appraisals saved (%(count)s changed).",
                    changed,
                )
                % {"count": changed},
            )
            if changed and access.publication_of(school_class, period):
                messages.warning(
                    request,
                    _(
                        "These report cards are already published: families keep "
                        "the previous version until the school-life staff publish "
                        "them again."
                    ),
                )
            return redirect(f"{request.path}?{urlencode({'subject': subject})}")
    saved = {
        a.student_id: a.text
        for a in SubjectAppraisal.objects.filter(
            school_class=school_class, period=period, subject=subject
        )
    }
    pupil_averages = rule.subject_averages([p.pk for p in pupils], period)
    audit.record_read(
        actor=user,
        action="reportcards.subject_viewed",
        target_type="school_class",
        target_id=school_class.pk,
        org_ids=[school_class.org_id],
        detail={"period": period.pk, "subject": subject, "pupils": len(pupils)},
    )
    rows = [
        (
            pupil,
            pupil_averages.get(pupil.pk, {}).get(subject),
            posted.get(pupil.pk, saved.get(pupil.pk, "")),
        )
        for pupil in pupils
    ]
    return render(
        request,
        "reportcards/subject.html",
        {
            "school_class": school_class,
            "period": period,
            "subject": subject,
            "subjects": subjects,
            "rows": rows,
            "max_length": MAX_APPRAISAL,
        },
    )


def _class_rows(school_class, period, posted):
    pupils = list(students_of_class(school_class))
    cards = {
        c.student_id: c
        for c in ReportCard.objects.filter(
            period=period, student_id__in=[p.pk for p in pupils]
        )
    }
    pupil_averages = rule.subject_averages([p.pk for p in pupils], period)
    return [
        (
            pupil,
            rule.overall(pupil_averages.get(pupil.pk, {})),
            cards.get(pupil.pk),
            posted.get(
                pupil.pk,
                cards[pupil.pk].head_appraisal if pupil.pk in cards else "",
            ),
        )
        for pupil in pupils
    ], pupils


@login_required
def class_page(request, class_id: int, period_id: int):
    """School-life staff: the head teacher's appraisals of a homeroom for a
    period, each card's generation, the publish button (audited read)."""
    user = request.user
    school_class = access.get_staff_class(user, class_id)
    period = access.get_period(school_class, period_id)
    posted = {}
    if request.method == "POST":
        pupils = list(students_of_class(school_class))
        posted = _texts(request, pupils)
        try:
            changed = actions.save_head_appraisals(
                staff=user, school_class=school_class, period=period, texts=posted
            )
        except actions.ReportCardError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                ngettext(
                    "Appraisals saved (%(count)s changed).",
                    "Appraisals saved (%(count)s changed).",
                    changed,
                )
                % {"count": changed},
            )
            return redirect("reportcards:class", class_id=class_id, period_id=period_id)
    rows, pupils = _class_rows(school_class, period, posted)
    audit.record_read(
        actor=user,
        action="reportcards.class_viewed",
        target_type="school_class",
        target_id=school_class.pk,
        org_ids=[school_class.org_id],
        detail={"period": period.pk, "pupils": len(pupils)},
    )
    cards = [card for _p, _a, card, _t in rows if card]
    publication = access.publication_of(school_class, period)
    return render(
        request,
        "reportcards/class.html",
        {
            "school_class": school_class,
            "period": period,
            "rows": rows,
            "publication": publication,
            "changed_since": bool(publication and _changed_since([publication])),
            "pending": sum(c.status == ReportCard.Status.PENDING for c in cards),
            "ready": sum(c.status == ReportCard.Status.READY for c in cards),
            "failed": sum(c.status == ReportCard.Status.FAILED for c in cards),
            "max_length": MAX_APPRAISAL,
            "live": {"kind": "staff", "class": school_class.pk, "period": period.pk},
        },
    )


@require_POST
@login_required
def publish(request, class_id: int, period_id: int):
    school_class = access.get_staff_class(request.user, class_id)
    period = access.get_period(school_class, period_id)
    try:
        actions.publish(staff=request.user, school_class=school_class, period=period)
    except actions.ReportCardError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _(
                "Published: the report cards are being generated; families "
                "will be told when they are ready."
            ),
        )
    return redirect("reportcards:class", class_id=class_id, period_id=period_id)


@login_required
def download(request, card_id: int):
    """A card's PDF: the pupil's current guardians, or staff (audited)."""
    return pdf_response(request.user, card_id)
