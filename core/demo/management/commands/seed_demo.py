from django.core.management.base import BaseCommand

from core.demo.school import (
    DEMO_TOTP_SECRET,
    PASSWORD,
    build_demo_school,
    ensure_lesson_now,
)


class Command(BaseCommand):
    help = (
        "Create the demo collège (idempotent) with a lesson that has just begun, "
        "and print its accounts and that lesson's roll-call path."
    )

    def handle(self, *args, **options):
        accounts = build_demo_school()
        lesson = ensure_lesson_now()
        self.stdout.write(format_accounts(accounts))
        self.stdout.write(
            f"Cours en cours pour faire l'appel (prof) : /absences/roll-call/{lesson.pk}/"
        )


def format_accounts(accounts) -> str:
    """Return the demo accounts as an aligned text table."""
    rows = [f"  {'identifiant':<12} {'mot de passe':<13} rôle"]
    rows += [f"  {a.username:<12} {PASSWORD:<13} {a.description}" for a in accounts]
    rows += [
        "",
        "Double authentification du personnel (prof, prof.om, cpe, admin) :",
        f"  clé {DEMO_TOTP_SECRET} à ajouter dans une application",
        "  d'authentification, ou « make demo-code » pour le code du moment.",
    ]
    return "\n".join(rows)
