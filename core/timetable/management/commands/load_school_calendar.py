"""``manage.py load_school_calendar [PATH]``: load the ministry's school holidays."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.timetable.school_calendar import (
    SCHOOL_CALENDAR_CSV,
    SchoolCalendarError,
    load_school_calendar,
)


class Command(BaseCommand):
    help = (
        "Load school holidays from the ministry's calendar (fr-en-calendrier-scolaire "
        "CSV, French or English headers); default: the extract the hub ships "
        "(core/timetable/data). Prints what was loaded, skipped and rejected, "
        "with line numbers; loading the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="CSV file to read")

    def handle(self, *args, **options):
        path = Path(options["path"] or SCHOOL_CALENDAR_CSV)
        try:
            report = load_school_calendar(path)
        except SchoolCalendarError as error:
            raise CommandError(str(error)) from error
        first, *rest = report.lines()
        self.stdout.write(self.style.SUCCESS(first))
        for line in rest:
            self.stdout.write(line)
