"""``manage.py send_activation_emails --org UAI [--class "4e B"]``."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.accounts import actions
from core.accounts.management.commands.make_activation_letters import (
    add_selection_arguments,
    select,
)


class Command(BaseCommand):
    help = (
        "Envoie un e-mail d'activation (lien et code, valable 3 jours) à "
        "chaque compte pas encore activé qui a une adresse, dans un "
        "établissement ou une classe. Les comptes qui ont déjà un code valide "
        "sont laissés de côté, sauf avec --reissue."
    )

    def add_arguments(self, parser):
        add_selection_arguments(parser)

    def handle(self, *args, org, school_class, reissue, **options):
        try:
            report = actions.send_activation_emails(
                users=select(org, school_class), reissue=reissue
            )
        except actions.MailServerUnavailable as error:
            raise CommandError(
                f"Le serveur d'e-mails ({settings.EMAIL_HOST}:{settings.EMAIL_PORT}) "
                f"ne répond pas ({error}) : aucun code n'a été émis."
            ) from error
        self.stdout.write(
            f"E-mails d'activation : {len(report.sent)} envoyé(s), "
            f"{len(report.failed)} en échec, {len(report.skipped)} ignoré(s) "
            "(sans adresse, déjà activés ou avec un code valide)."
        )
        for username in report.failed:
            self.stdout.write(f"  échec : {username}")
