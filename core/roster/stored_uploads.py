"""Roster files uploaded from the admin, once stored: where they are kept,
encrypted, and removed.

Read by the upload (:func:`core.roster.uploads.start_import`, which stores
them and enqueues the import) and by the task that runs the import
(:mod:`core.roster.tasks`), hence a module of its own: the task needs none
of the upload.

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
"""

import contextlib
import os
import tempfile
from pathlib import PurePosixPath

from django.conf import DEFAULT_STORAGE_ALIAS, settings
from django.core.files.base import File
from django.core.files.storage import Storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.db import DEFAULT_DB_ALIAS

from core import crypto, files
from core.roster.models import RosterImport

UPLOAD_FOLDER = "roster-imports"


def upload_storage() -> Storage:
    """Return the storage of uploaded rosters (see the module docstring)."""
    if "roster_uploads" in settings.STORAGES:
        return storages["roster_uploads"]
    return storages[DEFAULT_STORAGE_ALIAS]


def encrypted(file: UploadedFile) -> File:
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
