"""School holidays from the ministry's "Le calendrier scolaire" open data set.

The data set (``fr-en-calendrier-scolaire``, data.education.gouv.fr) is a
``;``-separated CSV, one row per holiday, academy and population. Two header
sets are in use: the older export's French headers (``Description;Population;
Date de début;Date de fin;Académies;Zones;annee_scolaire``) and the current
one's (``description;population;start_date;end_date;location;zones;
annee_scolaire``); both are read.

Dates: the ministry's rule is "le départ en vacances a lieu après la classe,
la reprise le matin des jours indiqués", so "Vacances de la Toussaint
2019-10-19 → 2019-11-04" means lessons stop after Saturday the 19th and
resume on Monday 4 November: the days without lessons are the 20th to the
3rd. A row whose dates leave no day between them (a single day such as
"Mi-carême" in Guadeloupe, start = end; or Martinique's 22 May, start + 1 =
end) is that one day off. Timestamps are read as dates in Europe/Paris (the
data set's own zone: an older row ends at ``01:00+02:00``, the current
export writes ``22:00+00:00`` for midnight).

Rows kept: pupils' holidays (population ``-``, empty, ``Élèves``, ``Élèves du
second degré``, or a place such as ``Guadeloupe & Saint-Martin``). Skipped,
with their line: teachers' dates (``Enseignants``), primary schools' dates
(``Élèves du premier degré``: the hub serves collèges and lycées) and repeated
rows. Rejected, with their line and reason: an end before the start (reported,
never swapped), a bad date, a missing field, or a row that contradicts an
earlier one for the same holiday.

An org's holidays are those of its academy (``Org.academy``), and, for a
holiday the calendar does not list for that academy, those of its zone
(``Org.holiday_zone``, or the zone the calendar gives its academy). Academy
names are compared without case, accents or punctuation, and Caen and Rouen
are the same academy as Normandie (merged in 2020).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q

from core.roster.models import Org
from core.text import strip_accents
from core.timetable.models import Holiday, SchoolHoliday

# The extract the hub ships (provenance in core/timetable/data/PROVENANCE.md).
SCHOOL_CALENDAR_CSV = (
    Path(__file__).resolve().parent / "data" / "fr-en-calendrier-scolaire_extrait-1.csv"
)
CALENDAR_ZONE = ZoneInfo("Europe/Paris")

# Header (normalised: see ``normalise``) -> field.
_HEADERS = {
    "description": "name",
    "population": "population",
    "date de debut": "start",
    "start date": "start",
    "date de fin": "end",
    "end date": "end",
    "academies": "academy",
    "location": "academy",
    "zones": "zone",
    "annee scolaire": "school_year",
}
_REQUIRED = ("name", "start", "end", "academy", "zone", "school_year")
# Populations (normalised) whose dates are not pupils' holidays at a collège.
_NOT_PUPILS = {
    "enseignants": "dates des enseignants, pas des élèves",
    "eleves du premier degre": "dates des écoles (premier degré)",
}
# Academies merged since (normalised name -> the academy that replaced it).
ACADEMY_SUCCESSORS = {"caen": "normandie", "rouen": "normandie"}

_MAX = {
    name: SchoolHoliday._meta.get_field(name).max_length  # type: ignore[union-attr]
    for name in ("name", "zone", "academy", "school_year", "population")
}


class SchoolCalendarError(Exception):
    """The file cannot be read at all (French message); nothing was written."""


def normalise(text: str) -> str:
    """Return ``text`` without case, accents or punctuation: "Orléans-Tours"
    and "orleans tours" give "orleans tours"."""
    text = strip_accents(text or "").casefold()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def normalise_zone(zone: str) -> str:
    """Return ``zone`` normalised; a bare letter "B" is "Zone B"."""
    key = normalise(zone)
    return f"zone {key}" if key in {"a", "b", "c"} else key


def academy_keys(academy: str) -> set[str]:
    """Return the normalised names ``academy`` goes by, before and after a merger."""
    key = normalise(academy)
    if not key:
        return set()
    keys = {key}
    if key in ACADEMY_SUCCESSORS:
        keys.add(ACADEMY_SUCCESSORS[key])
    keys.update(old for old, new in ACADEMY_SUCCESSORS.items() if new == key)
    return keys


def days_without_lessons(stop: dt.date, resume: dt.date) -> tuple[dt.date, dt.date]:
    """Return the first and last day without lessons (inclusive).

    ``stop`` is the day lessons stop (after its classes), ``resume`` the day
    they resume. When no day lies between them, ``stop`` itself is the one
    day off (single-day rows). The caller has checked ``stop <= resume``.
    """
    first = stop + dt.timedelta(days=1)
    last = resume - dt.timedelta(days=1)
    if last < first:
        return stop, stop
    return first, last


@dataclass(frozen=True)
class CalendarRow:
    """One pupils' holiday as read from the file."""

    line: int
    name: str
    zone: str
    academy: str
    school_year: str
    population: str
    lessons_stop: dt.date
    lessons_resume: dt.date

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.zone, self.academy, self.name, self.school_year)

    def values(self) -> dict:
        first, last = days_without_lessons(self.lessons_stop, self.lessons_resume)
        return {
            "population": self.population,
            "start_date": first,
            "end_date": last,
            "lessons_stop": self.lessons_stop,
            "lessons_resume": self.lessons_resume,
        }


@dataclass
class CalendarReport:
    """What :func:`load_school_calendar` did; ``skipped`` and ``rejected``
    are ``(line, reason)`` pairs (French reasons)."""

    path: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    orgs_zoned: list[tuple[str, str]] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return self.created + self.updated + self.unchanged

    def lines(self) -> list[str]:
        """Return the report as French text lines."""
        out = [
            f"{self.path} : {self.rows} lignes, {self.loaded} vacances chargées "
            f"({self.created} créées, {self.updated} mises à jour, "
            f"{self.unchanged} inchangées), {len(self.skipped)} ignorées, "
            f"{len(self.rejected)} rejetées"
        ]
        out += [f"ligne {line} ignorée : {reason}" for line, reason in self.skipped]
        out += [f"ligne {line} rejetée : {reason}" for line, reason in self.rejected]
        out += [
            f"établissement {org} rattaché à la zone {zone}"
            for org, zone in self.orgs_zoned
        ]
        return out


def _parse_date(value: str) -> dt.date:
    """Return the Europe/Paris date of an ISO date or timestamp."""
    value = (value or "").strip()
    if not value:
        raise ValueError("date manquante")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"date illisible {value!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(CALENDAR_ZONE)
    return moment.date()


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SchoolCalendarError(
            f"{path} : le fichier n'est pas en UTF-8 ; rien n'a été chargé."
        ) from None


def read_school_calendar(
    path: str | Path,
) -> tuple[list[CalendarRow], CalendarReport]:
    """Read the CSV at ``path``; return the pupils' holidays and a report.

    The report holds the skipped and rejected rows (with their line numbers);
    the caller fills in what was written. Raises ``SchoolCalendarError`` for
    a file that cannot be opened or decoded, or without the columns needed.
    """
    report = CalendarReport(path=str(path))
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise SchoolCalendarError(
            f"{path} : fichier illisible ({error.strerror or error})."
        ) from None
    text = _decode(data, str(path))
    head = text.split("\n", 1)[0]
    delimiter = ";" if head.count(";") >= head.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise SchoolCalendarError(f"{path} : fichier vide ; rien n'a été chargé.")
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        known = _HEADERS.get(normalise(name))
        if known and known not in columns:
            columns[known] = index
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        raise SchoolCalendarError(
            f"{path} : colonnes absentes ({', '.join(missing)}) ; attendu "
            "Description;Population;Date de début;Date de fin;Académies;Zones;"
            "annee_scolaire ou description;population;start_date;end_date;"
            "location;zones;annee_scolaire. Rien n'a été chargé."
        )
    rows: list[CalendarRow] = []
    seen: dict[tuple, CalendarRow] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        report.rows += 1

        def cell(name: str, cells=cells) -> str:
            index = columns.get(name)
            return (
                cells[index].strip() if index is not None and index < len(cells) else ""
            )

        population = cell("population")
        reason = _NOT_PUPILS.get(normalise(population))
        if reason:
            report.skipped.append((line, f"{reason} ({population})"))
            continue
        values = {name: cell(name) for name in ("name", "zone", "academy")}
        values["school_year"] = cell("school_year")
        empty = [name for name, value in values.items() if not value]
        if empty:
            report.rejected.append((line, f"champ vide : {', '.join(empty)}"))
            continue
        try:
            stop = _parse_date(cell("start"))
            resume = _parse_date(cell("end"))
        except ValueError as error:
            report.rejected.append((line, str(error)))
            continue
        if resume < stop:
            report.rejected.append(
                (
                    line,
                    f"fin ({resume:%d/%m/%Y}) avant le début ({stop:%d/%m/%Y}) "
                    f"pour « {values['name']} », {values['academy']}",
                )
            )
            continue
        row = CalendarRow(
            line=line,
            name=values["name"][: _MAX["name"]],
            zone=values["zone"][: _MAX["zone"]],
            academy=values["academy"][: _MAX["academy"]],
            school_year=values["school_year"][: _MAX["school_year"]],
            population=population[: _MAX["population"]],
            lessons_stop=stop,
            lessons_resume=resume,
        )
        earlier = seen.get(row.key)
        if earlier is not None:
            if (earlier.lessons_stop, earlier.lessons_resume) == (stop, resume):
                report.skipped.append((line, f"répète la ligne {earlier.line}"))
            else:
                report.rejected.append(
                    (
                        line,
                        f"contredit la ligne {earlier.line} (mêmes vacances, "
                        "autres dates)",
                    )
                )
            continue
        seen[row.key] = row
        rows.append(row)
    return rows, report


def load_school_calendar(path: str | Path = SCHOOL_CALENDAR_CSV) -> CalendarReport:
    """Create or update one ``SchoolHoliday`` per pupils' holiday of the file.

    Idempotent: a holiday is identified by its zone, academy, name and school
    year; loading the same file again changes nothing. Holidays not in the
    file are left alone. Then every org with an academy and no zone gets the
    zone the calendar gives its academy. Runs in one transaction. Raises
    ``SchoolCalendarError`` like :func:`read_school_calendar`.
    """
    rows, report = read_school_calendar(path)
    names = ["population", "start_date", "end_date", "lessons_stop", "lessons_resume"]
    with transaction.atomic():
        existing = {
            (h.zone, h.academy, h.name, h.school_year): h
            for h in SchoolHoliday.objects.filter(
                school_year__in={row.school_year for row in rows}
            )
        }
        to_create, to_update = [], []
        for row in rows:
            values = row.values()
            holiday = existing.get(row.key)
            if holiday is None:
                to_create.append(
                    SchoolHoliday(
                        zone=row.zone,
                        academy=row.academy,
                        name=row.name,
                        school_year=row.school_year,
                        **values,
                    )
                )
            elif any(getattr(holiday, key) != value for key, value in values.items()):
                for key, value in values.items():
                    setattr(holiday, key, value)
                to_update.append(holiday)
            else:
                report.unchanged += 1
        SchoolHoliday.objects.bulk_create(to_create, batch_size=500)
        SchoolHoliday.objects.bulk_update(to_update, names, batch_size=500)
        report.created, report.updated = len(to_create), len(to_update)
        report.orgs_zoned = attach_orgs_to_zones()
    return report


def zone_of_academy(
    academy: str, zones: dict[str, tuple[int, str]] | None = None
) -> str:
    """Return the zone the calendar gives ``academy`` in its latest row, or "".

    ``zones`` is :func:`_zones_by_academy`, read once by a caller that asks
    for many academies.
    """
    keys = academy_keys(academy)
    if not keys:
        return ""
    if zones is None:
        zones = _zones_by_academy()
    found = [zones[key] for key in keys if key in zones]
    return min(found)[1] if found else ""


def _zones_by_academy() -> dict[str, tuple[int, str]]:
    """Return ``{normalised academy: (rank, zone)}`` of each academy's latest
    row (rank 0 is the calendar's latest row of all)."""
    zones: dict[str, tuple[int, str]] = {}
    rows = SchoolHoliday.objects.order_by("-lessons_stop", "pk").values_list(
        "academy", "zone"
    )
    for rank, (name, zone) in enumerate(rows):
        zones.setdefault(normalise(name), (rank, zone))
    return zones


def zone_of(org: Org) -> str:
    """Return the school holiday zone of ``org``: its own, or its academy's."""
    return org.holiday_zone or zone_of_academy(org.academy)


def attach_orgs_to_zones() -> list[tuple[str, str]]:
    """Give each org with an academy and no zone its academy's zone.

    Returns ``(org, zone)`` for each org changed. An org whose zone was set
    by hand keeps it. One read of the calendar and one UPDATE, however many
    orgs (a roster import may bring an académie's hundreds).
    """
    orgs = list(Org.objects.filter(holiday_zone="").exclude(academy=""))
    if not orgs:
        return []
    zones = _zones_by_academy()
    changed = []
    for org in orgs:
        zone = zone_of_academy(org.academy, zones)
        if zone:
            org.holiday_zone = zone
            changed.append(org)
    Org.objects.bulk_update(changed, ["holiday_zone"], batch_size=500)
    return [(str(org), org.holiday_zone) for org in changed]


def school_holidays(org: Org, first: dt.date, last: dt.date) -> list[SchoolHoliday]:
    """Return the school holidays of ``org`` with a day off from ``first`` to
    ``last`` (inclusive), in start order.

    Its academy's rows; for a holiday (name and school year) not listed for
    its academy, its zone's rows.
    """
    academies = academy_keys(org.academy)
    zone = normalise_zone(zone_of(org))
    if not academies and not zone:
        return []
    rows = list(SchoolHoliday.objects.filter(start_date__lte=last, end_date__gte=first))
    if not rows:
        return []
    # Which of these holidays the calendar lists for the org's academy, at
    # any date (an academy's own dates win over its zone's).
    listed = {
        (name, year)
        for academy, name, year in SchoolHoliday.objects.filter(
            name__in={row.name for row in rows},
            school_year__in={row.school_year for row in rows},
        ).values_list("academy", "name", "school_year")
        if normalise(academy) in academies
    }
    chosen: dict[tuple, SchoolHoliday] = {}
    for row in rows:
        key = (row.name, row.school_year)
        if normalise(row.academy) in academies or (
            key not in listed and zone and normalise_zone(row.zone) == zone
        ):
            chosen.setdefault((key, row.start_date, row.end_date), row)
    return sorted(chosen.values(), key=lambda h: (h.start_date, h.name))


def _school_holiday_days(org: Org, first: dt.date, last: dt.date) -> dict[dt.date, str]:
    """Return ``{day: name}`` of ``org``'s school holidays from ``first`` to
    ``last`` (inclusive); of two holidays on one day, the later starting."""
    names: dict[dt.date, str] = {}
    for holiday in school_holidays(org, first, last):
        day = max(holiday.start_date, first)
        while day <= min(holiday.end_date, last):
            names[day] = holiday.name
            day += dt.timedelta(days=1)
    return names


def school_holiday_dates(org: Org, first: dt.date, last: dt.date) -> set[dt.date]:
    """Return the days without lessons of ``org``'s school holidays from
    ``first`` to ``last`` (inclusive)."""
    return set(_school_holiday_days(org, first, last))


def days_off(org: Org, first: dt.date, last: dt.date) -> dict[dt.date, str]:
    """Return ``{day: name}`` of public and school holidays of ``org`` from
    ``first`` to ``last`` (inclusive); a public holiday's name wins."""
    names = _school_holiday_days(org, first, last)
    for day, name in Holiday.objects.filter(Q(date__range=(first, last))).values_list(
        "date", "name"
    ):
        names[day] = name
    return dict(sorted(names.items()))


def week_days_off(org: Org, monday: dt.date) -> dict[str, str]:
    """Return ``{"YYYY-MM-DD": name}`` of the days off of the week from
    ``monday`` (seven days), as the timetable page shows them."""
    names = days_off(org, monday, monday + dt.timedelta(days=6))
    return {day.isoformat(): name for day, name in names.items()}
