"""The ministry's school directory ("Annuaire de l'éducation",
``fr-en-annuaire-education`` on data.education.gouv.fr): names and academies
of the hub's schools, by UAI.

A SIECLE export names its school by UAI alone, and an org made by hand may
lack its academy, which decides its school holidays
(:mod:`core.timetable.school_calendar`). The directory is a ``;``-separated
CSV (UTF-8, with or without BOM, CRLF) of 69 columns; three matter here:
``Identifiant_de_l_etablissement`` (the UAI), ``Nom_etablissement`` and
``Libelle_academie``. Only orgs the hub already holds are touched: a name is
filled where the hub has none (or only the UAI), an academy where it has
none; what an administrator typed is kept. Then each org with an academy
and no zone gets its academy's zone.
"""

import csv
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from core.roster.models import Org
from core.timetable.school_calendar import attach_orgs_to_zones

_UAI = "Identifiant_de_l_etablissement"
_NAME = "Nom_etablissement"
_ACADEMY = "Libelle_academie"
_NAME_MAX = Org._meta.get_field("name").max_length
_ACADEMY_MAX = Org._meta.get_field("academy").max_length


class DirectoryError(ValueError):
    """The file is not the ministry's directory; nothing was written."""


@dataclass
class DirectoryReport:
    rows: int = 0
    named: list[str] = field(default_factory=list)  # UAIs
    placed: list[str] = field(default_factory=list)  # UAIs given an academy
    zoned: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # "line N: reason"

    def lines(self) -> list[str]:
        return [
            f"{self.rows} établissements lus ; écoles nommées : {len(self.named)}, "
            f"rattachées à leur académie : {len(self.placed)}, "
            f"à leur zone de vacances : {len(self.zoned)}",
            *(f"rejeté : {reason}" for reason in self.rejected),
        ]


def load_school_directory(path: str | Path) -> DirectoryReport:
    """Fill the names and academies of the hub's orgs from the directory at
    ``path``, in one transaction.

    Raises ``OSError`` when the file cannot be opened and
    :class:`DirectoryError` when it is not UTF-8 or lacks the columns.
    """
    report = DirectoryReport()
    orgs = {org.uai: org for org in Org.objects.all()}
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            reader = csv.DictReader(file, delimiter=";")
            missing = {_UAI, _NAME, _ACADEMY} - set(reader.fieldnames or ())
            if missing:
                raise DirectoryError(
                    f"{path} : colonnes manquantes {', '.join(sorted(missing))} "
                    "(attendu : l'annuaire de l'éducation, séparé par « ; »)"
                )
            rows = []
            for row in reader:
                report.rows += 1
                uai = (row[_UAI] or "").strip().upper()
                if not uai:
                    report.rejected.append(f"ligne {reader.line_num} : UAI vide")
                    continue
                if uai in orgs:
                    rows.append(row | {_UAI: uai})
    except UnicodeDecodeError:
        raise DirectoryError(
            f"{path} : le fichier n'est pas en UTF-8 ; rien n'a été chargé."
        ) from None
    changed: dict[str, Org] = {}
    for row in rows:
        org = orgs[row[_UAI]]
        name = (row[_NAME] or "").strip()[:_NAME_MAX]
        academy = (row[_ACADEMY] or "").strip()[:_ACADEMY_MAX]
        if name and org.name.strip() in ("", org.uai):
            org.name = name
            changed[org.uai] = org
            report.named.append(org.uai)
        if academy and not org.academy:
            org.academy = academy
            changed[org.uai] = org
            report.placed.append(org.uai)
    with transaction.atomic():
        # One UPDATE for all (a département's directory names hundreds).
        Org.objects.bulk_update(changed.values(), ["name", "academy"], batch_size=500)
        report.zoned = attach_orgs_to_zones()
    return report
