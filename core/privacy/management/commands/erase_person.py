"""``manage.py erase_person LOGIN``: erase and anonymise a person from a terminal.

The same as the admin's "Effacer / anonymiser" (:func:`core.privacy.actions.
erase_person`); the audit entry names the system as actor, or ``--by``.
"""

from django.core.management.base import BaseCommand, CommandError

from core.privacy import actions
from core.roster.models import User


class Command(BaseCommand):
    help = (
        "Erase and anonymise a person: the school keeps what the law "
        "requires under 'Personne effacée', the rest is deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument("login")
        parser.add_argument("--by", help="login of the staff member who decided")
        parser.add_argument(
            "--yes", action="store_true", help="do not ask for confirmation"
        )

    def handle(self, *args, login, by=None, yes=False, **options):
        person = User.objects.filter(username=login).first()
        if person is None:
            raise CommandError(f"no user {login!r}")
        actor = None
        if by:
            actor = User.objects.filter(username=by).first()
            if actor is None:
                raise CommandError(f"no user {by!r}")
        if not yes:
            answer = input(f"Erase {person} ({login})? This cannot be undone [y/N] ")
            if answer.strip().lower() not in ("y", "yes", "o", "oui"):
                raise CommandError("nothing done")
        try:
            done = actions.erase_person(person, actor)
        except actions.NotAllowed:
            raise CommandError(f"{by} may not erase {login}") from None
        self.stdout.write(f"erased as erased-{person.pk}: {done}")
