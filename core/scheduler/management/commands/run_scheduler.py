from django.core.management.base import BaseCommand

from core.scheduler.loop import scheduler_loop


class Command(BaseCommand):
    help = (
        "Run the periodic jobs (missing roll calls, retention of events and "
        "of every kind of data, delivery: quiet hours, digests, recovery) "
        "every --interval seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=60.0)

    def handle(self, *args, interval, **options):
        scheduler_loop(interval)
