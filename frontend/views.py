"""Pages and JSON endpoints of the web client.

Pages render with Django templates; the ES modules under ``static/hub/`` bring
them alive through the hub. Every read goes through an ``access`` function, so
"not found" and "not allowed" answer the same 404.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.attendance.access import week_taught_by
from core.errors import json_error
from core.roster.access import children_of, classes_of
from core.roster.models import Enrollment, Org, SchoolClass, User
from core.timetable.access import get_class_for_user, week_for_user
from core.timetable.actions import occurrence_data
from core.timetable.feed import feed_token_for, has_feed
from core.timetable.school_calendar import week_days_off
from core.timetable.views import feed_url
from frontend import home as home_cards
from frontend.notifications import NOTIFICATION_LIMIT, notifications_payload
from hub.delivery import inbox

# Helpers -------------------------------------------------------------------


def monday_of(day: dt.date) -> dt.date:
    """Return the Monday of the ISO week holding ``day``."""
    return day - dt.timedelta(days=day.weekday())


# Weeks outside these years are refused: dates near ``date.min``/``date.max``
# overflow when the page computes the previous and next weeks.
FIRST_YEAR, LAST_YEAR = 1900, 2200


def today() -> dt.date:
    """Return today's date in the project's time zone (a seam for tests)."""
    return timezone.localdate()


def configured_week() -> dt.date | None:
    """Return ``settings.TIMETABLE_DEFAULT_WEEK`` as a date, or None if unset or invalid."""
    return parse_day(getattr(settings, "TIMETABLE_DEFAULT_WEEK", "") or None)


def default_week(school_class: SchoolClass | None = None) -> dt.date:
    """Return the Monday shown when no week is asked for.

    With a class, the week must fall in its academic session: today if the
    session holds today, else ``settings.TIMETABLE_DEFAULT_WEEK`` (an ISO date)
    if set and inside the session, else the session's first week. Without a
    class: the configured week if set, else today.
    """
    now = today()
    configured = configured_week()
    session = getattr(school_class, "session", None)
    if session is None:
        return monday_of(configured or now)
    if session.start_date <= now <= session.end_date:
        return monday_of(now)
    if configured and session.start_date <= configured <= session.end_date:
        return monday_of(configured)
    return monday_of(session.start_date)


def teacher_default_week(user: User) -> dt.date:
    """Return the Monday a teacher's own week opens on: this week when one
    of their classes' sessions holds today, else as :func:`default_week`."""
    now = today()
    taught = classes_of(user).filter(
        session__start_date__lte=now, session__end_date__gte=now
    )
    return monday_of(now) if taught.exists() else default_week()


def parse_day(value: str | None) -> dt.date | None:
    """Return the ISO date ``value`` (years 1900 to 2200), or None if it is not one."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else None


def parse_week(value: str | None) -> dt.date | None:
    """Return the Monday of the ISO date ``value``, or None if it is not one.

    Only years 1900 to 2200 are accepted (others are treated as malformed).
    """
    day = parse_day(value)
    return monday_of(day) if day else None


def parse_id(value: str | None) -> int | None:
    """Return ``value`` as a positive int, or None."""
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if number > 0 else None


def student_classes(student: User):
    """Return the classes ``student`` is enrolled in, homerooms first."""
    return (
        SchoolClass.objects.filter(
            enrollments__user=student, enrollments__role=Enrollment.Role.STUDENT
        )
        .select_related("org")
        .order_by("class_type", "title")
        .distinct()
    )


def week_data(user: User, class_id: int, monday: dt.date) -> list[dict]:
    """Return the occurrences of the week as ``OccurrenceData`` dicts.

    Raises ``Http404`` when ``user`` may not read the class.
    """
    return [
        occurrence_data(o).model_dump() for o in week_for_user(user, class_id, monday)
    ]


# Pages ---------------------------------------------------------------------


@login_required
def home(request):
    """The home page of each role: its cards (:mod:`frontend.home`), live."""
    user = request.user
    sections = home_cards.build_home(user, today())
    return render(
        request,
        "frontend/home.html",
        {
            "role": user.role,
            "sections": sections,
            "no_children": user.role == User.Role.GUARDIAN
            and not any(s.pupil for s in sections),
            "cards_api": reverse("api-home-card", args=["-"]),
        },
    )


@login_required
def timetable_mine(request):
    """A teacher's week across all their classes: ``?week=YYYY-MM-DD``."""
    user = request.user
    if user.role != User.Role.TEACHER:
        raise Http404("not a teacher")
    monday = parse_week(request.GET.get("week")) or teacher_default_week(user)
    return render(
        request,
        "frontend/timetable_mine.html",
        {
            "monday": monday,
            "prev_week": monday - dt.timedelta(days=7),
            "next_week": monday + dt.timedelta(days=7),
            "initial": mine_week(user, monday),
        },
    )


@login_required
def timetable(request):
    """The week view of one class: ``?class=<id>&week=YYYY-MM-DD&child=<id>``.

    Any date picks its week. A guardian may name a child; the class defaults
    to the child's (or the user's) first class.
    """
    user = request.user
    readable = list(classes_of(user).select_related("org", "session").order_by("title"))
    children = list(children_of(user)) if user.role == User.Role.GUARDIAN else []
    class_id = parse_id(request.GET.get("class"))
    child = None
    choices = readable
    if children:
        child_id = parse_id(request.GET.get("child"))
        classes_by_child = {c.pk: list(student_classes(c)) for c in children}
        if child_id is not None:
            child = next((c for c in children if c.pk == child_id), None)
            if child is None:
                raise Http404("no such child")
        else:
            # A link naming only the class (a notification) shows its pupil.
            child = next(
                (
                    c
                    for c in children
                    if any(k.pk == class_id for k in classes_by_child[c.pk])
                ),
                children[0],
            )
        choices = [c for c in classes_by_child[child.pk] if c in readable] or readable
    if class_id is not None:
        school_class = next((c for c in readable if c.pk == class_id), None)
        if school_class is None:
            raise Http404("no such class")
    else:
        school_class = choices[0] if choices else None
    monday = parse_week(request.GET.get("week")) or default_week(school_class)
    occurrences = week_data(user, school_class.pk, monday) if school_class else []
    return render(
        request,
        "frontend/timetable.html",
        {
            "children": children,
            "child": child,
            "classes": choices if children else readable,
            "school_class": school_class,
            "monday": monday,
            "prev_week": monday - dt.timedelta(days=7),
            "next_week": monday + dt.timedelta(days=7),
            "feed_url": feed_url(feed_token_for(user)) if has_feed(user) else "",
            "initial": {
                "class_id": school_class.pk if school_class else None,
                "class_title": school_class.title if school_class else "",
                "week": monday.isoformat(),
                "occurrences": occurrences,
                "holidays": week_days_off(school_class.org, monday)
                if school_class
                else {},
            },
        },
    )


@login_required
def notifications(request):
    """The notification centre: newest first; live through the hub."""
    return render(
        request,
        "frontend/notifications.html",
        {"initial": notifications_payload(request.user, NOTIFICATION_LIMIT)},
    )


# JSON ----------------------------------------------------------------------


def invalid_week() -> JsonResponse:
    """The 400 answer to a ``?week=`` that :func:`parse_week` refuses."""
    return json_error(
        "invalid_week",
        400,
        "week must be an ISO date (YYYY-MM-DD), years 1900-2200",
    )


@require_GET
@login_required
def api_timetable(request, class_id: int):
    """Return ``{"class_id", "week", "occurrences": [OccurrenceData...], "holidays"}``.

    ``holidays`` maps the week's days off (public and school holidays of the
    class's org) to their name, ``{"YYYY-MM-DD": name}``.

    ``?week=`` is any ISO date (its Monday is used); absent means the class's
    default week. Errors are JSON: 404 ``{"error": "not_found"}`` for a class
    the user may not read, 400 ``{"error": "invalid_week"}`` for a malformed
    week.
    """
    raw = request.GET.get("week")
    monday = parse_week(raw)
    if raw and monday is None:
        return invalid_week()
    try:
        school_class = get_class_for_user(request.user, class_id)
        monday = monday or default_week(school_class)
        occurrences = week_data(request.user, class_id, monday)
    except Http404:
        return json_error("not_found", 404)
    return JsonResponse(
        {
            "class_id": class_id,
            "week": monday.isoformat(),
            "occurrences": occurrences,
            "holidays": week_days_off(school_class.org, monday),
        }
    )


def mine_week(user: User, monday: dt.date) -> dict:
    """Return a teacher's week: ``{"mine": True, "class_ids", "week",
    "occurrences": [OccurrenceData + "class_title"], "holidays"}``.

    ``class_ids`` are the classes whose streams bring the week's changes: the
    classes the teacher is enrolled in (a lesson they are only named on, in
    another class, is drawn but its stream is not theirs to read).
    ``holidays`` are those of the school of the teacher's first class or
    lesson (empty with none).
    """
    occurrences = week_taught_by(user, monday)
    class_ids = set(classes_of(user).values_list("pk", flat=True))
    org = (
        Org.objects.filter(
            classes__in=class_ids | {o.school_class_id for o in occurrences}
        )
        .order_by("pk")
        .first()
    )
    return {
        "mine": True,
        "class_id": None,
        "class_ids": sorted(class_ids),
        "week": monday.isoformat(),
        "occurrences": [
            {**occurrence_data(o).model_dump(), "class_title": o.school_class.title}
            for o in occurrences
        ],
        "holidays": week_days_off(org, monday) if org else {},
    }


@require_GET
@login_required
def api_timetable_mine(request):
    """Return the teacher's week across classes (see :func:`mine_week`).

    ``?week=`` is any ISO date; 400 ``{"error": "invalid_week"}`` when
    malformed, 404 ``{"error": "not_found"}`` for a user who is not a teacher.
    """
    if request.user.role != User.Role.TEACHER:
        return json_error("not_found", 404)
    raw = request.GET.get("week")
    monday = parse_week(raw)
    if raw and monday is None:
        return invalid_week()
    monday = monday or teacher_default_week(request.user)
    return JsonResponse(mine_week(request.user, monday))


@require_GET
@login_required
def api_home_card(request, name: str):
    """Return one home card, drawn: ``{"card": name, "parts": {part: html}}``.

    A part is a pupil's id for pupil cards (one per child for a guardian),
    ``""`` otherwise. 404 ``{"error": "not_found"}`` for a card the user's
    role does not have.
    """
    card = home_cards.CARDS.get(name)
    if card is None or request.user.role not in card.roles:
        return json_error("not_found", 404)
    parts = home_cards.build_card(card, request.user, today())
    return JsonResponse(
        {
            "card": name,
            "parts": {
                str(part): render_to_string(
                    context["template"], {"card": context}, request=request
                )
                for part, context in parts.items()
            },
        }
    )


@require_GET
@login_required
def api_notifications(request):
    """Return the newest notifications (``?limit=``, 50 max) and the unread count."""
    limit = parse_id(request.GET.get("limit"))
    if request.GET.get("limit") == "0":
        limit = 0
    elif limit is None or limit > NOTIFICATION_LIMIT:
        limit = NOTIFICATION_LIMIT
    return JsonResponse(notifications_payload(request.user, limit))


@require_POST
@login_required
def api_notifications_read(request):
    """Mark every notification read; return ``{"unread": 0}``."""
    inbox.mark_all_read(request.user)
    return JsonResponse({"unread": inbox.unread_count(request.user)})
