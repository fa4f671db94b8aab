"""The background task of a roster import uploaded in the admin.

Enqueued by :func:`core.roster.uploads.start_import` in the transaction that
creates the :class:`~core.roster.models.RosterImport`, and run by
``manage.py db_worker`` (django-tasks' database backend; ``make run`` starts
one). The pipeline itself is :func:`core.roster.importing.run_import`: it
fills the import's status, progress and report and sends its live
``roster.import`` events to the admin's ``user:<id>`` stream.
"""

import contextlib
import logging
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from core.roster.events import RosterImportProgress
from core.roster.models import RosterImport
from core.roster.records import UnreadableFile
from core.roster.stored_uploads import decrypt_to, remove_files, upload_storage
from hub import send_event

logger = logging.getLogger(__name__)


@task()
def run_roster_import(import_id: int, names: list[str]) -> dict:
    """Run the import ``import_id`` on its stored files ``names``; return
    ``{"status": ...}``.

    A file that cannot be read (:class:`~core.roster.records.UnreadableFile`)
    fails the import with the pipeline's French message. Any other exception
    fails it too, with a generic message; the log gets the exception's class
    and where it was raised (file, line, function of each frame) but not its
    text, which could quote a row of the file (a pupil's name). The task itself never raises, so django-tasks does not
    store that text either. The files are removed in every case (see
    :mod:`core.roster.stored_uploads` for why).
    """
    # The pipeline (sources, planner, writes) is loaded when an import runs:
    # the upload page, which imports this module to enqueue, needs none of it.
    from core.roster.importing import run_import

    storage = upload_storage()
    try:
        roster_import = RosterImport.objects.filter(pk=import_id).first()
        if roster_import is None:  # deleted while queued
            return {"status": "missing"}
        try:
            with local_paths(storage, names) as paths:
                run_import(
                    paths,
                    dry_run=roster_import.dry_run,
                    roster_import=roster_import,
                    uploaded=True,
                )
        except UnreadableFile as error:
            fail(roster_import, str(error))
        except Exception as error:
            logger.error(
                "Roster import %s failed: %s at %s",
                import_id,
                type(error).__qualname__,
                " < ".join(
                    f"{Path(frame.filename).name}:{frame.lineno} ({frame.name})"
                    for frame in reversed(traceback.extract_tb(error.__traceback__))
                ),
            )
            fail(
                roster_import,
                _(
                    "The import stopped on an unexpected error (%(error)s); "
                    "the server's log has the details."
                )
                % {"error": type(error).__name__},
            )
        roster_import.refresh_from_db(fields=["status"])
        return {"status": roster_import.status}
    finally:
        remove_files(names, storage)


@contextlib.contextmanager
def local_paths(storage: Storage, names: list[str]) -> Iterator[list[Path]]:
    """Yield the stored (encrypted) files ``names`` decrypted, as local paths
    (the parsers read paths) in a private temporary folder (mode 0700),
    removed afterwards whatever happens."""

    with tempfile.TemporaryDirectory(prefix="roster-import-") as folder:
        paths = []
        for name in names:
            target = Path(folder) / PurePosixPath(name).name
            with target.open("wb") as copy:
                decrypt_to(storage, name, copy)
            paths.append(target)
        yield paths


def fail(roster_import: RosterImport, message: str) -> None:
    """Mark ``roster_import`` failed with ``message`` and tell its admin's
    page, unless the pipeline already did with that message.

    The pipeline (:func:`core.roster.importing.run_import`) marks an
    unexpected error failed with the exception's class only, never its text
    (which could quote a row of the file, and others than the admin may read
    the import); the task replaces that with its own translated sentence.
    """

    with transaction.atomic():
        current = (
            RosterImport.objects.select_for_update().filter(pk=roster_import.pk).first()
        )
        if current is None:  # deleted meanwhile
            return
        if current.status == RosterImport.Status.FAILED and current.error == message:
            return
        current.status = RosterImport.Status.FAILED
        current.error = message
        current.finished_at = timezone.now()
        current.save(update_fields=["status", "error", "finished_at"])
        if current.created_by_id is not None:
            send_event(
                [f"user:{current.created_by_id}"],
                RosterImportProgress(
                    op="failed",
                    import_id=current.pk,
                    status=current.status,
                    progress=current.progress,
                    total=current.total,
                    summary={},
                ),
            )
