from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from core.demo.calendars import class_3a_after
from core.demo.school import CLASS_3A, DEMO_UAI
from core.roster.models import SchoolClass


class Command(BaseCommand):
    help = (
        "Import the later version of the demo's 3e A timetable: one lesson "
        "cancelled, three moved and three re-roomed arrive live in every open "
        "timetable of the class."
    )

    def handle(self, *args, **options):
        school_class = SchoolClass.objects.select_related("session").get(
            org__uai=DEMO_UAI, title=CLASS_3A
        )
        session = school_class.session
        # Written where it can be opened, and imported as any export is.
        path = settings.VAR_DIR / "demo" / "3eA-after.ics"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(class_3a_after(session.start_date, session.end_date))
        call_command(
            "import_ical",
            str(path),
            "--class",
            CLASS_3A,
            "--org",
            DEMO_UAI,
            "--reason",
            "Nouvel emploi du temps de la 3e A",
            stdout=self.stdout,
        )
