"""The installable app (PWA): web app manifest, ``/favicon.ico``, the offline page.

- ``manifest``: ``/manifest.webmanifest`` (W3C "Web App Manifest"), in the
  request's language, linked from every page (``base.html``).
- ``favicon``: ``/favicon.ico`` for browsers and tools that ask for it without
  reading the page (the pages link the SVG).
- ``offline``: ``/offline/``, what the service worker (``static/hub/sw.js``)
  shows for a page it has no copy of when the network is down. It carries no
  user data: the worker fetches it without cookies at install.
- ``worker_config()``: what the service worker needs for its offline copies,
  prepended to ``/sw.js`` (``hub.delivery.views.service_worker``).

The icons are rendered once from ``favicon.svg`` by ``scripts/render_icons.py``.
"""

import json

from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

# app.css: --header-bg (the icon's square) and --bg (the page).
THEME_COLOR = "#102a5c"
BACKGROUND_COLOR = "#f6f7f9"

# The pages the service worker keeps a copy of, the user's own: the last
# timetable and notifications seen stay readable offline.
OFFLINE_PAGES = ("timetable", "timetable-mine", "notifications")
# The worker's caches (Cache Storage) and the header holding when a copy was
# saved; the offline page reads them too. The pages' cache is emptied at
# logout and whenever the login page shows.
PAGES_CACHE = "hub-pages"
ASSETS_CACHE = "hub-assets"
SAVED_AT_HEADER = "X-Hub-Saved-At"


def offline_labels() -> dict[str, str]:
    """Return ``{path: title}`` of the pages kept for offline reading."""
    titles = {
        "timetable": _("Timetable"),
        "timetable-mine": _("My week"),
        "notifications": _("Notifications"),
    }
    return {reverse(name): titles[name] for name in OFFLINE_PAGES}


def worker_config() -> dict:
    """Return the offline part of ``self.HUB_SW`` (in the active language)."""
    return {
        "lang": get_language(),
        "pagesCache": PAGES_CACHE,
        "assetsCache": ASSETS_CACHE,
        "savedAtHeader": SAVED_AT_HEADER,
        "offlineUrl": reverse("offline"),
        "loginUrl": reverse("login"),
        "logoutUrl": reverse("logout"),
        "offlinePages": [reverse(name) for name in OFFLINE_PAGES],
        "offlineBanner": _("Offline — last updated on %(date)s"),
        "staticUrl": static(""),
        "catalogUrl": reverse("javascript-catalog"),
        "assets": [
            static("hub/app.css"),
            static("hub/offline.js"),
            static("hub/favicon.svg"),
        ],
    }


@require_GET
def manifest(request):
    """Serve the web app manifest (``application/manifest+json``)."""
    body = {
        "id": "/",
        "name": _("Hub ENT"),
        "short_name": "ENT",
        "description": _(
            "Timetable, homework, absences and messages of your school, live."
        ),
        "lang": get_language(),
        "dir": "ltr",
        "start_url": reverse("home"),
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": [
            {
                "src": static("hub/icons/icon-192.png"),
                "sizes": "192x192",
                "type": "image/png",
                "purpose": "any",
            },
            {
                "src": static("hub/icons/icon-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "any",
            },
            {
                "src": static("hub/icons/maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False),
        content_type="application/manifest+json; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def favicon(request):
    """Serve ``static/hub/favicon.ico`` at the root, where browsers look."""
    path = finders.find("hub/favicon.ico")
    if not path:
        raise Http404("no icon")
    response = FileResponse(open(path, "rb"), content_type="image/x-icon")  # noqa: SIM115
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_GET
def offline(request):
    """The page shown offline for a page this device has no copy of."""
    return render(
        request,
        "frontend/offline.html",
        {
            "labels": offline_labels(),
            "pages_cache": PAGES_CACHE,
            "saved_at_header": SAVED_AT_HEADER,
        },
    )
