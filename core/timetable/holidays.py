"""Public holidays from the Etalab open data set "Jours fériés en France".

The CSV (``date,annee,zone,nom_jour_ferie``, UTF-8) has one row per holiday;
two holidays may share a date (2008-05-01 was both "1er mai" and
"Ascension"), and a ``Holiday`` is one row per date, so their names are
joined with ``" / "``.
"""

import csv
import datetime as dt
from pathlib import Path

from django.db import transaction

from core.timetable.models import Holiday

# The Etalab file the hub ships (provenance in core/timetable/data/PROVENANCE.md).
HOLIDAYS_CSV = Path(__file__).resolve().parent / "data" / "jours_feries_metropole.csv"
_COLUMNS = {"date", "zone", "nom_jour_ferie"}
_NAME_MAX = Holiday._meta.get_field("name").max_length
_ZONE_MAX = Holiday._meta.get_field("zone").max_length


def read_holidays(path: str | Path) -> dict[dt.date, tuple[str, str]]:
    """Return ``{date: (name, zone)}`` read from the Etalab CSV at ``path``.

    Names of holidays on the same date are joined with ``" / "`` in file
    order. Raises ``OSError`` when the file cannot be opened and
    ``ValueError`` (naming the line) for a missing column or a bad date.
    """
    by_date: dict[dt.date, tuple[list[str], str]] = {}
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        missing = _COLUMNS - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(sorted(missing))}")
        for row in reader:
            try:
                day = dt.date.fromisoformat((row["date"] or "").strip())
            except ValueError:
                raise ValueError(
                    f"{path}, line {reader.line_num}: bad date {row['date']!r}"
                ) from None
            zone = (row["zone"] or "").strip() or "Métropole"
            names, _ = by_date.setdefault(day, ([], zone))
            name = (row["nom_jour_ferie"] or "").strip()
            if name and name not in names:
                names.append(name)
    return {
        day: (" / ".join(names)[:_NAME_MAX], zone[:_ZONE_MAX])
        for day, (names, zone) in sorted(by_date.items())
    }


def load_holidays(path: str | Path) -> int:
    """Create or update one ``Holiday`` per date of the CSV at ``path``.

    Returns the number of dates in the file (each now has its row; rows for
    dates not in the file are left alone). Runs in one transaction. Raises
    like :func:`read_holidays`.
    """
    holidays = read_holidays(path)
    with transaction.atomic():
        existing = {h.date: h for h in Holiday.objects.filter(date__in=list(holidays))}
        to_create, to_update = [], []
        for day, (name, zone) in holidays.items():
            row = existing.get(day)
            if row is None:
                to_create.append(Holiday(date=day, name=name, zone=zone))
            elif (row.name, row.zone) != (name, zone):
                row.name, row.zone = name, zone
                to_update.append(row)
        Holiday.objects.bulk_create(to_create)
        Holiday.objects.bulk_update(to_update, ["name", "zone"])
    return len(holidays)


def holiday_dates(first: dt.date, last: dt.date) -> set[dt.date]:
    """Return the public holidays from ``first`` to ``last`` (inclusive)."""
    return set(
        Holiday.objects.filter(date__range=(first, last)).values_list("date", flat=True)
    )
