"""The admin's roster import pages: upload, and one import's live page.

Served inside the Django admin (``RosterImportAdmin.get_urls``, so
``admin_site.admin_view`` requires an active staff session first):

- ``upload``: "Importer un annuaire", for school-life staff who may add
  roster imports in their orgs (``roster.add_rosterimport``, through
  :func:`core.roster.access.staff_orgs`; superusers). Checks the files, starts the
  import (:func:`core.roster.uploads.start_import`) and redirects to its page.
- ``import_page``: status, a ``<progress>`` bar and, when done, the report.
  ``roster-import.js`` keeps it live from the ``roster.import`` events of the
  admin's ``user:<id>`` stream, and fetches ``import_state`` (the same
  fragment, rendered from the database) when the import ends or the stream
  is reset, so a reload and a live page show the same thing.

Who sees an import (:func:`visible_imports`): the admin who started it,
superusers, and school-life staff with ``roster.view_rosterimport`` of the
starter's orgs; for anyone else it does not exist (404).
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from core.roster.access import staff_orgs
from core.roster.models import RosterImport
from core.roster.uploads import (
    Limits,
    QuotaUploadHandler,
    start_import,
    stored_name,
    upload_storage,
)

REJECTIONS_PER_PAGE = 50

KIND_LABELS = {
    "org": gettext_lazy("Schools"),
    "session": gettext_lazy("Academic sessions"),
    "course": gettext_lazy("Courses"),
    "class": gettext_lazy("Classes"),
    "person": gettext_lazy("People"),
    "enrollment": gettext_lazy("Enrollments"),
    "guardian_link": gettext_lazy("Guardian links"),
}
# One rejected row's kind, as the report lists them.
KIND_SINGULAR = {
    "org": pgettext_lazy("rejected row", "school"),
    "session": pgettext_lazy("rejected row", "academic session"),
    "course": pgettext_lazy("rejected row", "course"),
    "class": pgettext_lazy("rejected row", "class"),
    "person": pgettext_lazy("rejected row", "person"),
    "enrollment": pgettext_lazy("rejected row", "enrollment"),
    "guardian_link": pgettext_lazy("rejected row", "guardian link"),
}
COUNT_COLUMNS = ("created", "updated", "deactivated", "unchanged", "rejected")


def can_upload(user) -> bool:
    """Return whether ``user`` may start a roster import from the admin:
    superusers, and school-life staff of at least one org holding
    ``roster.add_rosterimport`` (:func:`core.roster.access.staff_orgs`;
    ``is_staff`` alone, or a teacher given the permission, may not)."""
    return (
        user.is_active
        and user.is_staff
        and (user.is_superuser or staff_orgs(user, "roster.add_rosterimport").exists())
    )


def visible_imports(user) -> QuerySet[RosterImport]:
    """Return the imports ``user`` may see: all of them for superusers;
    for staff with ``roster.view_rosterimport``, those started by staff of
    their own orgs; and those they started themselves."""
    imports = RosterImport.objects.select_related("created_by")
    if not (user.is_active and user.is_staff):
        return imports.none()
    if user.is_superuser:
        return imports
    readable = staff_orgs(user, "roster.view_rosterimport")
    return imports.filter(
        Q(created_by=user) | Q(created_by__orgs__in=readable)
    ).distinct()


def get_import_for_user(user, import_id: int) -> RosterImport:
    """Return the import ``import_id`` if ``user`` may see it; raise 404
    otherwise (missing and not allowed look the same)."""
    try:
        return visible_imports(user).get(pk=import_id)
    except RosterImport.DoesNotExist:
        raise Http404(_("No such roster import.")) from None


# Upload ----------------------------------------------------------------------


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file input taking several files; cleans to a list (Django's recipe)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("allow_empty_file", True)  # refused by the form, by name
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


class UploadForm(forms.Form):
    """The files of one import and whether it is a dry run.

    ``problem`` is why :class:`QuotaUploadHandler` stopped the upload (the
    files it kept are then incomplete and refused as a whole).
    """

    # Before the files: a field after a stopped upload never arrives.
    dry_run = forms.BooleanField(
        required=False,
        label=gettext_lazy("Dry run (simulation)"),
        help_text=gettext_lazy(
            "Read the files and show the report without changing anything."
        ),
    )
    # A declared field (the form's metaclass moves it off the class), not
    # BaseForm.files.
    files = MultipleFileField(  # type: ignore[assignment]
        required=False,
        label=gettext_lazy("Files"),
        help_text=gettext_lazy(
            "An AAF set (EtabEducNat, Eleve, PersRelEleve… XML files), "
            "SIECLE exports (XML or CSV), OneRoster CSV files or their zip."
        ),
    )

    def __init__(self, *args, limits: Limits, problem: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.problem = problem

    def clean_files(self) -> list:
        files = self.cleaned_data["files"]
        if self.problem:
            raise ValidationError(self.problem, code="too_big")
        if not files:
            raise ValidationError(
                _("Choose at least one file to import."), code="required"
            )
        if len(files) > self.limits.files:
            raise ValidationError(self.limits.too_many_files(), code="too_many")
        errors = []
        seen = set()
        storage = upload_storage()
        for file in files:
            if not file.size:
                errors.append(_("The file “%(name)s” is empty.") % {"name": file.name})
            elif file.size > self.limits.file_bytes:
                errors.append(self.limits.file_too_big(file.name))
            # Compared as stored (see uploads.stored_name), whatever the case.
            name = stored_name(file, storage).lower()
            if name in seen:
                errors.append(
                    _("Two files are named “%(name)s”: send each file once.")
                    % {"name": file.name}
                )
            seen.add(name)
        if sum(file.size for file in files) > self.limits.total_bytes:
            errors.append(self.limits.total_too_big())
        if errors:
            raise ValidationError(errors)
        return files


@csrf_exempt  # checked below, once the upload handler is in place
def upload(request: HttpRequest, admin_site: admin.AdminSite) -> HttpResponse:
    """Show the upload form; on a valid POST start the import and redirect
    to its page."""
    if not can_upload(request.user):
        raise PermissionDenied
    limits = Limits.from_settings()
    quota = None
    if request.method == "POST":
        # Must be first, before anything reads request.POST or FILES.
        quota = QuotaUploadHandler(request, limits=limits)
        request.upload_handlers.insert(0, quota)
    return _upload(request, admin_site, limits, quota)


@csrf_protect
def _upload(request, admin_site, limits, quota) -> HttpResponse:
    if request.method == "POST":
        form = UploadForm(
            request.POST, request.FILES, limits=limits, problem=quota.problem
        )
        if form.is_valid():
            roster_import = start_import(
                created_by=request.user,
                files=form.cleaned_data["files"],
                dry_run=form.cleaned_data["dry_run"],
            )
            return redirect(
                f"{admin_site.name}:roster_rosterimport_detail",
                import_id=roster_import.pk,
            )
    else:
        form = UploadForm(limits=limits)
    context = {
        **admin_site.each_context(request),
        "opts": RosterImport._meta,
        "title": _("Import a roster"),
        "form": form,
        "limits": {
            "file": filesizeformat(limits.file_bytes),
            "total": filesizeformat(limits.total_bytes),
            "files": limits.files,
        },
        "recent": visible_imports(request.user).filter(created_by=request.user)[:5],
    }
    return TemplateResponse(request, "roster/upload.html", context)


# One import --------------------------------------------------------------------


def import_page(
    request: HttpRequest, import_id: int, admin_site: admin.AdminSite
) -> HttpResponse:
    """Show one import, live."""
    from hub.streams import positions

    # Positions first, then the import: an event written between the two is
    # replayed to the page and applied again, which changes nothing.
    stream = f"user:{request.user.pk}"
    epoch, offset = positions([stream])[stream]
    roster_import = get_import_for_user(request.user, import_id)
    context = {
        **admin_site.each_context(request),
        **state_context(request, roster_import, admin_site),
        "opts": RosterImport._meta,
        "title": _("Roster import #%(id)s") % {"id": roster_import.pk},
        "live_positions": {stream: {"epoch": epoch, "offset": offset}},
        "live_config": {
            "import_id": roster_import.pk,
            "state_url": reverse(
                f"{admin_site.name}:roster_rosterimport_state", args=[import_id]
            ),
            "login_url": reverse(f"{admin_site.name}:login"),
            "status_labels": dict(RosterImport.Status.choices),
            "phase_labels": {
                "reading": _("Reading the files"),
                "applying": _("Applying the changes"),
            },
            "mine": roster_import.created_by_id == request.user.pk,
        },
    }
    return TemplateResponse(request, "roster/import.html", context)


def import_state(
    request: HttpRequest, import_id: int, admin_site: admin.AdminSite
) -> HttpResponse:
    """Return the live part of an import's page (status, progress, report),
    as rendered from the database."""
    roster_import = get_import_for_user(request.user, import_id)
    return TemplateResponse(
        request,
        "roster/_import_state.html",
        state_context(request, roster_import, admin_site),
    )


def state_context(
    request: HttpRequest, roster_import: RosterImport, admin_site: admin.AdminSite
) -> dict:
    """Return what ``_import_state.html`` shows of ``roster_import``."""
    report = roster_import.report or {}
    rejections = list(report.get("rejections") or [])
    page = Paginator(rejections, REJECTIONS_PER_PAGE).get_page(request.GET.get("page"))
    finished = roster_import.status in (
        RosterImport.Status.DONE,
        RosterImport.Status.FAILED,
    )
    return {
        "roster_import": roster_import,
        "finished": finished,
        "percent": (
            100
            if roster_import.status == RosterImport.Status.DONE
            else (
                min(100, roster_import.progress * 100 // roster_import.total)
                if roster_import.total
                else 0
            )
        ),
        "counts": count_rows(report),
        "rejections": page,
        "rejection_rows": [
            {**row, "kind_label": KIND_SINGULAR.get(row.get("kind"), row.get("kind"))}
            for row in page.object_list
        ],
        "rejection_count": len(rejections),
        "remaining": len(rejections) - (page.end_index() if rejections else 0),
        "warnings": list(report.get("warnings") or []),
        "detail_url": reverse(
            f"{admin_site.name}:roster_rosterimport_detail", args=[roster_import.pk]
        ),
    }


def count_rows(report: dict) -> list[dict]:
    """Return one row per kind of the report's counts:
    ``{"kind", "label", "created", "updated", …, "rejected"}``."""
    counts = report.get("counts") or {}
    rows = []
    for kind in [*KIND_LABELS, *sorted(set(counts) - set(KIND_LABELS))]:
        if kind not in counts:
            continue
        values = counts[kind] or {}
        rows.append(
            {
                "kind": kind,
                "label": KIND_LABELS.get(kind, kind),
                **{column: int(values.get(column, 0)) for column in COUNT_COLUMNS},
            }
        )
    return rows
