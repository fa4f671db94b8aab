"""URL configuration of the school hub."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

# The admin names the hub, not the framework ("Administration de Django").
admin.site.site_header = admin.site.site_title = _("Hub ENT administration")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("calendar/", include("core.timetable.urls")),
    path("absences/", include("core.attendance.urls")),
    path("homework/", include("core.homework.urls")),
    path("schoollife/", include("core.schoollife.urls")),
    path("grades/", include("core.grades.urls")),
    path("agenda/", include("core.agenda.urls")),
    path("messages/", include("core.messaging.urls")),
    path("documents/", include("core.documents.urls")),
    path("reportcards/", include("core.reportcards.urls")),
    path("audit/", include("core.audit.urls")),
    path("", include("core.api.urls")),
    path("", include("core.accounts.urls")),
    path("", include("core.privacy.urls")),
    path("", include("core.twofactor.urls")),
    path("", include("hub.delivery.urls")),
    path("", include("frontend.urls")),
]

handler500 = "core.errors.server_error"
