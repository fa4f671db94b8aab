"""Writes of the privacy module: data exports and the erasure of a person.

- :func:`request_export` records a request and enqueues its task, whose
  work (:func:`core.privacy.tasks.build_export`) builds the zip, stores it
  encrypted and e-mails the link.
- :func:`expire_exports` deletes the zips past their date (the scheduler's
  retention job calls it).
- :func:`erase_person` erases and anonymises a person (RGPD art. 17, within
  what the school must keep): see :mod:`core.privacy.erasure`.

Each write leaves an audit entry.
"""

import datetime as dt
import json
from functools import partial

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.db.models.functions import Cast
from django.utils import timezone

from core import crypto
from core.audit import log as audit
from core.audit.models import AuditEntry
from core.privacy import erasure
from core.privacy.models import DataExport
from core.privacy.tasks import build_data_export
from core.roster import access as roster_access
from core.roster.models import EndedMembership, Enrollment, GuardianLink, User
from hub.realtime.control import close_user_sockets

ERASED_FIRST_NAME = "Personne"
ERASED_LAST_NAME = "effacée"
ERASED_NAME = f"{ERASED_FIRST_NAME} {ERASED_LAST_NAME}"


class NotAllowed(Exception):
    """The actor may not erase this person."""


# Data exports ---------------------------------------------------------------


class TooManyExports(Exception):
    """The person asked for ``EXPORTS_PER_DAY`` copies in the last 24 hours."""


# Each export reads everything about a family, files included: a few a day.
EXPORTS_PER_DAY = 3
# A request not built after this long (a worker lost) no longer blocks a new one.
STALE_REQUEST = dt.timedelta(hours=6)


def request_export(user: User) -> tuple[DataExport, bool]:
    """Record ``user``'s request for their data and enqueue its build.

    A request still being built is returned as is (``created`` False): one
    export at a time per person. Raises :class:`TooManyExports` past
    ``EXPORTS_PER_DAY`` requests in 24 hours.
    """
    now = timezone.now()
    with transaction.atomic():
        # Serialise two clicks of the same person on their own row.
        User.objects.select_for_update().filter(pk=user.pk).first()
        mine = DataExport.objects.filter(user=user)
        pending = mine.filter(
            status=DataExport.Status.REQUESTED, requested_at__gt=now - STALE_REQUEST
        ).first()
        if pending is not None:
            return pending, False
        if (
            mine.filter(requested_at__gt=now - dt.timedelta(days=1)).count()
            >= EXPORTS_PER_DAY
        ):
            raise TooManyExports
        export = DataExport.objects.create(user=user)
        audit.record(
            actor=user,
            action="data_export.requested",
            target_type="user",
            target_id=user.pk,
        )
        transaction.on_commit(partial(build_data_export.enqueue, export.pk))
    return export, True


def record_download(export: DataExport, *, ip: str | None = None) -> None:
    audit.record(
        actor=export.user,
        action="data_export.downloaded",
        target_type="user",
        target_id=export.user_id,
        ip=ip,
    )


# Expired and failed requests are listed on "Mes données" this long, then go.
EXPORT_ROWS_KEPT = dt.timedelta(days=30)


def expire_exports(*, now: dt.datetime | None = None) -> int:
    """Delete the zips of exports past ``expires_at``; return how many
    expired. Expired and failed requests older than ``EXPORT_ROWS_KEPT``
    are deleted too."""
    now = now or timezone.now()
    DataExport.objects.filter(
        status__in=[DataExport.Status.EXPIRED, DataExport.Status.FAILED],
        requested_at__lt=now - EXPORT_ROWS_KEPT,
    ).delete()
    due = DataExport.objects.filter(status=DataExport.Status.READY, expires_at__lte=now)
    count = 0
    for export in due:
        _delete_file(export.file)
        export.file = ""
        export.status = DataExport.Status.EXPIRED
        export.save(update_fields=["file", "status"])
        count += 1
    return count


def _delete_file(field_file) -> None:
    if field_file:
        field_file.storage.delete(field_file.name)


# Erasure ----------------------------------------------------------------------


def may_erase(actor: User, person: User) -> bool:
    """Return whether ``actor`` may erase ``person``.

    Superusers may; school-life staff holding ``privacy.erase_person`` may
    erase the people of their own schools (:func:`staff_orgs`: role and
    permission, not ``is_staff``). Nobody erases themselves here (the school
    does it, on request).
    """
    if actor is None or not actor.is_active or actor.pk == person.pk:
        return False
    if actor.is_superuser:
        return True
    schools = set(
        roster_access.staff_orgs(actor, "privacy.erase_person").values_list(
            "pk", flat=True
        )
    )
    if not schools:
        return False
    theirs = set(roster_access.orgs_of(person).values_list("pk", flat=True))
    theirs |= {
        org
        for child in roster_access.children_of(person)
        for org in roster_access.orgs_of(child).values_list("pk", flat=True)
    }
    if not theirs:  # ended everywhere: the history says where they were
        theirs = set(
            EndedMembership.objects.filter(user=person, school_class__isnull=False)
            .values_list("school_class__org_id", flat=True)
            .distinct()
        )
    return bool(theirs) and theirs <= schools


def has_school_data(person: User) -> bool:
    """Return whether deleting ``person``'s row would lose rows the school
    keeps (absences, excuses, messages…): erase them instead."""
    for key, model, field, on_delete in erasure.relations(get_user_model()):
        if erasure.fate_of(key, on_delete) != erasure.KEEP or on_delete is None:
            continue
        if model._default_manager.filter(**{field: person}).exists():
            return True
    return False


def erase_person(person: User, actor: User | None, *, ip: str | None = None) -> dict:
    """Erase and anonymise ``person``; return what was done, per relation.

    The rows the school keeps stay and name "Personne effacée"; the
    person's own data is deleted; their current memberships end; the
    account is deactivated (``erased-<id>``, no e-mail, unusable password),
    their sessions deleted and their sockets closed. Their name is replaced
    in the texts others keep (notifications, stream events, conversation
    subjects, the audit log and the admin's history). One audit entry, with
    the actor, records it. ``actor`` None is the system (a command).

    Raises :class:`NotAllowed` when ``actor`` may not (:func:`may_erase`).
    """
    if actor is not None and not may_erase(actor, person):
        raise NotAllowed
    names = Names(person)
    done: dict[str, int] = {}
    with transaction.atomic():
        person = User.objects.select_for_update().get(pk=person.pk)
        # Before the memberships end: ending them may remove the person
        # from conversations (core.roster.signals.memberships_ended).
        conversations = _conversations_of(person)
        _end_memberships(person, done)
        _clear_excuse_texts(person, names, done)
        for key, model, field, on_delete in erasure.relations(get_user_model()):
            if erasure.fate_of(key, on_delete) != erasure.DELETE:
                continue
            if on_delete is None:  # many-to-many (User.orgs, groups…)
                if model is User:
                    getattr(person, field).clear()
                else:
                    getattr(model, field).through.objects.filter(
                        **{
                            model._meta.get_field(  # type: ignore[union-attr]  # a ManyToManyField
                                field
                            ).m2m_reverse_field_name(): person
                        }
                    ).delete()
                continue
            rows = model._default_manager.filter(**{field: person})
            if model is DataExport:
                for export in rows:
                    _delete_file(export.file)  # type: ignore[attr-defined]  # a DataExport
            count, _ = rows.delete()
            if count:
                done[key] = count
        _drop_empty_conversations(conversations, done)
        _delete_sessions(person, done)
        _scrub(person, names, conversations, done)
        person.username = f"erased-{person.pk}"
        person.first_name = ERASED_FIRST_NAME
        person.last_name = ERASED_LAST_NAME
        person.email = ""
        person.national_id = ""
        person.timetable_code = ""
        person.sourced_id = ""
        person.source = ""
        person.is_active = False
        person.is_staff = False
        person.is_superuser = False
        person.last_login = None
        person.set_unusable_password()
        person.save()
        audit.record(
            actor=actor,
            action="person.erased",
            target_type="user",
            target_id=person.pk,
            ip=ip,
            detail={"role": person.role, "done": done},
        )
        transaction.on_commit(partial(close_user_sockets, person.pk, "erased"))
    return done


class Names:
    """The strings that identify a person in others' texts: the full name
    both ways and the e-mail address, replaced wherever they appear; the
    login, replaced where a value is exactly it (a short login such as
    ``lea`` would otherwise hit other words). A lone first or last name is
    too common to replace in others' texts."""

    def __init__(self, person: User) -> None:
        first, last = person.first_name.strip(), person.last_name.strip()
        found = {f"{first} {last}".strip(), f"{last} {first}".strip(), person.email}
        found = {n for n in found if n and (" " in n or "@" in n)}
        self.parts = sorted(found, key=len, reverse=True)
        self.login = person.get_username()

    def mentioned_in(self, rows: models.QuerySet, field: str) -> models.QuerySet:
        """Keep the ``rows`` whose JSON ``field`` may hold a name (a
        superset: :meth:`replace` decides). JSON text escapes non-ASCII
        characters on SQLite, not on PostgreSQL: both forms are sought."""
        query = models.Q(pk__in=[])
        for name in [*self.parts, f'"{self.login}"']:
            for form in {name, json.dumps(name)[1:-1]}:
                query |= models.Q(_text__contains=form)
        return rows.annotate(_text=Cast(field, models.TextField())).filter(query)

    def rewrite_json(self, rows: models.QuerySet, field: str) -> int:
        """Replace the names in the JSON ``field`` of ``rows``; return how
        many rows changed. One ``executemany`` per 500 rows: a pupil's name
        may be in thousands of stream events, and an ORM update per row (or
        ``bulk_update``'s CASE) costs a millisecond or more each."""
        model = rows.model
        column = model._meta.get_field(field)
        quote = connection.ops.quote_name
        table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
        sql = f"UPDATE {table} SET {quote(column.column)} = %s WHERE {pk} = %s"
        count = 0
        batch: list = []

        def flush() -> None:
            with connection.cursor() as cursor:
                cursor.executemany(sql, batch)

        for row in self.mentioned_in(rows.only("pk", field), field).iterator(
            chunk_size=2000
        ):
            value = self.replace(getattr(row, field))
            if value != getattr(row, field):
                batch.append((column.get_db_prep_save(value, connection), row.pk))
                count += 1
            if len(batch) >= 500:
                flush()
                batch = []
        if batch:
            flush()
        return count

    def replace(self, value):
        """Return ``value`` (a string or JSON-like value) with the names replaced."""
        if isinstance(value, str):
            if value == self.login:
                return ERASED_NAME
            for name in self.parts:
                if name in value:
                    value = value.replace(name, ERASED_NAME)
            return value
        if isinstance(value, list):
            return [self.replace(item) for item in value]
        if isinstance(value, dict):
            return {key: self.replace(item) for key, item in value.items()}
        return value


def _end_memberships(person: User, done: dict) -> None:
    now = timezone.now()
    enrollments = list(Enrollment.objects.filter(user=person))
    links = list(
        GuardianLink.objects.filter(
            models.Q(guardian=person) | models.Q(student=person)
        )
    )
    EndedMembership.objects.bulk_create(
        [
            EndedMembership(
                kind=EndedMembership.Kind.ENROLLMENT,
                user_id=e.user_id,
                school_class_id=e.school_class_id,
                role=e.role,
                ended_at=now,
            )
            for e in enrollments
        ]
        + [
            EndedMembership(
                kind=EndedMembership.Kind.GUARDIAN_LINK,
                user_id=link.guardian_id,
                student_id=link.student_id,
                relationship=link.relationship,
                ended_at=now,
            )
            for link in links
        ]
    )
    for row in enrollments + links:
        row.delete()  # core.roster.socket_access rechecks the sockets of those concerned
    if enrollments:
        done["roster.Enrollment.user"] = len(enrollments)
    if links:
        done["roster.GuardianLink"] = len(links)


def _clear_excuse_texts(person: User, names: "Names", done: dict) -> None:
    """Remove the comment and the document of the excuses ``person`` wrote:
    the school keeps the excuse's reason and its decision."""
    from core.attendance.models import Excuse

    count = 0
    for excuse in Excuse.objects.filter(submitted_by=person):
        _delete_file(excuse.document)
        excuse.document = ""
        excuse.comment = ""
        excuse.save(update_fields=["document", "comment"])
        count += 1
    # Staff's notes on the excuses about them or sent by them may name them.
    about = Excuse.objects.filter(
        models.Q(submitted_by=person) | models.Q(record__student=person)
    )
    for excuse in about:  # the note may be encrypted: compared in Python
        note = names.replace(excuse.review_note)
        if note != excuse.review_note:
            excuse.review_note = note
            excuse.save(update_fields=["review_note"])
    if count:
        done["attendance.Excuse.comment_and_document"] = count


def _conversations_of(person: User) -> list[int]:
    from core.messaging.models import Conversation, Participant

    ids = set(
        Participant.objects.filter(user=person).values_list(
            "conversation_id", flat=True
        )
    )
    ids |= set(
        Conversation.objects.filter(created_by=person).values_list("pk", flat=True)
    )
    return sorted(ids)


def _drop_empty_conversations(conversation_ids: list[int], done: dict) -> None:
    """Delete the conversations nobody takes part in any more."""
    from core.messaging.models import Conversation

    empty = Conversation.objects.filter(pk__in=conversation_ids, participants=None)
    count, _ = empty.delete()
    if count:
        done["messaging.Conversation.empty"] = count


def _delete_sessions(person: User, done: dict) -> None:
    """Delete the person's sessions (database sessions; with another engine
    the unusable password already ends them at their next request)."""
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return
    from django.contrib.sessions.models import Session

    mine = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.get_decoded().get("_auth_user_id") == str(person.pk)
    ]
    if mine:
        Session.objects.filter(pk__in=mine).delete()
        done["sessions"] = len(mine)


def _scrub(person: User, names: Names, conversation_ids: list[int], done: dict):
    """Replace ``person``'s names in the texts others keep: subjects and
    messages of the conversations they took part in, notifications, stream
    events, the audit log, the admin's history."""
    from core.messaging.models import Conversation, Message
    from hub.delivery.models import Notification
    from hub.models import Event

    count = 0
    for conversation in Conversation.objects.filter(pk__in=conversation_ids):
        subject = names.replace(conversation.subject)
        if subject != conversation.subject:
            conversation.subject = subject
            conversation.save(update_fields=["subject"])
            count += 1
    # Message bodies are encrypted: read, replace, encrypt again.
    messages = Message.objects.filter(conversation_id__in=conversation_ids)
    for message_id, token in messages.values_list("pk", "body").iterator():
        if not token:
            continue
        try:
            text = crypto.decrypt(token).decode("utf-8")
        except crypto.InvalidToken:
            continue
        new = names.replace(text)
        if new != text:
            Message.objects.filter(pk=message_id).update(body=crypto.encrypt(new))
            count += 1
    # Notification texts may be encrypted (no filter in the database): read
    # them all; the delivery log's retention keeps them few.
    rows = Notification.objects.only("pk", "title", "body", "child_name")
    for notification in rows.iterator(chunk_size=2000):
        changed = []
        for field in ("title", "body", "child_name"):
            value = getattr(notification, field)
            new = names.replace(value)
            if new != value:
                setattr(notification, field, new)
                changed.append(field)
        if changed:
            notification.save(update_fields=changed)
            count += 1
    count += names.rewrite_json(Event.objects.all(), "payload")
    count += AuditEntry.objects.filter(actor_id=person.pk).update(
        actor_name=f"erased-{person.pk}"
    )
    count += names.rewrite_json(AuditEntry.objects.all(), "detail")
    user_type = ContentType.objects.get_for_model(User)
    count += LogEntry.objects.filter(
        content_type=user_type, object_id=str(person.pk)
    ).update(object_repr=f"erased-{person.pk}", change_message="")
    if count:
        done["texts_rewritten"] = count
