"""Roster files uploaded from the admin: limits, one job.

The admin's upload page (:mod:`core.roster.views`) receives the files of one
import (an AAF set, SIECLE exports, OneRoster CSVs or a zip), checks them
against the limits below and hands them to :func:`start_import`, which
stores them through Django's storage API, creates the
:class:`~core.roster.models.RosterImport` and enqueues
:func:`core.roster.tasks.run_roster_import`, all in one transaction: a
failure leaves no row, no task and no file.

Where and how the files are kept, and how long:
:mod:`core.roster.stored_uploads`.

Limits (settings, read when a request comes): ``ROSTER_UPLOAD_MAX_BYTES``
per file (512 MiB), ``ROSTER_UPLOAD_MAX_TOTAL_BYTES`` for all the files of
one import (1 GiB), ``ROSTER_UPLOAD_MAX_FILES`` files (40).
:class:`QuotaUploadHandler` stops reading the request as soon as one is
passed, so an oversized upload is not copied a second time to disk.

The server matters for big files (``bench/roster_upload.py``): uvicorn, as
in production, streams the body to a temporary file (300 MiB uploaded in
0.9 s, peak RSS 219 MiB, flat with size); Daphne, which ``make run`` uses,
queues the whole body in memory first (3.1 GiB peak for 300 MiB). In
``compose.yaml`` nginx also caps request bodies (``client_max_body_size``).
"""

import secrets
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from core.roster.models import RosterImport
from core.roster.stored_uploads import (
    UPLOAD_FOLDER,
    encrypted,
    remove_files,
    upload_storage,
)
from core.roster.tasks import run_roster_import

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The upload limits: bytes per file, bytes in all, number of files."""

    file_bytes: int
    total_bytes: int
    files: int

    @classmethod
    def from_settings(cls) -> "Limits":
        return cls(
            file_bytes=int(getattr(settings, "ROSTER_UPLOAD_MAX_BYTES", 512 * MiB)),
            total_bytes=int(
                getattr(settings, "ROSTER_UPLOAD_MAX_TOTAL_BYTES", 1024 * MiB)
            ),
            files=int(getattr(settings, "ROSTER_UPLOAD_MAX_FILES", 40)),
        )

    def file_too_big(self, name: str) -> str:
        return _("The file “%(name)s” is larger than %(size)s.") % {
            "name": name,
            "size": filesizeformat(self.file_bytes),
        }

    def total_too_big(self) -> str:
        return _("The files together are larger than %(size)s.") % {
            "size": filesizeformat(self.total_bytes)
        }

    def too_many_files(self) -> str:
        return _("Send at most %(count)d files at once (or one zip).") % {
            "count": self.files
        }


class QuotaUploadHandler(FileUploadHandler):
    """Stop receiving an upload as soon as it passes :class:`Limits`.

    Installed first in ``request.upload_handlers`` by the upload view; it
    passes every chunk on to Django's own handlers and only counts.
    ``problem`` is then the (French) reason the upload was stopped, or
    ``None``. Fields after the stop are lost, so the form puts its CSRF
    token and its checkbox before the file input.
    """

    def __init__(self, request=None, *, limits: Limits):
        super().__init__(request)
        self.limits = limits
        self.files = 0
        self.total = 0
        self.name = ""
        self.problem: str | None = None

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.files += 1
        self.name = file_name
        if self.files > self.limits.files:
            self.stop(self.limits.too_many_files())

    def receive_data_chunk(self, raw_data, start):
        self.total += len(raw_data)
        if start + len(raw_data) > self.limits.file_bytes:
            self.stop(self.limits.file_too_big(self.name))
        if self.total > self.limits.total_bytes:
            self.stop(self.limits.total_too_big())
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handlers make the file

    def stop(self, problem: str):
        self.problem = problem
        raise StopUpload(connection_reset=False)


def stored_name(file: UploadedFile, storage: Storage) -> str:
    """Return the name ``file`` keeps in its import's folder.

    Django already dropped any directory part of the browser's name; the
    storage may still make it safer (``get_valid_name``: spaces become
    underscores).
    """
    assert file.name is not None  # an upload always has one
    return storage.get_valid_name(PurePosixPath(file.name).name)


@transaction.atomic
def start_import(
    *, created_by, files: list[UploadedFile], dry_run: bool
) -> RosterImport:
    """Store ``files``, create their :class:`RosterImport` (queued) and
    enqueue the task that runs it; return the import.

    One transaction: the task row of django-tasks' database backend commits
    with the import, so a queued import always has its task. A storage
    error removes the files already stored and raises (nothing is left).
    """
    storage = upload_storage()
    roster_import = RosterImport.objects.create(
        created_by=created_by,
        file_names=[file.name for file in files],
        dry_run=dry_run,
        status=RosterImport.Status.QUEUED,
    )
    folder = f"{UPLOAD_FOLDER}/{roster_import.pk}-{secrets.token_hex(8)}"
    stored: list[str] = []
    try:
        for file in files:
            name = storage.save(
                f"{folder}/{stored_name(file, storage)}", encrypted(file)
            )
            stored.append(name)
        run_roster_import.enqueue(roster_import.pk, stored)
    except BaseException:
        remove_files(stored, storage)
        raise
    return roster_import
