"""School-life notice pages. Each view parses, checks access (``access``),
calls one action, responds."""

import csv
import io
import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from core import files, spreadsheet
from core.audit import log as audit
from core.homework import uploads
from core.messaging.render import render_message
from core.schoollife import access, actions
from core.schoollife.forms import NoticeChangeForm, NoticeForm
from core.schoollife.models import Acknowledgement, Notice

# How many of their orgs' latest notices the staff list shows with counts.
STAFF_LIST = 30


def _reply_label(notice: Notice, reply: str) -> str:
    if notice.reply_kind == Notice.ReplyKind.YES_NO:
        return {"yes": _("Yes"), "no": _("No")}.get(reply, reply)
    return reply


@login_required
def index(request):
    """Staff: their schools' notices with counts. Members: "Informations"."""
    user = request.user
    if access.is_publisher(user):
        notices = list(access.staff_notices(user)[:STAFF_LIST])
        rows = [
            (notice, done, total)
            for notice, (done, total) in zip(
                notices, actions.counts(notices), strict=True
            )
        ]
        return render(request, "schoollife/staff_list.html", {"rows": rows})
    notices = access.notices_for(user)
    acked = {
        ack.notice_id: ack
        for ack in Acknowledgement.objects.filter(user=user, notice__in=notices)
    }
    items = [(notice, acked.get(notice.pk)) for notice in notices]
    # What still asks for me first, then the newest.
    items.sort(key=lambda item: not (item[0].requires_ack and item[1] is None))
    return render(request, "schoollife/list.html", {"items": items})


@login_required
def compose(request):
    """The staff's form: audience, text, files, schedule, acknowledgement."""
    user = request.user
    orgs = list(access.publishing_orgs(user))
    if not orgs:
        raise Http404("not a publisher")
    form = NoticeForm(request.POST or None, request.FILES or None, orgs=orgs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        org = next(org for org in orgs if org.pk == data["org"])
        publish_at = data["publish_at"]
        try:
            checked = [uploads.check(f) for f in data["attachments"]]
            notice = actions.publish_notice(
                author=user,
                org=org,
                title=data["title"],
                body=data["body"],
                audience=form.audience(),
                attachments=checked,
                publish_at=publish_at,
                urgent=data["urgent"],
                requires_ack=data["requires_ack"],
                reply_kind=data["reply_kind"],
                reply_options=form.options(),
            )
        except (uploads.FileRefused, actions.NoticeError) as error:
            messages.error(request, str(error))
        else:
            if notice.published_at:
                messages.success(request, _("Notice published."))
            else:
                messages.success(request, _("Notice planned."))
            return redirect("schoollife:status", notice_id=notice.pk)
    return render(request, "schoollife/compose.html", {"form": form})


@login_required
def notice_page(request, notice_id: int):
    """A notice as its members read it, with "J'ai pris connaissance"."""
    notice = access.get_notice_for_reader(request.user, notice_id)
    ack = Acknowledgement.objects.filter(notice=notice, user=request.user).first()
    return render(
        request,
        "schoollife/notice.html",
        {
            "notice": notice,
            "body": render_message(notice.body),
            "ack": ack,
            "reply_label": _reply_label(notice, ack.reply) if ack else "",
        },
    )


@require_POST
@login_required
def acknowledge(request, notice_id: int):
    notice = access.get_notice_for_reader(request.user, notice_id)
    try:
        actions.acknowledge(
            notice=notice, user=request.user, reply=request.POST.get("reply", "")
        )
    except actions.NoticeError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Thank you: your acknowledgement is recorded."))
    return redirect("schoollife:notice", notice_id=notice.pk)


def _log_read(request, notice: Notice, action: str) -> None:
    """A staff read of the list (it names pupils with their guardians)."""
    audit.record_read(
        actor=request.user,
        action=action,
        target_type="notice",
        target_id=notice.pk,
        org_ids={notice.org_id},
    )


@login_required
def status(request, notice_id: int):
    """Per class, who has acknowledged and who has not (live)."""
    notice = access.get_notice_for_staff(request.user, notice_id)
    blocks = access.acknowledgement_table(notice)
    _log_read(request, notice, "notice.acknowledgements_read")
    reached = {row.user.pk for b in blocks for row in b.acknowledged + b.waiting}
    acked = {row.user.pk for b in blocks for row in b.acknowledged}
    return render(
        request,
        "schoollife/status.html",
        {
            "notice": notice,
            "body": render_message(notice.body),
            "blocks": blocks,
            "acknowledged": len(acked),
            "total": len(reached),
            "token": secrets.token_hex(16),
            "reply_labels": {"yes": _("Yes"), "no": _("No")},
            "live": {"notice": notice.pk},
        },
    )


@login_required
def edit(request, notice_id: int):
    notice = access.get_notice_for_staff(request.user, notice_id)
    if notice.withdrawn_at:
        raise Http404("withdrawn")
    form = NoticeChangeForm(
        request.POST or None,
        initial={"title": notice.title, "body": notice.body, "urgent": notice.urgent},
    )
    if request.method == "POST" and form.is_valid():
        try:
            actions.change_notice(
                notice=notice, actor=request.user, **form.cleaned_data
            )
        except actions.NoticeError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Notice changed."))
            return redirect("schoollife:status", notice_id=notice.pk)
    return render(request, "schoollife/edit.html", {"notice": notice, "form": form})


@require_POST
@login_required
def withdraw(request, notice_id: int):
    notice = access.get_notice_for_staff(request.user, notice_id)
    actions.withdraw_notice(notice=notice, actor=request.user)
    messages.success(request, _("Notice withdrawn."))
    return redirect("schoollife:index")


@require_POST
@login_required
def remind(request, notice_id: int):
    notice = access.get_notice_for_staff(request.user, notice_id)
    try:
        sent = actions.remind(
            notice=notice, actor=request.user, token=request.POST.get("token", "")
        )
    except actions.NoticeError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            ngettext(
                "Reminder sent to %(count)s person.",
                "Reminder sent to %(count)s people.",
                sent,
            )
            % {"count": sent},
        )
    return redirect("schoollife:status", notice_id=notice.pk)


@login_required
def export(request, notice_id: int):
    """The acknowledgement list as CSV (UTF-8 with BOM, ``;``: Excel FR)."""
    notice = access.get_notice_for_staff(request.user, notice_id)
    blocks = access.acknowledgement_table(notice)
    _log_read(request, notice, "notice.acknowledgements_exported")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(
        [
            _("Class"),
            _("Last name"),
            _("First name"),
            _("Role"),
            _("Children"),
            _("Acknowledged"),
            _("On"),
            _("Answer"),
        ]
    )
    zone = timezone.get_current_timezone()
    for block in blocks:
        title = block.school_class.title if block.school_class else _("School")
        for row in block.acknowledged + block.waiting:
            ack = row.acknowledgement
            writer.writerow(
                [
                    spreadsheet.cell(title),
                    spreadsheet.cell(row.user.last_name),
                    spreadsheet.cell(row.user.first_name),
                    row.user.get_role_display(),
                    spreadsheet.cell(", ".join(row.children)),
                    _("yes") if ack else _("no"),
                    ack.acknowledged_at.astimezone(zone).strftime("%d/%m/%Y %H:%M")
                    if ack
                    else "",
                    spreadsheet.cell(_reply_label(notice, ack.reply)) if ack else "",
                ]
            )
    response = HttpResponse(
        "\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="accuses-de-lecture-{notice.pk}.csv"'
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def attachment(request, attachment_id: int):
    item = access.get_attachment(request.user, attachment_id)
    try:
        with item.file.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise Http404("file gone") from None
    return files.serve(data, mime=item.mime, name=item.name)
