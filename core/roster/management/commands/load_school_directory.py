"""``manage.py load_school_directory PATH``: names and academies of the
hub's schools from the ministry's "Annuaire de l'éducation" CSV."""

from django.core.management.base import BaseCommand, CommandError

from core.roster.directory import DirectoryError, load_school_directory


class Command(BaseCommand):
    help = (
        "Fill the names and academies of the hub's schools (by UAI) from the "
        "ministry's directory fr-en-annuaire-education (data.education.gouv.fr), "
        "then their school-holiday zones; what an administrator typed is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the directory's CSV file (';')")

    def handle(self, *args, **options):
        try:
            report = load_school_directory(options["path"])
        except (OSError, DirectoryError) as error:
            raise CommandError(str(error)) from error
        for line in report.lines():
            self.stdout.write(line)
