"""Each user's iCalendar subscription feed (RFC 5545, RFC 7986), at a secret URL.

What a feed holds follows the roster (ARCHITECTURE.md P7), through the rules
other pages use:

- a pupil: the lessons of their classes (``core.roster.access.classes_of``);
- a guardian: each current child's lessons (``children_of``, then the
  child's classes), one calendar, SUMMARY prefixed with the child's first
  name ("Léa : Mathématiques"); a link that ended takes that child's lessons
  out at the next fetch;
- a teacher: the lessons whose roll call they take, across classes
  (``core.attendance.access.taught_by``: linked to the occurrence, or in a
  class they teach that names no teacher);
- the school agenda's entries and the parent–teacher meetings the user
  reads (``core.agenda.feed``), for each of these roles;
- school-life staff have no feed: a whole school's lessons are not a
  personal calendar (their page shows no link, and a link 404s).

Window: from 30 days ago to a year ahead (midnight, Europe/Paris), the same
for every user and independent of how sessions are set up; a calendar app
keeps the last month and sees the coming year.

Each occurrence is one VEVENT: a UID made of its id (and the child's, in a
guardian's feed) and the site's host, unchanged across exports; DTSTART and
DTEND in the org's time zone (TZID, with its VTIMEZONE); ``STATUS:CANCELLED``
for a cancelled lesson; a moved one at its new time; room in LOCATION,
teachers (and the change's reason) in DESCRIPTION; SEQUENCE counts its
recorded changes and LAST-MODIFIED is the latest. DTSTAMP is that change, or
the feed's import: the body depends only on what :func:`feed_version`
measures, so the version is a strong ETag computed without rendering.

Token: ``HMAC-SHA256(SECRET_KEY, "<user id>:<salt>")`` in hex (64
characters, 256 bits); the database keeps the salt and the SHA-256 of the
token, never the token, so a copy of the database alone opens no feed, and
the page can still show the link. Rotating draws a new salt; a new
SECRET_KEY gives every user a new link (the old ones 404). The write
functions of this module (:func:`feed_token_for`, :func:`rotate_feed_token`)
live here rather than in ``actions.py``: they send no event, nothing else
reads a token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, QuerySet
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from core.agenda import feed as agenda_feed
from core.attendance.access import taught_by
from core.audit import log as audit
from core.roster.access import children_of, classes_of
from core.roster.models import User
from core.timetable.models import FeedToken, Occurrence

PAST = dt.timedelta(days=30)
FUTURE = dt.timedelta(days=365)
REFRESH = dt.timedelta(hours=1)
# Part of every version: bump it when the rendering changes.
FORMAT = "1"
# DTSTAMP of a lesson whose feed has no import time (made by hand).
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_TOKEN = re.compile(r"[0-9a-f]{64}")
_HMAC_SALT = "core.timetable.feed.token"
PRODID = "-//Hub ENT//Emploi du temps//FR"


# Tokens ----------------------------------------------------------------------


def token_of(user_id: int, salt: str) -> str:
    """Return the token of ``user_id`` for ``salt`` (64 hex characters)."""
    return salted_hmac(_HMAC_SALT, f"{user_id}:{salt}", algorithm="sha256").hexdigest()


def digest_of(token: str) -> str:
    """Return the SHA-256 hex digest of ``token``, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def has_feed(user: User) -> bool:
    """Return whether ``user``'s role has a calendar feed (staff have none)."""
    return user.is_active and user.role in {
        User.Role.STUDENT,
        User.Role.GUARDIAN,
        User.Role.TEACHER,
    }


def rotate_feed_token(*, user: User, ip: str | None = None) -> str:
    """Give ``user`` a new feed token and return it; the old URL stops working.

    The rotation goes into the audit log (without the token).
    """
    salt = secrets.token_hex(16)
    token = token_of(user.pk, salt)
    with transaction.atomic():
        FeedToken.objects.update_or_create(
            user=user,
            defaults={
                "salt": salt,
                "digest": digest_of(token),
                "created_at": timezone.now(),
            },
        )
        audit.record(
            actor=user,
            action="calendar_feed.rotated",
            target_type="user",
            target_id=user.pk,
            ip=ip,
        )
    return token


def feed_token_for(user: User) -> str:
    """Return ``user``'s feed token, made on first use.

    A token that no longer matches its digest (the SECRET_KEY changed) is
    replaced, so the link the page shows always works.
    """
    row = FeedToken.objects.filter(user=user).first()
    if row is not None:
        token = token_of(user.pk, row.salt)
        if secrets.compare_digest(digest_of(token), row.digest):
            return token
    salt = secrets.token_hex(16)
    token = token_of(user.pk, salt)
    values = {"salt": salt, "digest": digest_of(token), "created_at": timezone.now()}
    try:
        with transaction.atomic():
            FeedToken.objects.update_or_create(user=user, defaults=values)
    except IntegrityError:  # two first visits at once: keep the other one's
        return feed_token_for(user)
    return token


def user_for_token(token: str) -> User | None:
    """Return the active user whose feed ``token`` opens, or None."""
    if not _TOKEN.fullmatch(token or ""):
        return None
    row = (
        FeedToken.objects.select_related("user").filter(digest=digest_of(token)).first()
    )
    if row is None or not has_feed(row.user):
        return None
    # Made with the current SECRET_KEY: after a new key every link dies at
    # once, rather than on the user's next visit to the page.
    if not secrets.compare_digest(token, token_of(row.user_id, row.salt)):
        return None
    return row.user


# What a feed holds -----------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """The lessons of one person in a feed: the user's own (``child`` None)
    or one child's, in a guardian's feed."""

    child: User | None
    occurrences: QuerySet[Occurrence]


def feed_sources(user: User) -> list[Source]:
    """Return what ``user``'s feed holds, per the roster's rules (see module)."""
    if user.role == User.Role.STUDENT:
        return [
            Source(None, Occurrence.objects.filter(school_class__in=classes_of(user)))
        ]
    if user.role == User.Role.GUARDIAN:
        return [
            Source(child, Occurrence.objects.filter(school_class__in=classes_of(child)))
            for child in children_of(user)
        ]
    if user.role == User.Role.TEACHER:
        return [
            Source(None, Occurrence.objects.filter(pk__in=taught_by(user).values("pk")))
        ]
    return []


def feed_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Return the instants the feed covers: midnight (Europe/Paris) 30 days
    before ``now`` to midnight a year after; the same all day long."""
    zone = ZoneInfo(settings.TIME_ZONE)
    today = now.astimezone(zone).date()
    start = dt.datetime.combine(today - PAST, dt.time(), zone)
    end = dt.datetime.combine(today + FUTURE + dt.timedelta(days=1), dt.time(), zone)
    return start, end


def site_host() -> str:
    """Return the host of ``settings.SITE_URL``: the domain of every UID."""
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def _in_window(source: Source, window) -> QuerySet[Occurrence]:
    start, end = window
    return source.occurrences.filter(start__gte=start, start__lt=end)


def calendar_name(user: User, sources: list[Source]) -> str:
    """Return the calendar's name: the user's, or a guardian's children's."""
    if user.role == User.Role.GUARDIAN:
        names = ", ".join(s.child.first_name or str(s.child) for s in sources)  # type: ignore[union-attr]  # a guardian's
        return _("Timetable – %(name)s") % {"name": names or str(user)}
    return _("Timetable – %(name)s") % {"name": str(user)}


def feed_version(
    user: User, sources: list[Source], window, agenda: agenda_feed.Rows
) -> str:
    """Return a version of the feed, without rendering it (the ETag).

    It changes when an occurrence of the window is added, removed or
    changed (every change is an ``OccurrenceChange``), when a feed is
    re-imported, when the window moves (each day), when a child comes or
    goes, or when a name the calendar shows changes (the user's, a child's,
    a class's title, a linked teacher's, an org's time zone): a roster
    import renames without touching the occurrences. Two queries per source,
    and the agenda's entries and meetings (``agenda``, read once per fetch
    by ``core.agenda.feed.read``; ``version_part``).
    """
    parts: list = [FORMAT, site_host(), user.pk, str(user), window[0].isoformat()]
    for source in sources:
        numbers = _in_window(source, window).aggregate(
            n_occurrences=Count("pk", distinct=True),
            last_occurrence=Max("pk"),
            n_changes=Count("changes", distinct=True),
            last_change_id=Max("changes__pk"),
            last_import=Max("lesson__feed__imported_at"),
        )
        names = (
            _in_window(source, window)
            .values_list(
                "school_class_id",
                "school_class__title",
                "school_class__org__time_zone",
                "teachers__pk",
                "teachers__first_name",
                "teachers__last_name",
                "teachers__username",
            )
            .distinct()
            .order_by()
        )
        child = source.child
        parts.append(
            (
                child.pk if child else None,
                child.first_name if child else None,
                *(str(numbers[key]) for key in sorted(numbers)),
                sorted(names, key=repr),
            )
        )
    parts.append(agenda_feed.version_part(agenda))
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:40]


# Rendering -------------------------------------------------------------------


def _description(occurrence: Occurrence, zone: ZoneInfo) -> str:
    lines = [_("Class: %(title)s") % {"title": occurrence.school_class.title}]
    teachers = ", ".join(str(t) for t in occurrence.teachers.all())
    teachers = teachers or occurrence.teacher_names
    if teachers:
        lines.append(_("Teachers: %(names)s") % {"names": teachers})
    if occurrence.previous_start and occurrence.previous_start != occurrence.start:
        before = occurrence.previous_start.astimezone(zone)
        lines.append(
            _("Moved; originally %(day)s at %(time)s")
            % {"day": f"{before:%d/%m/%Y}", "time": f"{before:%H:%M}"}
        )
    if occurrence.change_reason and (
        occurrence.status == Occurrence.Status.CANCELLED
        or occurrence.previous_start
        or occurrence.previous_room
        or occurrence.previous_teacher_names
    ):
        lines.append(_("Reason: %(reason)s") % {"reason": occurrence.change_reason})
    return "\n".join(lines)


def _event(occurrence: Occurrence, child: User | None, host: str, teacher: bool):
    # last_change and sequence: annotations of the feed's query.
    occurrence_: Any = occurrence
    zone = ZoneInfo(occurrence.school_class.org.time_zone)
    event = Event()
    suffix = f"-{child.pk}" if child else ""
    event.add("uid", f"occurrence-{occurrence.pk}{suffix}@{host}")
    stamp = occurrence_.last_change or occurrence.lesson.feed.imported_at or _EPOCH
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    event.add("dtstart", occurrence.start.astimezone(zone))
    event.add("dtend", occurrence.end.astimezone(zone))
    summary = occurrence.subject
    if child:
        summary = _("%(child)s : %(subject)s") % {
            "child": child.first_name or str(child),
            "subject": summary,
        }
    elif teacher:
        summary = f"{summary} ({occurrence.school_class.title})"
    event.add("summary", summary)
    if occurrence.room:
        event.add("location", occurrence.room)
    event.add("description", _description(occurrence, zone))
    cancelled = occurrence.status == Occurrence.Status.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("sequence", occurrence_.sequence)
    if occurrence_.last_change:
        event.add("last-modified", occurrence_.last_change.astimezone(dt.UTC))
    return event


def render_feed(
    user: User, sources: list[Source], window, agenda: agenda_feed.Rows
) -> bytes:
    """Return ``user``'s calendar (RFC 5545 text, UTF-8, CRLF lines).

    Written in the site's language whatever the calendar app asks for:
    calendar apps send no session, and the text must not vary between two
    fetches of one version.
    """
    host = site_host()
    teacher = user.role == User.Role.TEACHER
    with translation.override(settings.LANGUAGE_CODE):
        calendar = Calendar()
        calendar.add("prodid", PRODID)
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", "PUBLISH")
        name = calendar_name(user, sources)
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
        calendar.add("x-wr-timezone", settings.TIME_ZONE)
        calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", "PT1H")
        for source in sources:
            occurrences = (
                _in_window(source, window)
                .select_related("school_class__org", "lesson__feed")
                .prefetch_related("teachers")
                .annotate(
                    sequence=Count("changes"),
                    last_change=Max("changes__created_at"),
                )
                .order_by("start", "pk")
            )
            for occurrence in occurrences:
                calendar.add_component(_event(occurrence, source.child, host, teacher))
        for event in agenda_feed.events(user, agenda, host):
            calendar.add_component(event)
    start, end = window
    calendar.add_missing_timezones(
        first_date=start.date() - dt.timedelta(days=1),
        last_date=end.date() + dt.timedelta(days=1),
    )
    fix_transition_onsets(calendar)
    return calendar.to_ical()


def fix_transition_onsets(calendar: Calendar) -> None:
    """Write each VTIMEZONE observance's DTSTART (and RDATE) as RFC 5545
    §3.6.5 wants it: the local time of the change in the offset it changes
    FROM.

    icalendar 7's ``Timezone.from_tzinfo`` writes the first local time in the
    new offset instead: "DTSTART:20260329T030000" with "TZOFFSETFROM:+0100"
    for Paris, which a reader using the VTIMEZONE places at 02:00 UTC, an
    hour after the real change (01:00 UTC). Each onset is recomputed from
    zoneinfo's own transition.
    """
    for timezone_ in calendar.timezones:
        try:
            zone = ZoneInfo(str(timezone_.get("TZID")))
        except (KeyError, ValueError):
            continue
        for observance in timezone_.subcomponents:
            offset_from = observance.get("TZOFFSETFROM").td
            offset_to = observance.get("TZOFFSETTO").td
            if offset_from == offset_to:
                continue
            onset = observance.DTSTART
            fixed = _onset(zone, onset, offset_from, offset_to)
            if fixed is not None and fixed != onset:
                observance.DTSTART = fixed
            rdates = observance.get("RDATE")
            if rdates:
                for rdate in rdates if isinstance(rdates, list) else [rdates]:
                    for period in rdate.dts:
                        moved = _onset(zone, period.dt, offset_from, offset_to)
                        if moved is not None:
                            period.dt = moved


def _onset(zone: ZoneInfo, local: dt.datetime, offset_from, offset_to):
    """Return the naive local time (in ``offset_from``) of ``zone``'s change
    from ``offset_from`` to ``offset_to`` nearest before ``local``, or None."""
    utc = (local - offset_to).replace(tzinfo=dt.UTC) + dt.timedelta(hours=3)
    step = dt.timedelta(minutes=15)
    for _step in range(4 * 24 * 2):
        before = (utc - step).astimezone(zone).utcoffset()
        if before == offset_from and utc.astimezone(zone).utcoffset() == offset_to:
            return (utc + offset_from).replace(tzinfo=None)
        utc -= step
    return None
