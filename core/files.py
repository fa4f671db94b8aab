"""Stored files: their type, their names, how they are served and removed.

One definition for every module that stores or serves a file:

- the **type** of a file is decided from its content (magic bytes, via the
  ``filetype`` library), never from the name its sender gave it
  (:func:`detect`);
- the **stored name** is random and says nothing (:class:`RandomName`): no
  type, no sender's name, no pupil's name; sensitive contents are encrypted
  before they reach storage (:func:`encrypted`, ``core.crypto``);
- the **downloaded name** is the sender's base name, sanitised, with the
  extension of the detected type (:func:`download_name`): a PDF sent as
  ``facture.hta`` downloads as ``facture.pdf``;
- a **download** (:func:`serve`, :func:`set_download_headers`) carries the
  detected ``Content-Type``, ``X-Content-Type-Options: nosniff``, a sandbox
  CSP, and ``attachment`` disposition unless the type is one a browser shows
  safely inline (raster images);
- a row's **files leave storage with the row**: every model with a
  ``FileField`` is connected by :func:`connect_file_deletion` (called once
  from ``RosterConfig.ready``); the files go when the deletion commits, so a
  rolled-back delete keeps them (:func:`delete_on_commit`).
"""

import logging
import secrets
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

import filetype
from django.apps import apps
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models.signals import post_delete
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.http import content_disposition_header
from django.utils.text import get_valid_filename

from core import crypto

log = logging.getLogger(__name__)

# Bytes the type sniffer reads (filetype needs 261; office formats more).
HEAD_BYTES = 8192
# Types a browser renders inline without running anything: raster images.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Extensions of the types the hub sends that ``filetype`` does not sniff.
_EXTENSIONS = {"text/calendar": "ics", "application/json": "json"}
MAX_STEM = 100


def detect(data: bytes) -> str | None:
    """Return the MIME type of ``data`` from its content, or ``None``."""
    kind = filetype.guess(bytes(data[:HEAD_BYTES]))
    return kind.mime if kind else None


def extension(mime: str) -> str:
    """Return the usual extension (no dot) of ``mime``; ``bin`` if unknown."""
    if mime in _EXTENSIONS:
        return _EXTENSIONS[mime]
    kind = filetype.get_type(mime=mime)
    return kind.extension if kind else "bin"


def download_name(name: str, mime: str, *, default: str = "fichier") -> str:
    """Return the name a file of type ``mime`` downloads under.

    The base of ``name`` (last path part, without its extension) is kept,
    sanitised (Django's ``get_valid_filename``: no separators, quotes or
    control characters), and the extension of ``mime`` is put after it.
    """
    ext = extension(mime)
    stem = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem = PurePosixPath(stem).stem if "." in stem.lstrip(".") else stem
    if stem.lower().endswith(f".{ext}"):
        stem = stem[: -len(ext) - 1]
    stem = "".join(ch for ch in stem if ch.isprintable())
    try:
        stem = get_valid_filename(stem).strip("._-")
    except SuspiciousFileOperation:
        stem = ""
    stem = stem[:MAX_STEM].rstrip("._-") or default
    return f"{stem}.{ext}"


@deconstructible
class RandomName:
    """``upload_to`` of a ``FileField`` whose stored names say nothing.

    Whatever name the file is saved under, it is stored as
    ``<folder>/<year>/<month>/<32 random hex digits>``: no extension, no
    sender's or pupil's name.
    """

    def __init__(self, folder: str):
        self.folder = folder.strip("/")

    def __call__(self, instance, filename: str) -> str:
        return f"{self.folder}/{timezone.now():%Y/%m}/{secrets.token_hex(16)}"

    def __eq__(self, other) -> bool:
        return isinstance(other, RandomName) and other.folder == self.folder

    def __hash__(self) -> int:
        return hash(self.folder)


def encrypted(data: bytes) -> ContentFile:
    """Return ``data`` encrypted, ready for ``FieldFile.save``."""
    return ContentFile(crypto.encrypt(data))


def read_decrypted(file) -> bytes:
    """Return the plaintext of an encrypted stored file (``FieldFile``).

    Raises ``FileNotFoundError`` or ``crypto.InvalidToken``.
    """
    with file.open("rb") as handle:
        return crypto.decrypt(handle.read())


def set_download_headers(response: HttpResponseBase, *, mime: str, name: str) -> None:
    """Give ``response`` the headers of a download of type ``mime``.

    ``name`` is the file name offered (see :func:`download_name`).
    """
    response["Content-Type"] = mime
    disposition = content_disposition_header(mime not in INLINE_TYPES, name)
    assert disposition is not None  # None only without attachment and name
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"


def serve(data: bytes, *, mime: str, name: str) -> HttpResponse:
    """Return a private, uncached download of ``data`` (type ``mime``)."""
    response = HttpResponse(data)
    set_download_headers(response, mime=mime, name=name)
    response["Content-Length"] = str(len(data))
    response["Cache-Control"] = "private, no-store"
    return response


# Files leave with their rows -------------------------------------------------


def delete_on_commit(
    remove: Callable[[], None], *, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Run ``remove`` (which deletes files) once the current transaction
    commits; never if it rolls back. Outside a transaction, at once."""
    transaction.on_commit(remove, using=using, robust=True)


def _remove(storage: Storage, names: Iterable[str]) -> Callable[[], None]:
    names = list(names)

    def remove() -> None:
        for name in names:
            storage.delete(name)

    return remove


def file_fields(model: type[models.Model]) -> list[models.FileField]:
    """Return the file fields of ``model``."""
    return [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]


def _delete_row_files(sender, instance, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    for field in file_fields(sender):
        file = getattr(instance, field.attname)
        if file and file.name:
            delete_on_commit(_remove(file.storage, [file.name]), using=using)


def connect_file_deletion() -> None:
    """Have every model with a ``FileField`` delete its files with its rows.

    Connected per model (not for every sender): models without files keep
    Django's fast bulk deletes.
    """
    for model in apps.get_models():
        if file_fields(model):
            post_delete.connect(
                _delete_row_files,
                sender=model,
                dispatch_uid=f"core.files:{model._meta.label}",
            )
