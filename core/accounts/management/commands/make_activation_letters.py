"""``manage.py make_activation_letters --org UAI [--class "4e B"] OUT.pdf``.

The PDF holds activation codes in clear: it is written readable by its
owner only; print it and delete it (the codes also expire).
"""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.accounts import actions
from core.roster.models import Org, SchoolClass


def add_selection_arguments(parser) -> None:
    """``--org UAI``, ``--class TITLE`` and ``--reissue``, as :func:`select` and
    the actions read them (shared with ``send_activation_emails``)."""
    parser.add_argument("--org", required=True, help="UAI de l'établissement")
    parser.add_argument("--class", dest="school_class", help="classe, ex. « 4e B »")
    parser.add_argument(
        "--reissue",
        action="store_true",
        help="aussi pour les comptes qui ont déjà un code valide (il ne "
        "fonctionnera plus)",
    )


def select(org_uai: str, class_title: str | None):
    """Return the users of an org or of one of its classes (French errors)."""
    org = Org.objects.filter(uai=org_uai.strip().upper()).first()
    if org is None:
        raise CommandError(f"Aucun établissement n'a l'UAI « {org_uai} ».")
    school_class = None
    if class_title:
        found = list(SchoolClass.objects.filter(org=org, title=class_title))
        if not found:
            raise CommandError(f"{org.name} n'a pas de classe « {class_title} ».")
        if len(found) > 1:
            raise CommandError(
                f"{org.name} a plusieurs classes « {class_title} » "
                "(une par année scolaire) : faites-le depuis l'administration."
            )
        school_class = found[0]
    return actions.users_of(org=org, school_class=school_class)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only (mode 0600).

    The letters hold activation codes in clear: the file is made 0600 before
    any byte is written, and an existing file is made 0600 too.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)


class Command(BaseCommand):
    help = (
        "Imprime les lettres d'activation (PDF, une page par parent et par "
        "élève) des comptes pas encore activés d'un établissement ou d'une "
        "classe. Chaque lettre porte un NOUVEAU code ; les comptes qui ont "
        "déjà un code valide sont laissés de côté, sauf avec --reissue (leur "
        "code précédent ne fonctionne alors plus)."
    )

    def add_arguments(self, parser):
        add_selection_arguments(parser)
        parser.add_argument("out", help="fichier PDF à écrire")

    def handle(self, *args, org, school_class, out, reissue, **options):
        users = select(org, school_class)
        out_path = Path(out)
        if not out_path.parent.is_dir():
            raise CommandError(f"Le dossier de « {out} » n'existe pas.")
        # The codes commit once the file is written: a failed write issues
        # none, and the letters printed before keep working.
        with transaction.atomic():
            pdf, pages = actions.print_letters(users=users, reissue=reissue)
            if not pages:
                self.stdout.write(
                    "Aucun compte n'attend de lettre (pas encore activé et sans "
                    "code valide ; --reissue pour remplacer les codes valides)."
                )
                return
            try:
                write_private(out_path, pdf)
            except OSError as error:
                raise CommandError(
                    f"Impossible d'écrire « {out} » ({error.strerror or error}) : "
                    "aucun code n'a été émis."
                ) from error
        self.stdout.write(
            f"{pages} lettre(s) d'activation dans {out_path} ; les codes "
            "précédents de ces comptes ne fonctionnent plus."
        )
