"""What a person sees of notification delivery: pages and JSON endpoints.

- ``settings`` (``/settings/notifications/``): one choice per category of the
  user's role, quiet hours, digest times, time zone, and this device's push
  opt-in (``static/hub/push.js``) with the list of subscribed devices.
- ``subscribe`` / ``unsubscribe_push``: the browser's ``PushSubscription``
  (JSON, CSRF header as elsewhere in the app).
- ``unsubscribe``: the RFC 8058 one-click link of the e-mails (no login).
- ``mute``: mute a conversation for an hour or until the morning.
- ``log``: school-life staff read why a member of their school did or did
  not get a notification.
- ``service_worker``: ``/sw.js`` at the site root (its scope is ``/``).

Each view parses, checks access (:mod:`hub.delivery.access`), calls one
action (:mod:`hub.delivery.actions`) and responds. JSON errors are
``{"error": code, "message": text}``.
"""

import json
from pathlib import Path

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core import signing
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.audit import log as audit
from core.errors import json_error
from core.roster.access import orgs_of
from core.roster.models import User
from frontend.webapp import worker_config
from hub.delivery import (
    access,
    actions,
    preferences,
    push_subscriptions,
    unsubscribe_tokens,
    vapid,
    zones,
)
from hub.delivery.categories import CATEGORIES, CHOICES, choice_key
from hub.delivery.forms import (
    COMMON_ZONES,
    WEEKDAYS,
    MuteForm,
    SettingsForm,
    UserSearchForm,
    hour_label,
)
from hub.delivery.models import Delivery, Mute

MAX_SUBSCRIPTION_BYTES = 4096  # a PushSubscription.toJSON() is well under 1 KB
LOG_LIMIT = 100  # notifications shown in the delivery log
ONE_CLICK = "One-Click"  # RFC 8058 §3.1: the body is "List-Unsubscribe=One-Click"


# Helpers -------------------------------------------------------------------


def user_zone(user: User):
    """Return ``user``'s ``ZoneInfo``: theirs, else their school's, else Paris."""
    settings_row = preferences.settings_of([user])[user.pk]
    return zones.zone_of(settings_row, preferences.school_zone(user))


def safe_next(request, fallback: str) -> str:
    """Return the ``next`` URL of the request if it is on this site, else ``fallback``."""
    wanted = request.POST.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return fallback


def read_json(request) -> tuple[object, JsonResponse | None]:
    """Return ``(parsed body, None)``, or ``(None, error response)``.

    Bodies over :data:`MAX_SUBSCRIPTION_BYTES` answer 413; malformed JSON 400.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_SUBSCRIPTION_BYTES:
        return None, json_error("too_large", 413, "the body is over 4 KB")
    body = request.body
    if len(body) > MAX_SUBSCRIPTION_BYTES:
        return None, json_error("too_large", 413, "the body is over 4 KB")
    try:
        return json.loads(body or b"null"), None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, json_error("invalid", 400, "the body is not JSON")


def api_login_required(view):
    """Like ``login_required``, but answer a JSON 403 instead of a redirect."""

    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return json_error("login_required", 403, "log in first")
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def scope_label(scope: str) -> str:
    """Return what an unsubscribe ``scope`` means, for the confirmation page."""
    spec = CATEGORIES.get(scope)
    if spec is not None:
        return str(spec.label)
    return _("all e-mails from the school hub")


# The settings page -----------------------------------------------------------


@login_required
def settings_page(request):
    """The user's notification settings (GET), saved through one action (POST)."""
    user = request.user
    saved_clock = preferences.settings_of([user])[user.pk]
    form = SettingsForm(
        request.POST if request.method == "POST" else None,
        categories=preferences.categories_for(user),
        current=preferences.choices_for(user),
        clock=saved_clock,
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.save_choices(
                    user, preferences=form.preferences(), clock=form.clock()
                )
            except actions.UnknownChoice:
                form.add_error(None, _("One of the choices is not offered: check."))
            else:
                flash.success(request, _("Your notification settings are saved."))
                return redirect("delivery:settings")
        status = 400
    devices = list(user.push_subscriptions.order_by("-created_at"))
    choices = preferences.choices_for(user)
    context = {
        "form": form,
        "devices": devices,
        # Without a device, what falls back to e-mail (absences), if anything.
        "mailed_instead": [
            spec
            for spec in preferences.categories_for(user)
            if spec.email_fallback and choices[spec.key].push and user.email
        ]
        if not devices
        else [],
        "school_zone": preferences.school_zone(user) or zones.DEFAULT_ZONE,
        # When the saved digests leave (hub.delivery.digest_periods).
        "digest_hour": hour_label(saved_clock.digest_hour),
        "digest_day": dict(WEEKDAYS)[saved_clock.weekly_day],
        "zones": COMMON_ZONES,
        "push": {
            "key": vapid.public_key(),
            "subscribe": reverse("delivery:subscribe"),
            "unsubscribe": reverse("delivery:unsubscribe_push"),
        },
    }
    return render(request, "delivery/settings.html", context, status=status)


# Push subscriptions ------------------------------------------------------------


@require_POST
@api_login_required
def subscribe(request):
    """Register this browser's ``PushSubscription.toJSON()``; 201 with its id.

    400 ``{"error": "invalid_subscription", "message"}`` for a subscription
    the hub will not push to (bad keys, non-https, unknown push service); 413
    for a body over 4 KB.
    """
    info, error = read_json(request)
    if error is not None:
        return error
    try:
        row = actions.subscribe(
            request.user, info, request.headers.get("User-Agent", "")
        )
    except push_subscriptions.InvalidSubscription as refusal:
        return json_error("invalid_subscription", 400, str(refusal))
    return JsonResponse(
        {"id": row.pk, "endpoint": row.endpoint, "key": row.vapid_public_key},
        status=201,
    )


@require_POST
@login_required
def unsubscribe_push(request):
    """Forget one of the user's devices: JSON ``{"endpoint"}`` or a form post.

    JSON answers ``{"removed": bool}``; the settings page's form (field
    ``endpoint``) is redirected back to the page.
    """
    if request.content_type == "application/json":
        info, error = read_json(request)
        if error is not None:
            return error
        endpoint = info.get("endpoint") if isinstance(info, dict) else None
        if not isinstance(endpoint, str) or not endpoint:
            return json_error("invalid", 400, "endpoint is missing")
        removed = actions.unsubscribe(request.user, endpoint)
        return JsonResponse({"removed": removed})
    endpoint = request.POST.get("endpoint", "")
    if endpoint and actions.unsubscribe(request.user, endpoint):
        flash.success(request, _("The device will no longer receive notifications."))
    return redirect("delivery:settings")


# One-click unsubscribe (RFC 8058) -----------------------------------------


def _no_referrer(response: HttpResponse) -> HttpResponse:
    # The token is in the URL: it must not leak to another site.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@csrf_exempt
def unsubscribe(request, token: str):
    """Stop e-mails for the token's scope: on POST only (RFC 8058).

    GET shows a confirmation page with a button: mail scanners follow links,
    so a GET never unsubscribes. POST (``List-Unsubscribe=One-Click``, from
    the mail client or the button) unsubscribes at once, without login or
    CSRF token: the signed token is the proof. A tampered token answers 400.
    """
    try:
        user_id, scope = unsubscribe_tokens.read_unsubscribe_token(token)
    except signing.BadSignature:
        return _no_referrer(
            render(request, "delivery/unsubscribe.html", {"invalid": True}, status=400)
        )
    context: dict[str, object] = {"scope": scope_label(scope), "token": token}
    if request.method == "POST":
        if request.POST.get("List-Unsubscribe") != ONE_CLICK:
            context["bad_request"] = True
            return _no_referrer(
                render(request, "delivery/unsubscribe.html", context, status=400)
            )
        actions.unsubscribe_email(user_id, scope)
        context["done"] = True
        return _no_referrer(render(request, "delivery/unsubscribe.html", context))
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    return _no_referrer(render(request, "delivery/unsubscribe.html", context))


# Mute a conversation -------------------------------------------------------


@require_POST
@login_required
def mute(request):
    """Mute (``1h``, ``tomorrow``) or unmute (``off``) a conversation; redirect back.

    ``key`` must be ``conversation:<id>`` of a conversation the user takes
    part in (else 404).
    """
    form = MuteForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Choose how long to mute."), status=400)
    key = form.cleaned_data["key"]
    conversation = access.get_muted_conversation(request.user, key)
    back = safe_next(request, reverse("messaging:conversation", args=[conversation.pk]))
    until = form.until(timezone.now(), user_zone(request.user))
    if until is None:
        actions.unmute(request.user, key)
        flash.success(request, _("Notifications are back on for this conversation."))
    else:
        actions.mute(request.user, key, until)
        when = formats.date_format(timezone.localtime(until), "l j F, H:i")
        flash.success(
            request, _("Notifications muted until %(when)s.") % {"when": when}
        )
    return redirect(back)


# The delivery log ------------------------------------------------------------


def delivery_rows(staff: User, member: User) -> list[dict]:
    """Return ``member``'s last notifications of ``staff``'s schools, each
    with its deliveries."""
    rows = []
    for note in access.recent_notifications(staff, member, LOG_LIMIT):
        deliveries = list(note.deliveries.all())
        rows.append({"note": note, "deliveries": deliveries, "span": len(deliveries)})
    return rows


@require_GET
@login_required
def delivery_log(request):
    """Why did this parent not get the alert? (school-life staff only).

    ``?q=`` searches the members of the staff's schools; ``?user=<id>`` shows
    one member's last 100 notifications with every delivery (channel,
    device, status, reason, attempts, times), their choices, quiet hours and
    devices. Anyone else, or a user of another school, gets 404.
    """
    staff = request.user
    if not access.is_delivery_staff(staff):
        raise Http404("no such page")
    form = UserSearchForm(request.GET)
    if not form.is_valid():
        # A search too long or a malformed id: say so on the page.
        return render(
            request,
            "delivery/log.html",
            {"form": form, "query": "", "found": [], "member": None},
            status=400,
        )
    query = " ".join(form.cleaned_data["q"].split())
    member_id = form.cleaned_data["user"]
    context = {
        "form": form,
        "query": query,
        "found": access.search_members(staff, query) if query else [],
        "member": None,
    }
    if member_id:
        member = access.get_member_for_staff(staff, member_id)
        audit.record_read(
            actor=staff,
            action="delivery_log.viewed",
            target_type="user",
            target_id=member.pk,
            subject_id=member.pk,
            org_ids=set(orgs_of(staff).values_list("pk", flat=True))
            & set(orgs_of(member).values_list("pk", flat=True)),
        )
        choices = preferences.choices_for(member)
        settings_row = preferences.settings_of([member])[member.pk]
        context.update(
            {
                "member": member,
                "rows": delivery_rows(staff, member),
                "limit": LOG_LIMIT,
                "choices": [
                    {
                        "category": spec,
                        "label": choice_label(choice_key(choices[spec.key])),
                    }
                    for spec in preferences.categories_for(member)
                ],
                "clock": settings_row,
                "zone": settings_row.time_zone,
                "school_zone": preferences.school_zone(member) or zones.DEFAULT_ZONE,
                "devices": list(member.push_subscriptions.order_by("-created_at")),
                "mutes": list(
                    Mute.objects.filter(user=member, until__gt=timezone.now()).order_by(
                        "until"
                    )
                ),
                "statuses": Delivery.Status,
            }
        )
    return render(request, "delivery/log.html", context)


def choice_label(key: str) -> str:
    """Return the label of a choice key of ``CHOICES`` ("custom" included)."""
    if key in CHOICES:
        return str(CHOICES[key][1])
    return _("Custom (set in the admin)")


# The service worker ----------------------------------------------------------


@require_GET
def service_worker(request):
    """Serve ``static/hub/sw.js`` at ``/sw.js``, so its scope can be the whole site.

    The few words it shows, and its offline settings
    (:func:`frontend.webapp.worker_config`), are prepended in the language
    ``?lang=`` names (every page registers ``/sw.js?lang=<its language>``),
    else the request's; ``Cache-Control: no-cache`` makes browsers check for a new
    version on every update check.
    """
    path = finders.find("hub/sw.js")
    if not path:
        raise Http404("no service worker")
    wanted = request.GET.get("lang", "")
    language = wanted if wanted in dict(settings.LANGUAGES) else get_language()
    with translation.override(language):
        config = {
            "newNotification": _("New notification"),
            "subscribeUrl": reverse("delivery:subscribe"),
            "icon": static("hub/favicon.svg"),
            **worker_config(),
        }
    source = Path(path).read_text(encoding="utf-8")
    response = HttpResponse(
        f"self.HUB_SW = {json.dumps(config, ensure_ascii=False)};\n{source}",
        content_type="application/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response
