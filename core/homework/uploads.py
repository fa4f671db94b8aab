"""Files of the homework notebook: checked by their content, never their name.

Teachers' attachments and pupils' hand-ins: at most 10 MB each, not empty,
a PDF, an image or an office document by their magic bytes
(``core.files.detect``). Archives (zip, and so zip bombs) are not accepted.
Hand-ins are encrypted before they reach storage (minors' data);
attachments (the teacher's worksheets) are stored as they are, under random
names, and served with ``core.files.serve``.
"""

from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _

from core import files

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 5
ALLOWED_TYPES = frozenset(
    {
        "application/pdf",
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)


class FileRefused(ValueError):
    """A file the rules refuse; ``str(error)`` is a message for the user."""


@dataclass(frozen=True)
class CheckedFile:
    name: str
    mime: str
    data: bytes


def clean_name(name: str) -> str:
    """A display name: last path part, printable characters, 120 at most."""
    name = (name or "fichier").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "fichier"
    return name[:120]


def check(upload) -> CheckedFile:
    """Check one uploaded file; return it read, or raise :class:`FileRefused`."""
    name = clean_name(upload.name)
    if upload.size is not None and upload.size > MAX_FILE_BYTES:
        raise FileRefused(_("“%(name)s” is larger than 10 MB.") % {"name": name})
    data = upload.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise FileRefused(_("“%(name)s” is larger than 10 MB.") % {"name": name})
    if not data:
        raise FileRefused(_("“%(name)s” is empty.") % {"name": name})
    mime = files.detect(data)
    if mime not in ALLOWED_TYPES:
        raise FileRefused(
            _("“%(name)s” is not a PDF, an image or an office document.")
            % {"name": name}
        )
    return CheckedFile(name=name, mime=mime, data=data)


class TooManyFiles(FileRefused):
    """More than :data:`MAX_ATTACHMENTS` files on one item."""


def save_attachments(attachments, uploads: list[CheckedFile]) -> None:
    """Store ``uploads`` as new rows of ``attachments``, an item's related
    manager of attachment rows (``homework.attachments``,
    ``notice.attachments``: a ``file``, ``name``, ``mime`` and ``size``),
    under random names. Raises :class:`TooManyFiles` (nothing stored) when
    the item would hold more than :data:`MAX_ATTACHMENTS`."""
    if attachments.count() + len(uploads) > MAX_ATTACHMENTS:
        raise TooManyFiles
    for checked in uploads:
        attachment = attachments.model(
            name=files.download_name(checked.name, checked.mime),
            mime=checked.mime,
            size=len(checked.data),
        )
        attachment.file.save("x", ContentFile(checked.data), save=False)
        attachments.add(attachment, bulk=False)
