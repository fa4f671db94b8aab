from django.core.management.base import BaseCommand

from core.demo.school import demo_code


class Command(BaseCommand):
    help = (
        "Print the demo staff's current second-factor code (the demo's shared "
        "authenticator-app key; staff of a real school have their own)."
    )

    def handle(self, *args, **options):
        self.stdout.write(demo_code())
