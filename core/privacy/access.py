"""Reads of data exports, with the permission check inside: an export is its
owner's alone; "not found", "someone else's" and "expired" look the same."""

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from core.privacy.models import DataExport
from core.roster.models import User


def exports_of(user: User) -> QuerySet[DataExport]:
    """Return ``user``'s exports, newest first."""
    return DataExport.objects.filter(user=user)


def get_export_for_download(user: User, export_id: int) -> DataExport:
    """Return ``user``'s ready, unexpired export ``export_id``, else Http404."""
    export = (
        exports_of(user)
        .filter(
            pk=export_id,
            status=DataExport.Status.READY,
            expires_at__gt=timezone.now(),
        )
        .exclude(file="")
        .first()
    )
    if export is None:
        raise Http404("no such export")
    return export
