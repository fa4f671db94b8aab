"""``manage.py import_ical --class TITLE [--org UAI] FILE``: import a timetable.

Reads an iCalendar export (RFC 5545) into the class's feed: the first import
creates its lessons, a later one applies the difference as timetable changes
(see :func:`core.timetable.actions.import_feed`). What the file had that was
skipped (a line after ``END:VCALENDAR``) or rejected (an event ending before
it starts) is printed on stderr, one line each, with its line number.
"""

import datetime as dt
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.roster.models import SchoolClass
from core.timetable.actions import import_feed
from core.timetable.ical_import import IcalImportError


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = (
        "Import an iCalendar export into a class's timetable. Occurrences are "
        "expanded over the class's academic session (or --from/--to)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the .ics file")
        parser.add_argument(
            "--class",
            dest="class_title",
            required=True,
            help='class title, e.g. "4e B"',
        )
        parser.add_argument("--org", help="UAI of the school, when titles repeat")
        parser.add_argument(
            "--reason", default="", help="reason recorded on each change"
        )
        parser.add_argument(
            "--from",
            dest="date_from",
            help="first day to import (default: session start)",
        )
        parser.add_argument(
            "--to", dest="date_to", help="last day to import (default: session end)"
        )

    def handle(self, *args, **options):
        school_class = self._school_class(options["class_title"], options["org"])
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from error
        window = None
        if options["date_from"] or options["date_to"]:
            window = (
                _date(options["date_from"])
                if options["date_from"]
                else school_class.session.start_date,
                _date(options["date_to"])
                if options["date_to"]
                else school_class.session.end_date,
            )
        started = time.perf_counter()
        try:
            result = import_feed(
                school_class=school_class,
                data=data,
                name=path.name,
                reason=options["reason"],
                window=window,
            )
        except IcalImportError as error:
            raise CommandError(
                f"{path.name}: line {error.line}: {error.message}"
            ) from error
        except ValueError as error:
            raise CommandError(str(error)) from error
        elapsed = time.perf_counter() - started
        for warning in result.warnings:
            self.stderr.write(
                self.style.WARNING(
                    f"{path.name}: line {warning.line}: {warning.message}"
                )
            )
        counts = ", ".join(
            f"{name} {value}"
            for name, value in result.as_dict().items()
            if value and name not in ("feed_id", "first_import")
        )
        kind = "first import" if result.first_import else "re-import"
        self.stdout.write(
            self.style.SUCCESS(
                f"{school_class}: {kind} of {path.name} in {elapsed:.2f} s"
                f" ({counts or 'nothing changed'})"
            )
        )

    def _school_class(self, title: str, uai: str | None) -> SchoolClass:
        classes = SchoolClass.objects.select_related("org", "session").filter(
            title=title
        )
        if uai:
            classes = classes.filter(org__uai=uai)
        found = list(classes)
        if len(found) > 1:
            # The same title in several years: the current year's class.
            today = dt.date.today()
            found = [
                c for c in found if c.session.start_date <= today <= c.session.end_date
            ] or found
        if not found:
            where = f" in {uai}" if uai else ""
            raise CommandError(f"no class titled {title!r}{where}")
        if len(found) > 1:
            schools = ", ".join(sorted({c.org.uai for c in found}))
            raise CommandError(
                f"{len(found)} classes titled {title!r} ({schools}): pass --org UAI"
            )
        return found[0]
