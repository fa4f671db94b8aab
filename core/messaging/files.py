"""Attachments: checked by content, encrypted before they reach storage.

Their type is the one found in their content; they download under the
sender's base name with that type's extension
(:func:`core.files.download_name`).
"""

from dataclasses import dataclass

from django.core.files.base import ContentFile

from core import files

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 5
# Accepted types, decided from the content (magic bytes), never the name.
ALLOWED_TYPES = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.ms-powerpoint": "ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
}


class FileRefused(ValueError):
    """A file the rules refuse; ``str(error)`` is a message for the user."""


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed the checks: its display name, type and bytes."""

    name: str
    mime: str
    data: bytes


def check_files(uploads) -> list[CheckedFile]:
    """Check uploaded files: at most 5, 10 MB each, PDF/image/office by content.

    ``uploads`` are Django ``UploadedFile`` objects. Returns them read into
    memory with a cleaned display name. Raises :class:`FileRefused`.
    """
    uploads = list(uploads)
    if len(uploads) > MAX_FILES:
        raise FileRefused(f"{MAX_FILES} fichiers au plus par message.")
    checked = []
    for upload in uploads:
        if upload.size > MAX_FILE_BYTES:
            raise FileRefused(f"« {clean_name(upload.name)} » dépasse 10 Mo.")
        data = upload.read()
        mime = files.detect(data)
        if mime not in ALLOWED_TYPES:
            raise FileRefused(
                f"« {clean_name(upload.name)} » n'est ni un PDF, ni une image, "
                "ni un document bureautique."
            )
        checked.append(CheckedFile(name=clean_name(upload.name), mime=mime, data=data))
    return checked


def clean_name(name: str) -> str:
    """Return a display name: last path part, no control characters, 120 chars."""
    name = (name or "fichier").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "fichier"
    return name[:120]


def encrypted_content(data: bytes) -> ContentFile:
    """Return ``data`` encrypted, ready for ``FileField.save`` (random name)."""
    return files.encrypted(data)
