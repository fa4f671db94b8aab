"""Roster files uploaded from the admin: limits, private storage, one job.

The admin's upload page (:mod:`core.roster.views`) receives the files of one
import (an AAF set, SIECLE exports, OneRoster CSVs or a zip), checks them
against the limits below and hands them to :func:`start_import`, which
stores them through Django's storage API, creates the
:class:`~core.roster.models.RosterImport` and enqueues
:func:`core.roster.tasks.run_roster_import`, all in one transaction: a
failure leaves no row, no task and no file.

Where the files go: ``roster-imports/<import id>-<random>/<file name>`` in
the storage ``STORAGES["roster_uploads"]`` when the settings name one, else
the default storage (``MEDIA_ROOT``, which the hub never serves: no URL
maps it, nginx has no location for it; in ``compose.yaml`` it is the volume
the web processes and the task workers share). Each import has its own
folder, so the files keep their names (a OneRoster manifest names
``users.csv``; the AAF parser reads the kind of a file from its name).

How they are stored: encrypted (``core.crypto.encrypt_stream``, the keys of
``MESSAGE_KEYS``, a token per MiB so memory stays flat), never in clear: a
roster lists pupils, families, addresses and phone numbers. The task
decrypts them into a private temporary folder (mode 0700) for the parsers
and removes it when the import ends (:func:`core.roster.tasks.local_paths`).
They are not covered by ``rotate_message_keys``: they live minutes, so
keep an old key until the imports queued before a rotation have run.

How long they stay: until the task ends, or until their import's row is
deleted (:func:`remove_import_files`, on commit). The task removes them whether the
import succeeded or failed (:func:`remove_files`): a roster is personal data
of pupils and families, and the report kept in ``RosterImport.report`` says
what was read. Running the real import after a dry run means uploading the
files again. Only a worker killed in the middle of an import leaves them
behind (its import stays "running"); ``roster-imports/`` can then be emptied
by hand.

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

import contextlib
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import DEFAULT_STORAGE_ALIAS, settings
from django.core.files.base import File
from django.core.files.storage import Storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db import DEFAULT_DB_ALIAS, transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from core import crypto, files
from core.roster.models import RosterImport

UPLOAD_FOLDER = "roster-imports"
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


def upload_storage() -> Storage:
    """Return the storage of uploaded rosters (see the module docstring)."""
    if "roster_uploads" in settings.STORAGES:
        return storages["roster_uploads"]
    return storages[DEFAULT_STORAGE_ALIAS]


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
    from core.roster.tasks import run_roster_import

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
                f"{folder}/{stored_name(file, storage)}", _encrypted(file)
            )
            stored.append(name)
        run_roster_import.enqueue(roster_import.pk, stored)
    except BaseException:
        remove_files(stored, storage)
        raise
    return roster_import


def _encrypted(file: UploadedFile) -> File:
    """Return ``file`` encrypted, in a temporary file (deleted on close)."""
    encrypted = tempfile.TemporaryFile()
    file.seek(0)
    crypto.encrypt_stream(file, encrypted)
    encrypted.seek(0)
    return File(encrypted, name=file.name)


def decrypt_to(storage: Storage, name: str, target) -> None:
    """Write the plaintext of the stored upload ``name`` to ``target``."""
    with storage.open(name, "rb") as source:
        crypto.decrypt_stream(source, target)


def remove_import_files(sender, instance: RosterImport, using=None, **kwargs) -> None:
    """``post_delete`` of :class:`RosterImport`: its uploaded files go once
    the deletion commits (``core.files.delete_on_commit``)."""
    storage = upload_storage()
    try:
        folders = [
            f"{UPLOAD_FOLDER}/{folder}"
            for folder in storage.listdir(UPLOAD_FOLDER)[0]
            if folder.startswith(f"{instance.pk}-")
        ]
    except FileNotFoundError:
        return
    names = [
        f"{folder}/{name}" for folder in folders for name in storage.listdir(folder)[1]
    ]
    if names:
        files.delete_on_commit(
            lambda: remove_files(names, storage), using=using or DEFAULT_DB_ALIAS
        )


def remove_files(names: list[str], storage: Storage | None = None) -> None:
    """Delete stored upload ``names`` and, on a local disk, their folder."""
    storage = storage or upload_storage()
    folders = set()
    for name in names:
        storage.delete(name)
        folders.add(str(PurePosixPath(name).parent))
    for folder in folders:
        # FileSystemStorage leaves empty folders behind; other storages have none.
        with contextlib.suppress(NotImplementedError, OSError):
            os.rmdir(storage.path(folder))
