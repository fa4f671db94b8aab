"""Course documents' writes. Each writes its rows, its audit entry and one
event, in one transaction.

The caller checked that the actor may write in the space
(``core.documents.access``). Rules kept here:

- **files** are checked by their content (:func:`check_file`): not empty,
  at most ``DOCUMENTS_MAX_FILE_BYTES``, a type of :data:`ALLOWED_TYPES`
  found in the bytes (``core.files.detect``), whatever the name says; a
  ``.zip`` that is not an office document, an executable named ``.pdf``,
  a text file are refused. The sender's name is kept for display only,
  cleaned of any path (``../../x.pdf`` is ``x.pdf``); the stored name is
  random (``core.files.RandomName``);
- **quota**: the bytes of every version a teacher uploaded, still stored,
  count against ``DOCUMENTS_QUOTA_BYTES``; an upload that would pass it is
  refused and nothing is written. The file is stored first, outside the
  transaction; the transaction then locks the teacher's row, checks the
  quota and inserts the rows; if it fails the stored file is deleted
  (:func:`_stored`);
- **guardians**: what sits in a folder hidden from guardians is hidden from
  them too (the flag of a new item or subfolder is forced off there), so
  the item's own flag alone says whether guardians see it;
- **links** are http(s) URLs only;
- **events** (``core.documents.events``): see :func:`streams_for`;
- **changing who sees an item** (:func:`set_guardian_visibility`): only in
  a class space; an item in a folder hidden from guardians cannot be shown
  to them (show the folder's content elsewhere, or move it); hiding sends
  ``removed`` and showing sends ``added`` to the guardians' ``user:``
  streams only, so pupils and teachers, who keep the item, are not told.
"""

import urllib.parse
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

import hub
from core import files
from core.audit import log as audit
from core.documents.access import CLASS, Space
from core.documents.events import ItemChanged, ItemData, ItemRemoved
from core.documents.models import DocumentVersion, Folder, Item
from core.roster.models import Enrollment, GuardianLink, User
from hub.streams import class_stream, user_stream

# Accepted types, decided from the content (magic bytes), never the name.
# Office documents are zip files: ``filetype`` names OOXML and OpenDocument
# files by the parts inside; a plain zip stays "application/zip", refused.
ALLOWED_TYPES = frozenset(
    {
        "application/pdf",
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "audio/mpeg",
        "audio/ogg",
        "audio/x-wav",
        "audio/mp4",
        "video/mp4",
        "video/webm",
        "video/quicktime",
    }
)
MAX_TITLE = 200
MAX_FOLDER_NAME = 120


class DocumentError(ValueError):
    """A request the rules refuse; ``str(error)`` is a message for the user."""


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} Mo"


def check_file(upload) -> str:
    """Check an uploaded file (a Django ``UploadedFile``); return its type.

    Reads only its first bytes (``core.files.HEAD_BYTES``). Raises
    :class:`DocumentError`.
    """
    name = clean_name(upload.name)
    if not upload.size:
        raise DocumentError(f"« {name} » est vide.")
    if upload.size > settings.DOCUMENTS_MAX_FILE_BYTES:
        raise DocumentError(
            f"« {name} » dépasse {_megabytes(settings.DOCUMENTS_MAX_FILE_BYTES)}."
        )
    upload.seek(0)
    head = upload.read(files.HEAD_BYTES)
    upload.seek(0)
    mime = files.detect(head)
    if mime not in ALLOWED_TYPES:
        raise DocumentError(
            f"« {name} » n'est pas d'un type accepté (PDF, image, document "
            "bureautique, son ou vidéo), d'après son contenu."
        )
    return mime


def clean_name(name: str) -> str:
    """Return a display name: last path part, printable, 120 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip(" .") or "fichier"
    return name[:120]


def clean_url(url: str) -> str:
    """Return ``url`` if it is an http(s) URL; raise :class:`DocumentError`."""
    url = (url or "").strip()
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        scheme = ""
    if scheme not in ("http", "https") or len(url) > 1000:
        raise DocumentError("Le lien doit être une adresse web (http:// ou https://).")
    return url


def used_bytes(user: User) -> int:
    """Return the bytes of every stored version ``user`` uploaded."""
    return (
        DocumentVersion.objects.filter(uploaded_by=user).aggregate(total=Sum("size"))[
            "total"
        ]
        or 0
    )


def _check_quota(user: User, size: int) -> None:
    quota = settings.DOCUMENTS_QUOTA_BYTES
    if used_bytes(user) + size > quota:
        raise DocumentError(
            f"Votre espace de documents ({_megabytes(quota)}) est plein : "
            "supprimez d'anciens documents ou versions."
        )


def _title(title: str, default: str) -> str:
    title = " ".join((title or "").split())[:MAX_TITLE]
    return title or default[:MAX_TITLE]


# Events ----------------------------------------------------------------------


def streams_for(space: Space, guardians_may_see: bool) -> list[str]:
    """Return the streams an item's events go on.

    A class's item guardians may see: ``class:<id>`` (its pupils, their
    guardians, its teachers, the school-life staff). One hidden from
    guardians: the ``user:<id>`` streams of the class's pupils and teachers.
    A course's: the ``user:<id>`` streams of its teachers.
    """
    if space.kind == CLASS:
        if guardians_may_see:
            return [class_stream(space.id)]
        members = Enrollment.objects.filter(school_class_id=space.id)
    else:
        members = Enrollment.objects.filter(
            school_class__course_id=space.id, role=Enrollment.Role.TEACHER
        )
    ids = sorted(set(members.values_list("user_id", flat=True)))
    return [user_stream(pk) for pk in ids]


def guardian_streams(space: Space) -> list[str]:
    """Return the ``user:<id>`` streams of the guardians of a class's pupils."""
    ids = GuardianLink.objects.filter(
        student__enrollments__school_class_id=space.id,
        student__enrollments__role=Enrollment.Role.STUDENT,
    ).values_list("guardian_id", flat=True)
    return [user_stream(pk) for pk in sorted(set(ids))]


def item_data(item: Item, space_key: str) -> ItemData:
    """Return the event payload describing ``item``."""
    versions = list(item.versions.all())
    latest = versions[0] if versions else None
    author = item.created_by.get_full_name() if item.created_by else ""
    return ItemData(
        id=item.pk,
        space=space_key,
        folder_id=item.folder_id,
        kind=item.kind,
        title=item.title,
        url=item.url,
        version_id=latest.pk if latest else None,
        mime=latest.mime if latest else "",
        size=latest.size if latest else 0,
        versions=len(versions),
        guardians_may_see=item.guardians_may_see,
        updated_at=timezone.localtime(item.updated_at).isoformat(),
        author=author,
    )


def _emit(op: str, item: Item, space: Space, actor: User, data: ItemData) -> None:
    kind = ItemRemoved if op == "removed" else ItemChanged
    hub.send_event(
        streams_for(space, item.guardians_may_see),
        kind(
            op=op,  # type: ignore[arg-type]  # each kind with its own ops
            org_id=space.org_id,
            space_title=space.title,
            subject=space.subject if space.kind == CLASS else "",
            item=data,
            actor_id=actor.pk,
        ),
    )


def _audit(actor: User, action: str, target_type: str, pk: int, space, **detail):
    audit.record(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=pk,
        org_id=space.org_id,
        detail={"space": space.key, **detail},
    )


# Writes ----------------------------------------------------------------------


def _flag(folder: Folder | None, guardians_may_see: bool | None) -> bool:
    """A new row's flag: the folder's by default; never shown where the
    folder is hidden."""
    inherited = folder.guardians_may_see if folder else True
    if guardians_may_see is None:
        return inherited
    return guardians_may_see and inherited


def create_folder(
    *,
    space: Space,
    actor: User,
    name: str,
    parent: Folder | None = None,
    guardians_may_see: bool | None = None,
) -> Folder:
    """Create a folder in ``space`` (under ``parent``). No event: a folder
    shows once something is in it or the page is reloaded."""
    name = " ".join((name or "").split())[:MAX_FOLDER_NAME]
    if not name:
        raise DocumentError("Donnez un nom au dossier.")
    with transaction.atomic():
        folder = Folder.objects.create(
            **space.filter(),
            parent=parent,
            name=name,
            guardians_may_see=_flag(parent, guardians_may_see),
            created_by=actor,
        )
        _audit(actor, "documents.folder_created", "document_folder", folder.pk, space)
    return folder


@contextmanager
def _stored(upload):
    """Store ``upload`` under a random name, before any lock is taken;
    yield the stored name; delete the stored file if the block fails
    (quota full, item deleted meanwhile, any error), so nothing is left
    behind that no row names.

    Saved from the upload itself (a temporary file past 2.5 MB): the
    storage copies it in chunks, never the whole file in memory.
    """
    field = DocumentVersion._meta.get_field("file")
    upload.seek(0)
    name = field.storage.save(
        field.generate_filename(None, "document"),  # type: ignore[arg-type]  # RandomName decides
        upload,
        max_length=field.max_length,
    )
    try:
        yield name
    except BaseException:
        field.storage.delete(name)
        raise


def _lock_quota(actor: User, size: int) -> None:
    """Lock the actor's row (two uploads of one teacher queue here, so the
    quota cannot be passed by a race) and check the quota. Call inside the
    transaction that inserts the version, after the file was stored."""
    User.objects.select_for_update().filter(pk=actor.pk).first()
    _check_quota(actor, size)


def _save_version(
    item: Item, upload, stored: str, mime: str, actor: User
) -> DocumentVersion:
    version = DocumentVersion(
        item=item,
        file=stored,
        name=clean_name(upload.name),
        size=upload.size,
        mime=mime,
        uploaded_by=actor,
    )
    version.save()
    return version


def add_file(
    *,
    space: Space,
    actor: User,
    upload,
    title: str = "",
    folder: Folder | None = None,
    guardians_may_see: bool | None = None,
) -> Item:
    """Add a file (its first version) to ``space``; emit ``added``.

    Raises :class:`DocumentError` for a refused file or a full quota.
    """
    mime = check_file(upload)
    with _stored(upload) as stored, transaction.atomic():
        _lock_quota(actor, upload.size)
        item = Item.objects.create(
            **space.filter(),
            folder=folder,
            kind=Item.Kind.FILE,
            title=_title(title, clean_name(upload.name)),
            guardians_may_see=_flag(folder, guardians_may_see),
            created_by=actor,
        )
        version = _save_version(item, upload, stored, mime, actor)
        _audit(
            actor,
            "documents.item_added",
            "document",
            item.pk,
            space,
            version=version.pk,
            size=version.size,
            mime=mime,
        )
        _emit("added", item, space, actor, item_data(item, space.key))
    return item


def add_link(
    *,
    space: Space,
    actor: User,
    url: str,
    title: str = "",
    folder: Folder | None = None,
    guardians_may_see: bool | None = None,
) -> Item:
    """Add a link to ``space``; emit ``added``."""
    url = clean_url(url)
    with transaction.atomic():
        item = Item.objects.create(
            **space.filter(),
            folder=folder,
            kind=Item.Kind.LINK,
            title=_title(title, urllib.parse.urlsplit(url).netloc),
            url=url,
            guardians_may_see=_flag(folder, guardians_may_see),
            created_by=actor,
        )
        _audit(actor, "documents.item_added", "document", item.pk, space, url=url)
        _emit("added", item, space, actor, item_data(item, space.key))
    return item


def add_version(*, item: Item, space: Space, actor: User, upload) -> DocumentVersion:
    """Upload a new version of a file item (the old ones stay); emit
    ``new_version``. Raises :class:`DocumentError`."""
    if item.kind != Item.Kind.FILE:
        raise DocumentError("Un lien n'a pas de versions.")
    mime = check_file(upload)
    with _stored(upload) as stored, transaction.atomic():
        _lock_quota(actor, upload.size)
        if not Item.objects.select_for_update().filter(pk=item.pk).exists():
            raise DocumentError("Ce document a été supprimé entre-temps.")
        version = _save_version(item, upload, stored, mime, actor)
        item.save(update_fields=["updated_at"])
        _audit(
            actor,
            "documents.version_added",
            "document",
            item.pk,
            space,
            version=version.pk,
            size=version.size,
            mime=mime,
        )
        _emit("new_version", item, space, actor, item_data(item, space.key))
    return version


def delete_item(*, item: Item, space: Space, actor: User) -> None:
    """Delete an item and every version (files leave storage on commit);
    emit ``removed``."""
    with transaction.atomic():
        data = item_data(item, space.key)
        flag = item.guardians_may_see
        pk = item.pk
        item.delete()
        _audit(actor, "documents.item_deleted", "document", pk, space, title=data.title)
        item.guardians_may_see = flag
        _emit("removed", item, space, actor, data)


def delete_folder(*, folder: Folder, space: Space, actor: User) -> None:
    """Delete an empty folder (no item, no subfolder)."""
    if folder.items.exists() or folder.subfolders.exists():
        raise DocumentError("Le dossier n'est pas vide.")
    with transaction.atomic():
        pk = folder.pk
        folder.delete()
        _audit(actor, "documents.folder_deleted", "document_folder", pk, space)


def set_guardian_visibility(
    *, item: Item, space: Space, actor: User, visible: bool
) -> bool:
    """Let guardians see ``item`` (``visible``) or hide it from them; return
    whether anything changed (nothing written, no event if not).

    Guardians only are told, on their ``user:`` streams: hiding sends them
    the non-notifying ``removed`` (open pages drop the item), showing sends
    ``added`` (new to them: notified by their preferences). Pupils and
    teachers keep the item and get no event. Raises :class:`DocumentError`
    in a course space or to show an item of a folder hidden from guardians.
    """
    if space.kind != CLASS:
        raise DocumentError("Les parents ne voient pas les documents d'une matière.")
    with transaction.atomic():
        item = Item.objects.select_for_update().filter(pk=item.pk).first()
        if item is None:
            raise DocumentError("Ce document a été supprimé entre-temps.")
        if item.guardians_may_see == visible:
            return False
        if visible and item.folder_id and not item.folder.guardians_may_see:  # type: ignore[union-attr]  # folder_id set
            raise DocumentError(
                "Ce document est dans un dossier masqué aux parents : il le "
                "reste tant que le dossier l'est."
            )
        item.guardians_may_see = visible
        item.save(update_fields=["guardians_may_see"])
        _audit(
            actor,
            "documents.item_visibility",
            "document",
            item.pk,
            space,
            guardians_may_see=visible,
        )
        kind = ItemChanged if visible else ItemRemoved
        hub.send_event(
            guardian_streams(space),
            kind(
                op="added" if visible else "removed",  # type: ignore[arg-type]  # each with its kind
                org_id=space.org_id,
                space_title=space.title,
                subject=space.subject,
                item=item_data(item, space.key),
                actor_id=actor.pk,
            ),
        )
    return True
