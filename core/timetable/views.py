"""The iCalendar subscription feed and the rotation of its link.

The feed is read by calendar apps, without a session: the secret token in
the URL is the only credential (``core.timetable.feed``). A token that opens
nothing (wrong, rotated, a deactivated user's, a role without a feed) gets
the same 404, and is not written to the log.
"""

import gzip

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseNotFound,
)
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core import files
from core.agenda import feed as agenda_feed
from core.audit.ip import client_ip
from core.timetable.feed import (
    feed_sources,
    feed_version,
    feed_window,
    has_feed,
    render_feed,
    rotate_feed_token,
    user_for_token,
)

CACHE_CONTROL = "private, no-cache"
# How long a rendered feed is kept (gzipped) in the cache; its key holds the
# version, so a change never serves a stale one.
RENDERED_TTL = 24 * 3600


def _unlogged(response: HttpResponse) -> HttpResponse:
    # Django logs every 4xx with its path ("Not Found: /calendar/<token>.ics",
    # "Method Not Allowed (POST): ..."): a token, even a dead one, never goes
    # to the log.
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own flag
    return response


def _not_found() -> HttpResponse:
    return _unlogged(HttpResponseNotFound(b"", content_type="text/plain"))


def calendar_feed(request, token: str):
    """Return the calendar of the token's user, or 304 if ``If-None-Match``
    holds its current version (strong ETag, computed without rendering).
    A version's body is rendered once, then served from the cache.

    Not ``@require_safe``: its 405 would log the path, hence the token."""
    if request.method not in ("GET", "HEAD"):
        return _unlogged(HttpResponseNotAllowed(["GET", "HEAD"]))
    user = user_for_token(token)
    if user is None:
        return _not_found()
    sources = feed_sources(user)
    window = feed_window(timezone.now())
    agenda = agenda_feed.read(user, window)
    etag = f'"{feed_version(user, sources, window, agenda)}"'
    unchanged = get_conditional_response(request, etag=etag)
    if unchanged is not None:
        unchanged["ETag"] = etag
        unchanged["Cache-Control"] = CACHE_CONTROL
        return unchanged
    response = HttpResponse(
        _rendered(user, sources, window, agenda, etag),
        content_type="text/calendar; charset=utf-8",
    )
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    files.set_download_headers(
        response, mime="text/calendar; charset=utf-8", name="emploi-du-temps.ics"
    )
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _rendered(user, sources, window, agenda, etag: str) -> bytes:
    """Return the feed, rendered once per version.

    Calendar apps poll, many without ``If-None-Match``: the body of a version
    is kept in the cache, gzipped (a school year, 300 kB, is 12 kB so).
    """
    version = etag.strip('"')
    key = f"calendar-feed:{user.pk}:{version}"
    packed = cache.get(key)
    if packed is not None:
        return gzip.decompress(packed)
    body = render_feed(user, sources, window, agenda)
    cache.set(key, gzip.compress(body, compresslevel=6), RENDERED_TTL)
    return body


@require_POST
@login_required
def rotate(request):
    """Give the user a new feed link; the old one stops working at once."""
    if not has_feed(request.user):
        raise Http404("no calendar feed")
    rotate_feed_token(user=request.user, ip=client_ip(request))
    messages.success(
        request,
        _(
            "Your calendar link was renewed: the old link no longer works. "
            "Subscribe again with the new one."
        ),
    )
    return redirect(reverse("timetable") + "#calendar-subscribe")


def feed_url(token: str) -> str:
    """Return the absolute URL of the feed of ``token`` (on ``SITE_URL``)."""
    return settings.SITE_URL + reverse("calendar-feed", args=[token])
