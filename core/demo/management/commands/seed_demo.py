from django.core.management.base import BaseCommand, CommandError

from core.demo.school import PASSWORD, build_demo_school


class Command(BaseCommand):
    help = "Create the demo collège (idempotent) and print its accounts."

    def handle(self, *args, **options):
        try:
            accounts = build_demo_school()
        except FileNotFoundError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(format_accounts(accounts))


def format_accounts(accounts) -> str:
    """Return the demo accounts as an aligned text table."""
    rows = [f"  {'identifiant':<12} {'mot de passe':<13} rôle"]
    rows += [f"  {a.username:<12} {PASSWORD:<13} {a.description}" for a in accounts]
    return "\n".join(rows)
