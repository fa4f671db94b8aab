"""``manage.py import_roster FILE... [--dry-run] [--by USERNAME]``."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.roster.importing import run_import
from core.roster.models import RosterImport, User
from core.roster.records import UnreadableFile
from core.roster.sources import detect

PHASES = {"reading": ("Lecture", "o"), "applying": ("Écriture", " fiches")}


class Command(BaseCommand):
    help = (
        "Import a roster: AAF files, a SIECLE export or a OneRoster set "
        "(loose CSV files or a zip), all files of one format. Prints created / "
        "updated / deactivated / unchanged / rejected per kind and each rejected "
        "row. --dry-run compares and prints without writing anything."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="read and compare, print the report, write nothing",
        )
        parser.add_argument(
            "--by",
            metavar="USERNAME",
            help="the administrator recorded as having run the import",
        )

    def handle(self, *args, files, dry_run, by=None, **options):
        actor = None
        if by:
            actor = User.objects.filter(username=by).first()
            if actor is None:
                raise CommandError(f"Utilisateur inconnu : {by}")
        try:
            for path in files:  # refuse unknown files before recording a run
                detect(path)
        except UnreadableFile as error:
            raise CommandError(
                f"Import refusé, rien n'a été importé. {error}"
            ) from None
        roster_import = None
        if not dry_run:
            roster_import = RosterImport.objects.create(
                created_by=actor, file_names=[p.name for p in files]
            )
        bar = _Bar(self.stderr._out if hasattr(self.stderr, "_out") else sys.stderr)
        try:
            report = run_import(
                files,
                dry_run=dry_run,
                roster_import=roster_import,
                progress=bar.update,
            )
        except UnreadableFile as error:
            raise CommandError(
                f"Import refusé, rien n'a été importé. {error}"
            ) from None
        finally:
            bar.close()
        for line in report.lines():
            self.stdout.write(line)


class _Bar:
    """A tqdm bar per phase on ``stream`` when it is a terminal; else nothing."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.enabled = getattr(stream, "isatty", lambda: False)()
        self.bar: tqdm | None = None
        self.phase: str | None = None

    def update(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if phase != self.phase:
            self.close()
            label, unit = PHASES.get(phase, (phase, ""))
            self.bar = tqdm(
                total=total,
                desc=label,
                unit=unit.strip() or "it",
                unit_scale=phase == "reading",
                file=self.stream,
                leave=False,
            )
            self.phase = phase
        assert self.bar is not None  # made above for this phase
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
