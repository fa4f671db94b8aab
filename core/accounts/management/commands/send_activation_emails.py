"""``manage.py send_activation_emails --org UAI [--class "4e B"]``."""

from django.core.management.base import BaseCommand

from core.accounts import actions
from core.accounts.management.commands.make_activation_letters import select


class Command(BaseCommand):
    help = (
        "Envoie un e-mail d'activation (lien et code, valable 3 jours) à "
        "chaque compte pas encore activé qui a une adresse, dans un "
        "établissement ou une classe. Les codes envoyés avant ne "
        "fonctionnent plus."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="UAI de l'établissement")
        parser.add_argument("--class", dest="school_class", help="classe, ex. « 4e B »")

    def handle(self, *args, org, school_class, **options):
        report = actions.send_activation_emails(users=select(org, school_class))
        self.stdout.write(
            f"E-mails d'activation : {len(report.sent)} envoyé(s), "
            f"{len(report.failed)} en échec, {len(report.skipped)} ignoré(s) "
            "(sans adresse ou déjà activés)."
        )
        for username in report.failed:
            self.stdout.write(f"  échec : {username}")
