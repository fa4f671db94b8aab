from django.core.management import call_command
from django.core.management.base import BaseCommand

from core.demo.school import DEMO_UAI, FLOP_AFTER, FLOP_CLASS, data_file


class Command(BaseCommand):
    help = (
        "Apply the newer flop!EDT export to the demo's 3e A: one cancellation and "
        "six moved lessons arrive live in every open timetable of the class."
    )

    def handle(self, *args, **options):
        call_command(
            "import_ical",
            str(data_file(FLOP_AFTER)),
            "--class",
            FLOP_CLASS,
            "--org",
            DEMO_UAI,
            "--reason",
            "Nouvel export flop!EDT du 15/12/2025",
            stdout=self.stdout,
        )
