"""What a data export holds: everything the hub keeps about a person and
their children, read through each module's access rules (RGPD art. 15, 20).

:func:`build_zip` returns the bytes of a zip: one JSON file per kind
(``profil.json``, ``absences.json``…, listed in ``LISEZMOI.txt``) and the
files themselves (excuse documents, message attachments) under
``fichiers/``. Every read goes through the ``access.py`` of its module, so
an export holds only what the person may see in the hub's pages: another
family's child in the same class, or another school's data, never appears.

"About them" means: the person; for a guardian, also their current
children. Staff and teachers get their own data too, but not the pupils'
data they handle at work (a roll call they took is the pupil's data).
"""

import datetime as dt
import io
import json
import logging
import zipfile
from collections.abc import Iterable

import filetype
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from core import crypto
from core.attendance import access as attendance_access
from core.attendance.models import Excuse
from core.audit.models import AuditEntry
from core.messaging import access as messaging_access
from core.roster import access as roster_access
from core.roster.models import EndedMembership, Enrollment, GuardianLink, User
from core.timetable.models import FeedToken, Occurrence
from hub.delivery.models import (
    Delivery,
    DeliverySettings,
    EmailSend,
    Mute,
    Notification,
    Preference,
    PushSubscription,
)

log = logging.getLogger(__name__)

README = """Vos données du Hub ENT
=======================

Export du {date} pour le compte « {login} ».

Chaque fichier JSON contient une sorte de données :

- profil.json : votre compte et celui de vos enfants (nom, rôle, écoles) ;
- responsables.json : les liens entre responsables légaux et élèves ;
- classes.json : les classes (inscriptions en cours et passées) ;
- emploi_du_temps.json : les cours des classes qui vous concernent ;
- absences.json : absences et retards enregistrés à l'appel ;
- justificatifs.json : les justificatifs envoyés et leur décision
  (les documents sont dans fichiers/justificatifs/) ;
- messages.json : vos conversations et les messages que vous pouvez lire
  (les pièces jointes sont dans fichiers/pieces-jointes/) ;
- notifications.json : les notifications reçues et leurs envois
  (notification poussée, e-mail) ;
- preferences.json : vos réglages de notification ;
- appareils.json : les appareils abonnés aux notifications (sans leurs clés) ;
- jetons_api.json : vos jetons d'accès à l'API (sans leur secret) ;
- journal.json : le journal d'audit de ce que vous avez fait et de ce qui a
  été fait sur votre compte ou celui de vos enfants.

Les dates sont en UTC (ISO 8601). Pour toute question sur vos données,
adressez-vous à l'établissement (délégué à la protection des données).
"""


def _when(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _person(user: User) -> dict:
    return {"id": user.pk, "name": user.get_full_name() or user.get_username()}


def concerned(user: User) -> list[User]:
    """Return the people an export of ``user`` is about: the user, then
    their current children (guardians only)."""
    return [user, *roster_access.children_of(user)]


def profile(user: User, people: list[User]) -> list[dict]:
    rows = []
    for person in people:
        rows.append(
            {
                "id": person.pk,
                "login": person.get_username(),
                "first_name": person.first_name,
                "last_name": person.last_name,
                "email": person.email if person.pk == user.pk else "",
                "role": person.role,
                "national_id": person.national_id,
                "schools": [
                    {"name": org.name, "uai": org.uai}
                    for org in roster_access.orgs_of(person)
                ],
                "date_joined": _when(person.date_joined),
                "last_login": _when(person.last_login) if person == user else None,
                "is_me": person.pk == user.pk,
            }
        )
    return rows


def guardian_links(user: User) -> list[dict]:
    links = GuardianLink.objects.filter(Q(guardian=user) | Q(student=user))
    return [
        {
            "guardian": _person(link.guardian),
            "student": _person(link.student),
            "relationship": link.relationship,
        }
        for link in links.select_related("guardian", "student").order_by("pk")
    ]


def classes(people: list[User]) -> dict:
    current = Enrollment.objects.filter(user__in=people).select_related(
        "school_class__org", "school_class__session", "user"
    )
    ended = EndedMembership.objects.filter(
        user__in=people, kind=EndedMembership.Kind.ENROLLMENT
    ).select_related("school_class__org", "school_class__session", "user")

    def row(item, **extra) -> dict:
        school_class = item.school_class
        return {
            "person": _person(item.user),
            "class": school_class.title if school_class else None,
            "school": school_class.org.name if school_class else None,
            "session": school_class.session.title if school_class else None,
            "role": item.role,
            **extra,
        }

    return {
        "current": [row(e) for e in current.order_by("pk")],
        "ended": [row(e, ended_at=_when(e.ended_at)) for e in ended],
    }


def timetable(user: User, people: list[User]) -> list[dict]:
    """The occurrences of the classes of the people concerned (those the
    user may read), and the lessons a teacher teaches."""
    own_classes = Enrollment.objects.filter(user__in=people).values("school_class_id")
    occurrences = (
        Occurrence.objects.filter(
            Q(
                school_class__in=roster_access.classes_of(user),
                school_class_id__in=own_classes,
            )
            | Q(teachers=user)
        )
        .distinct()
        .select_related("school_class")
        .order_by("start", "pk")
    )
    return [
        {
            "id": o.pk,
            "class": o.school_class.title,
            "subject": o.subject,
            "start": _when(o.start),
            "end": _when(o.end),
            "room": o.room,
            "teachers": o.teacher_names,
            "status": o.status,
        }
        for o in occurrences
    ]


def attendance(user: User, people: list[User]) -> tuple[list, list, list]:
    """Return ``(records, excuses, files)``: the absences and lateness of the
    people concerned that ``user`` may see, their excuses, and the excuse
    documents ``user`` may download, as ``(zip path, bytes)``."""
    records = attendance_access.visible_records(user).filter(student__in=people)
    record_rows, excuse_rows, files = [], [], []
    for record in records:
        occurrence = record.roll_call.occurrence
        record_rows.append(
            {
                "id": record.pk,
                "pupil": _person(record.student),
                "status": record.status,
                "minutes_late": record.minutes_late,
                "lesson": occurrence.subject,
                "class": occurrence.school_class.title,
                "start": _when(occurrence.start),
                "end": _when(occurrence.end),
                "recorded_at": _when(record.recorded_at),
            }
        )
        for excuse in record.excuses.all():
            path = document_of(user, excuse, files)
            excuse_rows.append(
                {
                    "id": excuse.pk,
                    "record": record.pk,
                    "pupil": _person(record.student),
                    "submitted_by": _person(excuse.submitted_by),
                    "submitted_at": _when(excuse.submitted_at),
                    "reason": excuse.reason,
                    "comment": excuse.comment,
                    "status": excuse.status,
                    "reviewed_at": _when(excuse.reviewed_at),
                    "review_note": excuse.review_note,
                    "document": path,
                }
            )
    return record_rows, excuse_rows, files


def read_stored(field_file, model: type, field: str) -> bytes:
    """Return a stored file's bytes, decrypted when its field is registered
    as an encrypted file field (``core.crypto.register_file_field``)."""
    with field_file.open("rb") as handle:
        data = handle.read()
    if (model, field) in crypto.file_fields():
        data = crypto.decrypt(data)
    return data


def document_of(user: User, excuse: Excuse, files: list) -> str | None:
    """Add ``excuse``'s document to ``files`` if ``user`` may download it;
    return its path in the zip."""
    if not excuse.document:
        return None
    try:
        attendance_access.get_excuse_document(user, excuse.pk)
        data = read_stored(excuse.document, Excuse, "document")
    except Http404:
        return None
    except (FileNotFoundError, crypto.InvalidToken):
        log.error("excuse document %s cannot be read for an export", excuse.pk)
        return None
    # Stored names may be random, without extension: name it by its content.
    kind = filetype.guess(data[:8192])
    path = f"fichiers/justificatifs/justificatif-{excuse.pk}.{kind.extension if kind else 'bin'}"
    files.append((path, data))
    return path


def _text(token) -> str:
    try:
        return crypto.decrypt(token).decode("utf-8") if token else ""
    except crypto.InvalidToken:
        return ""


def messages(user: User) -> tuple[list, list]:
    """Return ``(conversations, files)``: the user's conversations with the
    messages they may see (decrypted), and the attachments they may open."""
    rows, files = [], []
    for conversation in messaging_access.conversations_for_user(user):
        conversation = messaging_access.get_conversation_for_user(user, conversation.pk)
        items = []
        for message in messaging_access.messages_of(conversation, user):
            gone = message.deleted_at or message.hidden_at
            attachments = []
            if not gone:
                for attachment in message.attachments.all():
                    attachments.append(attachment_of(user, attachment, files))
            items.append(
                {
                    "id": message.pk,
                    "sender": _person(message.sender),
                    "sent_at": _when(message.created_at),
                    "edited_at": _when(message.edited_at),
                    "deleted": bool(message.deleted_at),
                    "hidden_by_moderation": bool(message.hidden_at),
                    "private": message.visible_to_id is not None,
                    "text": "" if gone else _text(message.body),
                    "attachments": [a for a in attachments if a],
                }
            )
        rows.append(
            {
                "id": conversation.pk,
                "subject": conversation.subject,
                "school": conversation.org.name,
                "started_by": _person(conversation.created_by),
                "started_at": _when(conversation.created_at),
                "messages": items,
            }
        )
    return rows, files


def attachment_of(user: User, attachment, files: list) -> dict | None:
    from core.messaging.models import Attachment

    try:
        messaging_access.get_attachment_for_user(user, attachment.pk)
        data = read_stored(attachment.file, Attachment, "file")
    except Http404:
        return None
    except (FileNotFoundError, crypto.InvalidToken):
        log.error("attachment %s cannot be read for an export", attachment.pk)
        return None
    name = _text(attachment.name) or "fichier"
    path = f"fichiers/pieces-jointes/{attachment.pk}-{typed_name(name, data)}"
    files.append((path, data))
    return {
        "name": name,
        "type": attachment.mime,
        "size": attachment.size,
        "file": path,
    }


def typed_name(name: str, data: bytes) -> str:
    """Return ``name`` fit for a path inside the zip: no folders, printable,
    and the extension of the type found in ``data`` (a PDF sent as
    ``facture.hta`` is ``facture.pdf`` in the zip)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].lstrip(".")
    stem = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    stem = (stem.rsplit(".", 1)[0] if "." in stem else stem)[:100] or "fichier"
    kind = filetype.guess(data[:8192])
    return f"{stem}.{kind.extension if kind else 'bin'}"


def notifications(user: User) -> list[dict]:
    deliveries: dict[int, list] = {}
    for delivery in Delivery.objects.filter(user=user).order_by("pk"):
        deliveries.setdefault(delivery.notification_id, []).append(
            {
                "channel": delivery.channel,
                "status": delivery.status,
                "reason": delivery.reason,
                "created_at": _when(delivery.created_at),
                "sent_at": _when(delivery.sent_at),
            }
        )
    return [
        {
            "id": n.pk,
            "category": n.category,
            "title": n.title,
            "body": n.body,
            "child": n.child_name,
            "school": n.org_name,
            "created_at": _when(n.created_at),
            "seen_at": _when(n.seen_at),
            "deliveries": deliveries.get(n.pk, []),
        }
        for n in Notification.objects.filter(user=user).order_by("pk")
    ]


def emails(user: User) -> list[dict]:
    return [
        {
            "period": e.period,
            "state": e.state,
            "created_at": _when(e.created_at),
            "sent_at": _when(e.sent_at),
        }
        for e in EmailSend.objects.filter(user=user).order_by("pk")
    ]


def preferences(user: User) -> dict:
    settings_row = DeliverySettings.objects.filter(user=user).first()
    feed = FeedToken.objects.filter(user=user).first()
    return {
        "categories": [
            {
                "category": p.category,
                "in_app": p.inapp,
                "push": p.push,
                "email": p.email,
                "digest": p.digest,
            }
            for p in Preference.objects.filter(user=user).order_by("category")
        ],
        "settings": None
        if settings_row is None
        else {
            "time_zone": settings_row.time_zone,
            "quiet_enabled": settings_row.quiet_enabled,
            "quiet_start": settings_row.quiet_start.isoformat(),
            "quiet_end": settings_row.quiet_end.isoformat(),
            "quiet_weekends": settings_row.quiet_weekends,
            "digest_hour": settings_row.digest_hour,
            "weekly_day": settings_row.weekly_day,
        },
        "mutes": [
            {"key": m.key, "until": _when(m.until)}
            for m in Mute.objects.filter(user=user).order_by("pk")
        ],
        "calendar_link_created_at": _when(feed.created_at) if feed else None,
    }


def devices(user: User) -> list[dict]:
    """The push subscriptions, without their keys (p256dh, auth)."""
    return [
        {
            "endpoint": s.endpoint,
            "user_agent": s.user_agent,
            "created_at": _when(s.created_at),
            "last_success_at": _when(s.last_success_at),
        }
        for s in PushSubscription.objects.filter(user=user).order_by("pk")
    ]


def api_tokens(user: User) -> list[dict]:
    """The user's API access tokens, without their secret nor its hash."""
    from core.api.tokens import tokens_of

    return [
        {
            "name": t.name,
            "prefix": t.prefix,
            "scopes": t.scopes,
            "created_at": _when(t.created_at),
            "last_used_at": _when(t.last_used_at),
            "expires_at": _when(t.expires_at),
            "revoked_at": _when(t.revoked_at),
        }
        for t in tokens_of(user)
    ]


def audit(user: User, people: list[User]) -> list[dict]:
    """The audit entries the user made, and those about them or a child.

    The address an entry was made from is the actor's personal data: it is
    given for the user's own actions only, never for a teacher's or an
    anonymous visitor's.
    """
    ids = [p.pk for p in people]
    about = (
        Q(actor_id=user.pk)
        | Q(target_type="user", target_id__in=ids)
        # The person an entry concerns (a staff read of a child's records).
        | Q(subject_id__in=ids)
    )
    entries = AuditEntry.objects.filter(about).order_by("at", "pk")
    return [
        {
            "at": _when(e.at),
            "who": e.actor_name,
            "action": e.action,
            "target": f"{e.target_type}#{e.target_id}",
            **({"ip": e.ip} if e.actor_id == user.pk else {}),
        }
        for e in entries
    ]


def build_zip(user: User, *, now: dt.datetime | None = None) -> bytes:
    """Return the zip of everything the hub holds about ``user`` (see module)."""
    now = now or timezone.now()
    people = concerned(user)
    records, excuses, excuse_files = attendance(user, people)
    conversations, attachment_files = messages(user)
    kinds = {
        "profil.json": profile(user, people),
        "responsables.json": guardian_links(user),
        "classes.json": classes(people),
        "emploi_du_temps.json": timetable(user, people),
        "absences.json": records,
        "justificatifs.json": excuses,
        "messages.json": conversations,
        "notifications.json": {
            "notifications": notifications(user),
            "emails": emails(user),
        },
        "preferences.json": preferences(user),
        "appareils.json": devices(user),
        "jetons_api.json": api_tokens(user),
        "journal.json": audit(user, people),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "LISEZMOI.txt",
            README.format(date=now.date().isoformat(), login=user.get_username()),
        )
        for name, data in kinds.items():
            archive.writestr(
                name, json.dumps(data, ensure_ascii=False, indent=2, default=str)
            )
        for path, data in _unique(excuse_files + attachment_files):
            archive.writestr(path, data)
    return buffer.getvalue()


def _unique(files: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    seen, kept = set(), []
    for path, data in files:
        if path not in seen:
            seen.add(path)
            kept.append((path, data))
    return kept
