"""Writes of the timetable: import a class's feed, change one occurrence.

Each action runs in one ``transaction.atomic`` block and reports what changed
on the class's stream (``class:<id>``) through ``hub.send_event``: a first
import sends one ``FeedImported``; every later change of an occurrence (by a
re-import or by a staff member) is recorded as an ``OccurrenceChange`` and
sent as one ``OccurrenceChanged`` (a live update of open pages). An action
that changed lessons then sends one ``TimetableChanges`` for all of them: the
one notification of the action (seven lessons of a re-import are one
notification, not seven).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, fields
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

import hub
from core import metrics
from core.audit import log as audit
from core.roster.models import Org, SchoolClass, User
from core.text import strip_accents
from core.timetable.events import (
    LISTED,
    ChangeData,
    FeedImported,
    OccurrenceChanged,
    OccurrenceData,
    TimetableChanges,
)
from core.timetable.holidays import holiday_dates
from core.timetable.ical_import import (
    IcalWarning,
    ParsedCalendar,
    ParsedLesson,
    ParsedOccurrence,
    parse_calendar,
)
from core.timetable.models import Feed, Lesson, Occurrence, OccurrenceChange
from core.timetable.school_calendar import school_holiday_dates
from hub.streams import class_stream

ADDED = OccurrenceChange.Kind.ADDED.value
CANCELLED = OccurrenceChange.Kind.CANCELLED.value
RESTORED = OccurrenceChange.Kind.RESTORED.value
MOVED = OccurrenceChange.Kind.MOVED.value
ROOM_CHANGED = OccurrenceChange.Kind.ROOM_CHANGED.value
TEACHER_CHANGED = OccurrenceChange.Kind.TEACHER_CHANGED.value
SCHEDULED_STATUS = Occurrence.Status.SCHEDULED.value
CANCELLED_STATUS = Occurrence.Status.CANCELLED.value
# Not an event op (``OccurrenceChanged.op`` has none for it): a subject-only
# change is written and recorded, but not announced.
SUBJECT_CHANGED = "subject_changed"

# The op of an event is its most important kind, in this order.
_OP_PRIORITY = (CANCELLED, RESTORED, ADDED, MOVED, ROOM_CHANGED, TEACHER_CHANGED)
_TEXT_MAX = 300
_CHANGE_COUNTS = (*_OP_PRIORITY, SUBJECT_CHANGED)


@dataclass
class ImportResult:
    """What :func:`import_feed` did, in occurrences.

    ``created``: rows written without an announcement (all of a first import;
    on a re-import, occurrences that appear already cancelled). Each changed
    occurrence counts once, under its event op (``added``, ``cancelled``,
    ``restored``, ``moved``, ``room_changed``, ``teacher_changed``) or under
    ``subject_changed`` when only its subject changed. ``unchanged``: matched
    and identical. ``skipped_holidays``: occurrences on a public holiday, not
    stored. ``skipped_all_day``: all-day VEVENTs of the file, not lessons.
    ``rejected``: VEVENTs of the file left out (an end before the start):
    their stored occurrences are left as they were. ``warnings``: what the
    file had that was skipped or rejected, with its line (not a count).
    """

    feed_id: int
    first_import: bool
    created: int = 0
    added: int = 0
    cancelled: int = 0
    restored: int = 0
    moved: int = 0
    room_changed: int = 0
    teacher_changed: int = 0
    subject_changed: int = 0
    unchanged: int = 0
    skipped_holidays: int = 0
    skipped_all_day: int = 0
    rejected: int = 0
    warnings: list[IcalWarning] = field(default_factory=list)

    @property
    def changed(self) -> int:
        """Return how many existing or new occurrences were changed."""
        return sum(getattr(self, name) for name in _CHANGE_COUNTS)

    def as_dict(self) -> dict[str, int]:
        """Return the counts (and ``changed``, and how many ``warnings``)."""
        counts = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "warnings"
        }
        counts["changed"] = self.changed
        counts["warnings"] = len(self.warnings)
        return counts


@dataclass(frozen=True, slots=True)
class _Target:
    """The values an occurrence should have after a change."""

    start: dt.datetime
    end: dt.datetime
    subject: str
    room: str
    teacher_names: str
    status: str

    @classmethod
    def of(cls, parsed: ParsedOccurrence) -> _Target:
        return cls(
            start=parsed.start,
            end=parsed.end,
            subject=parsed.subject,
            room=parsed.room,
            teacher_names=parsed.teacher_names,
            status=CANCELLED_STATUS if parsed.cancelled else SCHEDULED_STATUS,
        )


class _Announcement:
    """The changes of one action: each sent live, then one notice of them all.

    :meth:`add` sends a change's ``OccurrenceChanged`` at once (pages apply
    it); :meth:`send`, at the end of the action (same transaction), sends
    one ``TimetableChanges`` naming how many lessons changed and the first
    ones, or nothing when none did.
    """

    def __init__(self, school_class: SchoolClass, reason: str) -> None:
        self.school_class = school_class
        self.reason = reason[:_TEXT_MAX]
        self.batch: int | None = None
        self.changes: list[ChangeData] = []

    def add(self, change: OccurrenceChange, event: OccurrenceChanged) -> None:
        hub.send_event([class_stream(self.school_class.pk)], event)
        if self.batch is None:
            self.batch = change.pk
        self.changes.append(
            ChangeData(op=event.op, changes=event.changes, occurrence=event.occurrence)
        )

    def send(self) -> None:
        if not self.changes:
            return
        first = sorted(
            self.changes,
            key=lambda c: (
                dt.datetime.fromisoformat(c.occurrence.start),
                c.occurrence.id,
            ),
        )[:LISTED]
        monday = dt.datetime.fromisoformat(first[0].occurrence.start).date()
        monday -= dt.timedelta(days=monday.weekday())
        hub.send_event(
            [class_stream(self.school_class.pk)],
            TimetableChanges(
                op="changed",
                batch=self.batch,  # type: ignore[arg-type]  # set by the first add
                class_id=self.school_class.pk,
                class_title=self.school_class.title,
                org_id=self.school_class.org_id,
                count=len(self.changes),
                week=monday.isoformat(),
                first=first,
                reason=self.reason,
            ),
        )
        self.changes = []


def occurrence_data(occurrence: Occurrence) -> OccurrenceData:
    """Return ``occurrence`` as events and pages carry it.

    Times are ISO 8601 in the class's org time zone (Europe/Paris), with the
    offset (``2026-01-20T14:15:00+01:00``); ``previous_start`` and
    ``previous_end`` are ``None`` when the occurrence never moved. Reads
    ``occurrence.school_class.org``: select it with the occurrence.
    """
    zone = ZoneInfo(occurrence.school_class.org.time_zone)

    def local(moment: dt.datetime | None) -> str | None:
        return moment.astimezone(zone).isoformat() if moment is not None else None

    return OccurrenceData(
        id=occurrence.pk,
        class_id=occurrence.school_class_id,
        subject=occurrence.subject,
        # (start and end are never null)
        start=local(occurrence.start),  # type: ignore[arg-type]
        end=local(occurrence.end),  # type: ignore[arg-type]
        room=occurrence.room,
        teachers=occurrence.teacher_names,
        status=occurrence.status,
        previous_start=local(occurrence.previous_start),
        previous_end=local(occurrence.previous_end),
        previous_room=occurrence.previous_room,
        previous_teachers=occurrence.previous_teacher_names,
        reason=occurrence.change_reason,
    )


@metrics.count_imports("timetable")
def import_feed(
    *,
    school_class: SchoolClass,
    data: bytes,
    name: str,
    reason: str = "",
    actor: User | None = None,
    now: dt.datetime | None = None,
    window: tuple[dt.date, dt.date] | None = None,
) -> ImportResult:
    """Import the iCalendar export ``data`` into the feed of ``school_class``.

    ``name`` is the file name or URL (kept on the feed); ``reason`` and
    ``actor`` go into each change recorded; ``now`` is the import time.
    Occurrences are expanded over ``window`` (first and last day, inclusive,
    in the org's time zone), by default the class's academic session; those
    on a public holiday (``Holiday``) or on a school holiday of the org
    (``SchoolHoliday``, its academy and zone) are skipped.

    The first import of a class (its feed has no occurrence yet) creates its
    feed, lessons and occurrences and sends one ``FeedImported``. A later
    import applies the difference, matching occurrences by UID and
    RECURRENCE-ID (RFC 5545 §3.8.4.7, §3.8.4.4): an occurrence that changed
    time, room, teachers, subject or status (§3.8.1.11) is updated, one that
    is gone from the window is cancelled (its row kept), a new one is added;
    each is recorded and sent as one ``OccurrenceChanged``, and one
    ``TimetableChanges`` tells them all. Identical occurrences are not
    written.

    Raises :class:`core.timetable.ical_import.IcalImportError` for a file it
    cannot read (before anything is written) and ``ValueError`` for a window
    that ends before it starts. Everything happens in one transaction.
    """
    now = now or timezone.now()
    school_class = SchoolClass.objects.select_related("org", "session").get(
        pk=school_class.pk
    )
    org = school_class.org
    first_day, last_day = window or (
        school_class.session.start_date,
        school_class.session.end_date,
    )
    if last_day < first_day:
        raise ValueError(f"window ends ({last_day}) before it starts ({first_day})")
    zone = ZoneInfo(org.time_zone)
    start = dt.datetime.combine(first_day, dt.time(), zone)
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), zone)
    feed_zone = (
        Feed.objects.filter(school_class=school_class)
        .values_list("time_zone", flat=True)
        .first()
        or org.time_zone
    )
    # Parsing is pure and slow: do it before taking any lock.
    parsed = parse_calendar(data, start=start, end=end, default_tz=feed_zone)

    with transaction.atomic():
        feed, _ = Feed.objects.select_for_update().get_or_create(
            school_class=school_class,
            defaults={"name": name[:200], "time_zone": org.time_zone},
        )
        holidays = holiday_dates(first_day, last_day) | school_holiday_dates(
            org, first_day, last_day
        )
        wanted: dict[tuple[str, str], ParsedOccurrence] = {}
        skipped = 0
        for occurrence in parsed.occurrences:
            if occurrence.start.astimezone(zone).date() in holidays:
                skipped += 1
            else:
                wanted[(occurrence.uid, occurrence.recurrence_key)] = occurrence
        lessons = _upsert_lessons(
            feed, school_class, parsed.lessons, {uid for uid, _ in wanted}
        )
        directory = _teacher_directory(org)
        existing = {
            (occurrence.lesson.uid, occurrence.recurrence_key): occurrence
            for occurrence in Occurrence.objects.filter(
                lesson__feed=feed
            ).select_related("lesson")
        }
        result = ImportResult(
            feed_id=feed.pk,
            first_import=not existing,
            skipped_holidays=skipped,
            skipped_all_day=parsed.skipped_all_day,
            rejected=parsed.rejected,
            warnings=list(parsed.warnings),
        )
        if not existing:
            _create_all(school_class, lessons, wanted, directory, result)
        else:
            _apply_difference(
                school_class,
                lessons,
                wanted,
                existing,
                directory,
                result,
                parsed=parsed,
                window=(start, end),
                reason=reason,
                actor=actor,
            )
        feed.name = name[:200]
        feed.imported_at = now
        feed.save(update_fields=["name", "imported_at"])
        audit.record(
            actor=actor,
            action="timetable.imported",
            target_type="feed",
            target_id=feed.pk,
            org_id=org.pk,
            detail={"class": school_class.pk, "first_import": result.first_import},
        )
    return result


def change_occurrence(
    *,
    occurrence: Occurrence,
    actor: User | None,
    reason: str,
    cancelled: bool | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    room: str | None = None,
    teacher_names: str | None = None,
) -> Occurrence:
    """Change one occurrence by hand (a staff member) and announce it.

    Arguments left ``None`` keep their value. ``cancelled`` cancels (``True``)
    or restores (``False``) it; ``start`` and ``end`` are aware datetimes (a
    new ``start`` alone keeps the duration); ``teacher_names`` is a
    comma-separated list of names or timetable codes, and teachers of the org
    whose ``timetable_code`` matches are linked. The change is recorded like
    an import's (``previous_*`` keep the values before the first change) and
    sent as one ``OccurrenceChanged`` and one ``TimetableChanges``; nothing
    is written or sent when no value differs. The caller checks that
    ``actor`` may do it.

    Returns the occurrence as saved. Raises ``ValueError`` for a naive
    datetime or an end before the start.
    """
    with transaction.atomic():
        occurrence = (
            Occurrence.objects.select_for_update(of=("self",))
            .select_related("school_class__org")
            .get(pk=occurrence.pk)
        )
        new_start = start or occurrence.start
        if end is not None:
            new_end = end
        elif start is not None:
            new_end = start + (occurrence.end - occurrence.start)
        else:
            new_end = occurrence.end
        if timezone.is_naive(new_start) or timezone.is_naive(new_end):
            raise ValueError("start and end must be aware datetimes")
        if new_end < new_start:
            raise ValueError(f"end {new_end} is before start {new_start}")
        if cancelled is None:
            status = occurrence.status
        else:
            status = CANCELLED_STATUS if cancelled else SCHEDULED_STATUS
        teachers = None
        names = occurrence.teacher_names
        if teacher_names is not None:
            codes = [c.strip() for c in re.split(r"[,/]", teacher_names) if c.strip()]
            names = ", ".join(codes)[:_TEXT_MAX]
            teachers = _resolve(codes, _teacher_directory(occurrence.school_class.org))
        target = _Target(
            start=new_start,
            end=new_end,
            subject=occurrence.subject,
            room=occurrence.room if room is None else room.strip()[:_TEXT_MAX],
            teacher_names=names,
            status=status,
        )
        announcement = _Announcement(occurrence.school_class, reason)
        kinds = _apply_change(
            occurrence,
            target,
            reason=reason,
            actor=actor,
            announcement=announcement,
            teachers=teachers,
        )
        announcement.send()
        if kinds:
            audit.record(
                actor=actor,
                action="occurrence.changed",
                target_type="occurrence",
                target_id=occurrence.pk,
                org_id=occurrence.school_class.org_id,
                detail={"changes": list(kinds)},
            )
    return occurrence


def _upsert_lessons(
    feed: Feed,
    school_class: SchoolClass,
    parsed: dict[str, ParsedLesson],
    uids: set[str],
) -> dict[str, Lesson]:
    """Create or update the lessons ``uids`` of ``feed``; return them by UID."""
    lessons = {lesson.uid: lesson for lesson in feed.lessons.all()}
    to_create, to_update = [], []
    for uid in sorted(uids):
        source = parsed[uid]
        values = {
            "subject": source.subject,
            "room": source.room,
            "teacher_names": source.teacher_names,
            "rrule": source.rrule,
        }
        lesson = lessons.get(uid)
        if lesson is None:
            to_create.append(
                Lesson(feed=feed, school_class=school_class, uid=uid, **values)
            )
        elif any(getattr(lesson, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(lesson, key, value)
            to_update.append(lesson)
    Lesson.objects.bulk_create(to_create, batch_size=500)
    Lesson.objects.bulk_update(to_update, ["subject", "room", "teacher_names", "rrule"])
    lessons.update((lesson.uid, lesson) for lesson in to_create)
    return lessons


def _name_key(text: str) -> str:
    """Return ``text`` as names are compared: case, accents, hyphens aside.

    ``"LE GALL Jean-Noël"`` and ``"jean noel le gall"`` give the same words;
    the order of the words still counts (see :func:`_teacher_directory`).
    """
    return " ".join(re.sub(r"[-'’.]", " ", strip_accents(text)).casefold().split())


def _teacher_directory(org: Org) -> dict[str, list[User]]:
    """Return the org's teachers by the names exports give them.

    Keys (see :func:`_name_key`) are each user's ``timetable_code`` (flop!EDT
    initials, EDT codes) and, for teachers, their full name both ways round,
    ``"NOM Prénom"`` (ADE) and ``"Prénom NOM"``. A code links every user who
    has it; a full name that two teachers of the org share links neither.
    """
    users = (
        User.objects.filter(Q(orgs=org) | Q(enrollments__school_class__org=org))
        .filter(~Q(timetable_code="") | Q(role=User.Role.TEACHER))
        .distinct()
        .order_by("pk")
    )
    directory: dict[str, list[User]] = {}
    by_name: dict[str, list[User]] = {}
    for user in users:
        code = _name_key(user.timetable_code)
        if code:
            directory.setdefault(code, []).append(user)
        if user.role != User.Role.TEACHER:
            continue
        first, last = user.first_name.strip(), user.last_name.strip()
        if first and last:
            for name in {_name_key(f"{last} {first}"), _name_key(f"{first} {last}")}:
                by_name.setdefault(name, []).append(user)
    for name, found in by_name.items():
        if len(found) == 1 and name not in directory:
            directory[name] = found
    return directory


def _resolve(codes, directory: dict[str, list[User]]) -> list[User]:
    found: dict[int, User] = {}
    for code in codes:
        for user in directory.get(_name_key(code), ()):
            found.setdefault(user.pk, user)
    return list(found.values())


def _new_occurrence(
    school_class: SchoolClass, lesson: Lesson, parsed: ParsedOccurrence
) -> Occurrence:
    target = _Target.of(parsed)
    return Occurrence(
        lesson=lesson,
        school_class=school_class,
        recurrence_key=parsed.recurrence_key,
        start=target.start,
        end=target.end,
        subject=target.subject,
        room=target.room,
        teacher_names=target.teacher_names,
        status=target.status,
    )


def _create_all(school_class, lessons, wanted, directory, result: ImportResult) -> None:
    """First import: write every occurrence and send one ``FeedImported``.

    A feed with nothing in the window yet sends nothing (pages have nothing
    to reload); its next import with occurrences is again a first import.
    """
    if not wanted:
        return
    rows = [
        _new_occurrence(school_class, lessons[parsed.uid], parsed)
        for parsed in wanted.values()
    ]
    Occurrence.objects.bulk_create(rows, batch_size=500)
    through = Occurrence.teachers.through
    links = [
        through(occurrence_id=row.pk, user_id=user.pk)
        for row, parsed in zip(rows, wanted.values(), strict=True)
        for user in _resolve(parsed.teacher_codes, directory)
    ]
    through.objects.bulk_create(links, batch_size=1000)
    result.created = len(rows)
    hub.send_event(
        [class_stream(school_class.pk)],
        FeedImported(op="imported", class_id=school_class.pk, occurrences=len(rows)),
    )


def _apply_difference(
    school_class,
    lessons,
    wanted,
    existing,
    directory,
    result: ImportResult,
    *,
    parsed: ParsedCalendar,
    window: tuple[dt.datetime, dt.datetime],
    reason: str,
    actor: User | None,
) -> None:
    """Re-import: add, update and cancel occurrences; one event each, one notice.

    Occurrences of events the file rejected are left alone. An occurrence
    gone with its UID and one that appeared for the same start and subject
    are one lesson whose UID the exporter regenerated: the stored row takes
    the new UID and is updated (see :func:`_regenerated_uids`).
    """
    start, end = window
    announcement = _Announcement(school_class, reason)
    gone = {
        key: occurrence
        for key, occurrence in existing.items()
        if key not in wanted
        and start <= occurrence.start < end
        and not parsed.is_rejected(*key)
    }
    renamed = _regenerated_uids(
        gone,
        {key: p for key, p in wanted.items() if key not in existing},
        parsed,
    )
    emptied: set[int] = set()
    rekeyed: list[Occurrence] = []
    for key, parsed_occurrence in wanted.items():
        occurrence = existing.get(key)
        teachers = _resolve(parsed_occurrence.teacher_codes, directory)
        if occurrence is None and key in renamed:
            occurrence = gone.pop(renamed[key])
            emptied.add(occurrence.lesson_id)
            occurrence.lesson = lessons[parsed_occurrence.uid]
            occurrence.recurrence_key = parsed_occurrence.recurrence_key
            occurrence.school_class = school_class
            kinds = _apply_change(
                occurrence,
                _Target.of(parsed_occurrence),
                reason=reason,
                actor=actor,
                announcement=announcement,
                teachers=teachers,
            )
            if not kinds:  # the UID alone changed: nothing to announce
                rekeyed.append(occurrence)
            _count(result, kinds)
            continue
        if occurrence is None:
            occurrence = _new_occurrence(
                school_class, lessons[parsed_occurrence.uid], parsed_occurrence
            )
            if parsed_occurrence.cancelled:
                # Appears already cancelled: store it, nothing to announce.
                occurrence.save()
                occurrence.teachers.set(teachers)
                result.created += 1
                continue
            occurrence.change_reason = reason[:_TEXT_MAX]
            occurrence.save()
            occurrence.teachers.set(teachers)
            occurrence.school_class = school_class
            _record_and_send(
                occurrence,
                [ADDED],
                {},
                reason=reason,
                actor=actor,
                announcement=announcement,
            )
            result.added += 1
            continue
        occurrence.school_class = school_class  # with its org: no query per event
        kinds = _apply_change(
            occurrence,
            _Target.of(parsed_occurrence),
            reason=reason,
            actor=actor,
            announcement=announcement,
            teachers=teachers,
        )
        _count(result, kinds)
    for occurrence in gone.values():
        if occurrence.status == CANCELLED_STATUS:
            result.unchanged += 1
            continue
        occurrence.school_class = school_class
        cancelled = _Target(
            start=occurrence.start,
            end=occurrence.end,
            subject=occurrence.subject,
            room=occurrence.room,
            teacher_names=occurrence.teacher_names,
            status=CANCELLED_STATUS,
        )
        kinds = _apply_change(
            occurrence,
            cancelled,
            reason=reason,
            actor=actor,
            announcement=announcement,
        )
        _count(result, kinds)
    Occurrence.objects.bulk_update(
        rekeyed, ["lesson", "recurrence_key"], batch_size=500
    )
    # The lessons of the old UIDs, once all their rows took new ones.
    Lesson.objects.filter(pk__in=emptied, occurrences__isnull=True).delete()
    announcement.send()


def _regenerated_uids(
    gone: dict[tuple[str, str], Occurrence],
    appeared: dict[tuple[str, str], ParsedOccurrence],
    parsed: ParsedCalendar,
) -> dict[tuple[str, str], tuple[str, str]]:
    """Pair new occurrences with stored ones whose UID left the file.

    Some exporters give every event a new UID at each export. A stored
    occurrence whose UID is no longer in the file and a new one of the same
    class (the feed is the class's), same start and same subject are the same
    lesson. Among several with the same start and subject, identical ones
    pair first, then a last one on each side; others stay a cancellation and
    an addition (which group's lesson changed room cannot be told). Returns
    ``{new key: stored key}``.
    """
    slots: dict[tuple[dt.datetime, str], list[tuple[str, str]]] = {}
    for key, occurrence in gone.items():
        if key[0] not in parsed.lessons:
            slots.setdefault((occurrence.start, occurrence.subject), []).append(key)
    candidates: dict[tuple[dt.datetime, str], list[tuple[str, str]]] = {}
    for key, parsed_occurrence in appeared.items():
        slot = (parsed_occurrence.start, parsed_occurrence.subject)
        if slot in slots:
            candidates.setdefault(slot, []).append(key)
    pairs: dict[tuple[str, str], tuple[str, str]] = {}
    for slot, new_keys in candidates.items():
        old_keys = slots[slot]
        for new_key in list(new_keys):
            target = _Target.of(appeared[new_key])
            same = next((k for k in old_keys if not _kinds(gone[k], target)), None)
            if same is not None:
                pairs[new_key] = same
                old_keys.remove(same)
                new_keys.remove(new_key)
        if len(new_keys) == 1 and len(old_keys) == 1:
            pairs[new_keys[0]] = old_keys[0]
    return pairs


def _count(result: ImportResult, kinds: list[str]) -> None:
    if not kinds:
        result.unchanged += 1
    else:
        name = _main_op(kinds) or SUBJECT_CHANGED
        setattr(result, name, getattr(result, name) + 1)


def _kinds(occurrence: Occurrence, target: _Target) -> list[str]:
    """Return the change kinds from ``occurrence`` to ``target``, by priority."""
    kinds = []
    if occurrence.status != target.status:
        kinds.append(CANCELLED if target.status == CANCELLED_STATUS else RESTORED)
    if (occurrence.start, occurrence.end) != (target.start, target.end):
        kinds.append(MOVED)
    if occurrence.room != target.room:
        kinds.append(ROOM_CHANGED)
    if occurrence.teacher_names != target.teacher_names:
        kinds.append(TEACHER_CHANGED)
    if occurrence.subject != target.subject:
        kinds.append(SUBJECT_CHANGED)
    return kinds


def _main_op(kinds: list[str]) -> str | None:
    return next((op for op in _OP_PRIORITY if op in kinds), None)


def _snapshot(occurrence: Occurrence) -> dict:
    """Return the changeable values as JSON (times ISO 8601 in UTC)."""
    return {
        "start": occurrence.start.astimezone(dt.UTC).isoformat(),
        "end": occurrence.end.astimezone(dt.UTC).isoformat(),
        "subject": occurrence.subject,
        "room": occurrence.room,
        "teacher_names": occurrence.teacher_names,
        "status": occurrence.status,
    }


def _apply_change(
    occurrence: Occurrence,
    target: _Target,
    *,
    reason: str,
    actor: User | None,
    announcement: _Announcement,
    teachers: list[User] | None = None,
) -> list[str]:
    """Bring ``occurrence`` to ``target``, record it and add it to ``announcement``.

    ``previous_*`` keep the value before the first change (so a page says
    "initially 10:00" after two moves) and are cleared when the value comes
    back to it. ``teachers`` (when given) replace the linked users if the
    teacher names changed. Returns the kinds (empty: nothing was written).
    """
    kinds = _kinds(occurrence, target)
    if not kinds:
        return kinds
    before = _snapshot(occurrence)
    occurrence.status = target.status
    if MOVED in kinds:
        if occurrence.previous_start is None:
            occurrence.previous_start = occurrence.start
            occurrence.previous_end = occurrence.end
        occurrence.start, occurrence.end = target.start, target.end
        if (occurrence.previous_start, occurrence.previous_end) == (
            occurrence.start,
            occurrence.end,
        ):
            occurrence.previous_start = occurrence.previous_end = None
    if ROOM_CHANGED in kinds:
        occurrence.previous_room = occurrence.previous_room or occurrence.room
        occurrence.room = target.room
        if occurrence.previous_room == occurrence.room:
            occurrence.previous_room = ""
    if TEACHER_CHANGED in kinds:
        occurrence.previous_teacher_names = (
            occurrence.previous_teacher_names or occurrence.teacher_names
        )
        occurrence.teacher_names = target.teacher_names
        if occurrence.previous_teacher_names == occurrence.teacher_names:
            occurrence.previous_teacher_names = ""
    occurrence.subject = target.subject
    occurrence.change_reason = reason[:_TEXT_MAX]
    occurrence.save()
    if TEACHER_CHANGED in kinds and teachers is not None:
        occurrence.teachers.set(teachers)
    _record_and_send(
        occurrence,
        kinds,
        before,
        reason=reason,
        actor=actor,
        announcement=announcement,
    )
    return kinds


def _record_and_send(
    occurrence: Occurrence,
    kinds: list[str],
    before: dict,
    *,
    reason: str,
    actor: User | None,
    announcement: _Announcement,
) -> None:
    """Write the ``OccurrenceChange`` and send one ``OccurrenceChanged``.

    The one place both the import and a manual change record a change; the
    change joins ``announcement`` (its notice). A subject-only change has no
    event op: it is recorded, not sent.
    """
    change = OccurrenceChange.objects.create(
        occurrence=occurrence,
        kinds=list(kinds),
        before=before,
        after=_snapshot(occurrence),
        reason=reason[:_TEXT_MAX],
        changed_by=actor,
    )
    op = _main_op(kinds)
    if op is not None:
        announcement.add(
            change,
            OccurrenceChanged(
                op=op,  # type: ignore[arg-type]  # _OP_PRIORITY: its ops
                changes=list(kinds),
                occurrence=occurrence_data(occurrence),
                org_id=occurrence.school_class.org_id,
            ),
        )
