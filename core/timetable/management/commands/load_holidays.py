"""``manage.py load_holidays [PATH]``: load public holidays (Etalab CSV)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.timetable.holidays import HOLIDAYS_CSV, load_holidays


class Command(BaseCommand):
    help = (
        "Load public holidays from the Etalab CSV (date,annee,zone,nom_jour_ferie); "
        "default: the file the hub ships (core/timetable/data)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="CSV file to read")

    def handle(self, *args, **options):
        path = Path(options["path"] or HOLIDAYS_CSV)
        try:
            count = load_holidays(path)
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(f"{count} public holidays loaded from {path}")
        )
