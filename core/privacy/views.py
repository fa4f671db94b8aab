"""The "Mes données" page and the download of a data export.

``my_data`` (``/mes-donnees/``) shows the person's exports and their state
(requested, ready, expired) and takes a new request; ``download``
(``/mes-donnees/export/<id>/``) serves a ready export, decrypted, to its
owner only, logged in, before it expires: anyone else, or later, gets 404.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core import crypto, files
from core.audit.ip import client_ip
from core.privacy import access, actions

EXPORTS_SHOWN = 5


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def my_data(request):
    if request.method == "POST":
        try:
            export, created = actions.request_export(request.user)
        except actions.TooManyExports:
            messages.error(
                request,
                _(
                    "You have asked for %(count)d copies in the last 24 hours: "
                    "please use the latest one, or try again tomorrow."
                )
                % {"count": actions.EXPORTS_PER_DAY},
            )
            return redirect("privacy:my_data")
        if created:
            messages.success(
                request,
                _(
                    "Your request is recorded. We are gathering your data; you "
                    "will receive an e-mail with the link when it is ready."
                )
                if request.user.email
                else _(
                    "Your request is recorded. We are gathering your data; come "
                    "back to this page in a few minutes to download it."
                ),
            )
        else:
            messages.info(request, _("Your previous request is still in progress."))
        return redirect("privacy:my_data")
    exports = list(access.exports_of(request.user)[:EXPORTS_SHOWN])
    return render(
        request,
        "privacy/my_data.html",
        {
            "exports": exports,
            "now": timezone.now(),
            "export_days": settings.PRIVACY_EXPORT_DAYS,
            "pending": any(e.status == e.Status.REQUESTED for e in exports),
        },
    )


@never_cache
@login_required
@require_GET
def download(request, export_id: int):
    export = access.get_export_for_download(request.user, export_id)
    try:
        data = files.read_decrypted(export.file)
    except (FileNotFoundError, crypto.InvalidToken):
        raise Http404("no such export") from None
    actions.record_download(export, ip=client_ip(request))
    stamp = timezone.localtime(export.ready_at).strftime("%Y-%m-%d")
    return files.serve(
        data, mime="application/zip", name=f"mes-donnees-hub-ent-{stamp}.zip"
    )
