"""The audit log page: staff with ``audit.view_auditentry`` search their schools' entries."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.audit import access
from core.audit import log as audit
from core.audit.forms import AuditFilterForm

PAGE_SIZE = 50


@require_GET
@login_required
def audit_log(request):
    """Filter by who, action, target, pupil and dates; reading is itself logged."""
    user = request.user
    if not access.may_read_log(user):
        raise Http404("no such page")
    form = AuditFilterForm(request.GET)
    entries = access.visible_entries(user)
    filters = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {
            key: str(value) for key, value in data.items() if value not in ("", None)
        }
        if data["who"]:
            entries = entries.filter(actor_name__icontains=data["who"])
        if data["action"]:
            entries = entries.filter(action__startswith=data["action"])
        if data["target_type"]:
            entries = entries.filter(target_type=data["target_type"])
        if data["target_id"] is not None:
            entries = entries.filter(target_id=data["target_id"])
        if data["start"]:
            entries = entries.filter(at__date__gte=data["start"])
        if data["end"]:
            entries = entries.filter(at__date__lte=data["end"])
        if data["pupil"]:
            ids = access.pupils_matching(user, data["pupil"])
            entries = entries.filter(subject_id__in=ids) | entries.filter(
                target_type="user", target_id__in=ids
            )
    else:
        entries = entries.none()
    page = Paginator(entries.order_by("-at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = list(page.object_list)  # read before this reading is logged
    audit.record_read(
        actor=user,
        action="audit_log.viewed",
        target_type="audit_log",
        target_id=0,
        org_ids=user.orgs.values_list("pk", flat=True),
        detail={"filters": filters, "page": page.number},
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/log.html",
        {"form": form, "page": page, "rows": rows, "query": query.urlencode()},
        status=200 if form.is_valid() else 400,
    )
