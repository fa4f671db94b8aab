"""One roster import run, from files to report: :func:`run_import`.

Used by ``manage.py import_roster`` and by the admin's upload task. Reads the
files (:func:`core.roster.sources.read_roster`), diffs them against the hub
(:func:`core.roster.sync.plan`), applies the difference unless dry
(:func:`core.roster.sync.apply`), writes the audit entry, and keeps the
``RosterImport`` row and its admin's page up to date.
"""

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from django.db import transaction
from django.utils import timezone

import hub
from core import metrics
from core.roster import actions, sync
from core.roster.events import RosterImportProgress
from core.roster.models import RosterImport
from core.roster.records import UnreadableFile
from core.roster.report import ImportReport
from core.roster.sources import read_roster
from hub.streams import user_stream

# The admin's page gets at most this many progress events a second.
EVENTS_PER_SECOND = 4


class _Progress:
    """Forwards progress to the caller and, throttled, to the RosterImport
    row and its admin's stream."""

    def __init__(self, roster_import, callback) -> None:
        self.roster_import = roster_import
        self.callback = callback
        self.phase = "reading"
        self.sent_at = 0.0
        self.last = (0, 0)

    def __call__(self, done: int, total: int) -> None:
        self.last = (done, total)
        if self.callback:
            self.callback(self.phase, done, total)
        now = time.monotonic()
        if (
            self.roster_import is not None
            and now - self.sent_at >= 1 / EVENTS_PER_SECOND
        ):
            self.sent_at = now
            self.save(
                "progress",
                progress=done,
                total=total,
                summary={"phase": self.phase},
            )

    def save(
        self, op: Literal["progress", "done", "failed"], *, summary: dict, **fields
    ) -> None:
        """Save ``fields`` on the row and tell its admin, in one transaction."""
        ri = self.roster_import
        if ri is None:
            return
        for name, value in fields.items():
            setattr(ri, name, value)
        with transaction.atomic():
            ri.save()
            if ri.created_by_id:
                hub.send_event(
                    user_stream(ri.created_by_id),
                    RosterImportProgress(
                        op=op,
                        import_id=ri.pk,
                        status=ri.status,
                        progress=ri.progress,
                        total=ri.total,
                        summary=summary,
                    ),
                )


IMPORT_PERMISSION = "roster.add_rosterimport"


def orgs_outside_scope(user, roster, the_plan) -> list[str]:
    """Return the UAIs of the schools ``roster`` touches that ``user`` may
    not import: schools the hub does not have yet (only superusers create
    schools) and schools where ``user`` does not hold
    :data:`IMPORT_PERMISSION` as staff (:func:`core.roster.access.staff_orgs`).
    """
    from core.roster.access import staff_orgs
    from core.roster.models import Org

    if user.is_superuser:
        return []
    allowed = set(staff_orgs(user, IMPORT_PERMISSION).values_list("pk", flat=True))
    uai = {r.sourced_id: r.uai or r.sourced_id for r in roster.orgs}
    referenced = {x.org for x in (*roster.sessions, *roster.courses, *roster.classes)}
    outside, known = set(), set()
    for sid in set(uai) | referenced:
        pk = the_plan.ids.get(("org", sid))
        if pk is None:
            if sid in uai:  # a new school
                outside.add(uai[sid])
        elif pk not in allowed:
            known.add(pk)
    outside |= set(Org.objects.filter(pk__in=known).values_list("uai", flat=True))
    return sorted(outside)


def check_scope(user, roster, the_plan) -> None:
    """Raise :class:`UnreadableFile` (nothing is written) when the files
    touch a school ``user`` may not import (:func:`orgs_outside_scope`);
    an upload whose uploader is gone (``None``) touches nothing."""
    if user is None:
        raise UnreadableFile(
            "La personne qui a envoyé ces fichiers n’a plus de compte : "
            "l’import n’est pas fait."
        )
    outside = orgs_outside_scope(user, roster, the_plan)
    if outside:
        shown = ", ".join(outside[:10]) + (" …" if len(outside) > 10 else "")
        raise UnreadableFile(
            "Ces fichiers concernent des établissements dont vous n’êtes pas "
            f"le personnel habilité à importer ({shown}) : seul un "
            "super-administrateur peut les importer."
        )


@metrics.count_imports("roster")
def run_import(
    paths: Sequence[Path | str],
    *,
    dry_run: bool = False,
    roster_import: RosterImport | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    uploaded: bool = False,
) -> ImportReport:
    """Import the roster files ``paths``; return the report.

    ``dry_run`` reads and compares but writes nothing (no row, no event, no
    audit entry, beyond ``roster_import`` itself when given). ``roster_import``
    (made by the caller) is set running, then done with its report, or
    failed with its error; its creator gets ``roster.import`` events, at
    most :data:`EVENTS_PER_SECOND` a second plus the last one.
    ``progress(phase, done, total)`` is called now and then: ``"reading"``
    counts bytes of the files, ``"applying"`` roster records. ``uploaded``
    (files sent through the admin, not run by an operator on the server):
    the files may touch only the schools of ``roster_import.created_by``
    (:func:`check_scope`), else the import fails with nothing written.

    Raises :class:`UnreadableFile` for a file that cannot be read at all
    (nothing is written then); any other error of the database is raised
    after the row is marked failed. Orgs already applied stay applied (one
    transaction per org): a re-run finishes the work.
    """
    file_paths = [Path(p) for p in paths]
    tracker = _Progress(roster_import, progress)
    try:
        total = sum(p.stat().st_size for p in file_paths)
    except OSError:
        total = 0  # read_roster names the missing file
    if roster_import is not None:
        tracker.save(
            "progress",
            summary={"phase": "reading"},
            status=RosterImport.Status.RUNNING,
            file_names=[p.name for p in file_paths],
            dry_run=dry_run,
            progress=0,
            total=total,
        )
    try:
        roster = read_roster(file_paths, progress=lambda n: tracker(n, total))
        report = ImportReport(files=[p.name for p in file_paths], dry_run=dry_run)
        the_plan = sync.plan(roster, report)
        if roster_import is not None:
            roster_import.source = str(roster.source)
        if uploaded:
            check_scope(
                roster_import.created_by if roster_import else None, roster, the_plan
            )
        if not dry_run:
            tracker.phase = "applying"
            sync.apply(the_plan, roster_import=roster_import, progress=tracker)
            org_ids = sorted(
                the_plan.ids[("org", r.sourced_id)]
                for r in roster.orgs
                if ("org", r.sourced_id) in the_plan.ids
            )
            with transaction.atomic():
                actions.record_import(
                    actor=roster_import.created_by if roster_import else None,
                    roster_import_id=roster_import.pk if roster_import else 0,
                    report_dict=report.as_dict(),
                    org_ids=org_ids,
                )
    except Exception as error:
        # An unexpected error's text may quote a row (a pupil's name, in an
        # IntegrityError's detail): the row and the admin's page get its
        # class only; the caller gets the exception itself.
        message = (
            str(error)
            if isinstance(error, UnreadableFile)
            else f"Erreur inattendue ({type(error).__name__})."
        )
        tracker.save(
            "failed",
            summary={"error": message[:500]},
            status=RosterImport.Status.FAILED,
            error=message,
            finished_at=timezone.now(),
        )
        raise
    tracker.save(
        "done",
        summary=report.as_dict()["counts"],
        status=RosterImport.Status.DONE,
        report=report.as_dict(),
        progress=tracker.last[1],
        total=tracker.last[1],
        finished_at=timezone.now(),
    )
    return report
