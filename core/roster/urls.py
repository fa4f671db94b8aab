"""URLs of the roster import pages, mounted inside the admin.

``RosterImportAdmin.get_urls`` puts them under
``/admin/roster/rosterimport/`` through ``admin_site.admin_view`` (an active
staff session, never cached), with the names ``admin:roster_rosterimport_upload``,
``…_detail`` and ``…_state``.
"""

from django.contrib.admin import AdminSite
from django.urls import URLPattern, path

from core.roster import views


def admin_urlpatterns(admin_site: AdminSite) -> list[URLPattern]:
    """Return the import pages' patterns for ``admin_site``."""
    wrap = admin_site.admin_view
    extra = {"admin_site": admin_site}
    return [
        path(
            "upload/",
            wrap(views.upload),
            extra,
            name="roster_rosterimport_upload",
        ),
        path(
            "<int:import_id>/report/",
            wrap(views.import_page),
            extra,
            name="roster_rosterimport_detail",
        ),
        path(
            "<int:import_id>/report/state/",
            wrap(views.import_state),
            extra,
            name="roster_rosterimport_state",
        ),
    ]
