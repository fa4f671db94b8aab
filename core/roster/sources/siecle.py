"""SIECLE exports: the school's own administration software (BEE).

Three kinds of file, given together or alone (one :attr:`Mode.COMPLETE`
roster: SIECLE exports are snapshots of the school):

- ``ElevesSansAdresses`` / ``ElevesAvecAdresses`` XML (root ``BEE_ELEVES``,
  ISO-8859-15): ``PARAMETRES/UAJ`` is the school's UAI (an org whose name
  SIECLE does not give: ``""``), ``ANNEE_SCOLAIRE`` the school year (1
  September to the first Saturday from 4 July, when the summer holidays
  begin), ``ELEVES/ELEVE`` the pupils and ``STRUCTURES/STRUCTURES_ELEVE``
  their classes (``TYPE_STRUCTURE`` D: division, a homeroom class; G: group,
  a scheduled class);
- ``ResponsablesAvecAdresses`` XML (root ``BEE_RESPONSABLES``):
  ``PERSONNES/PERSONNE`` and ``RESPONSABLES/RESPONSABLE_ELEVE``; only a
  legal guardian (``RESP_LEGAL`` 1 or 2; newer exports without it:
  ``NIVEAU_RESPONSABILITE`` 1) is linked to the pupil, a contact (0) gets no
  link and no account. It needs the pupils' export of the same school;
- the CSV export of pupils (``;``, French headers marked ``*``/``**``, any
  of UTF-8 with or without BOM, cp1252, ISO-8859-15: see
  :mod:`~core.roster.sources.textfiles`), headers matched without accents,
  case, spaces, ``*`` or hints in brackets. It names no school: the UAI comes
  from a ``UAI``/``UAJ`` column, else the file name (``0350001A_eleves.csv``),
  else the XML export given with it.

Identifiers: a pupil is ``<UAI>$<ELEVE_ID>`` (the CSV's ``Identifiant
unique``, an INE, stands in for ``ELEVE_ID``), a guardian
``<UAI>$P<PERSONNE_ID>``, a class ``<UAI>$<code>``, the school year
``<UAI>$<year>-<year+1>``. A pupil without ``ID_NATIONAL`` (INE) is imported
all the same.

Leavers: ``DATE_SORTIE`` strictly before *today* (in Paris) makes the pupil,
their enrollments and their guardians' links to them inactive. Today and not
the export's date: an old export imported late still knows a departure it
announced for a date now past, and a departure dated after today has not
happened yet.
"""

import csv
import datetime as dt
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from lxml import etree

from core.roster.records import (
    ClassRecord,
    EnrollmentRecord,
    GuardianLinkRecord,
    Mode,
    OrgRecord,
    PersonRecord,
    Rejection,
    Role,
    Roster,
    SessionRecord,
    Source,
    UnreadableFile,
)
from core.roster.sources import HEAD_BYTES
from core.roster.sources.safexml import iter_elements
from core.roster.sources.textfiles import (
    known_names,
    map_columns,
    normalise_header,
    open_text,
    sniff_text,
)

UAI_RE = re.compile(r"^\d{7}[A-Z]$")
UAI_IN_NAME = re.compile(r"(?<![0-9A-Za-z])(\d{7}[A-Za-z])(?![0-9A-Za-z])")
INE_RE = re.compile(r"^(?=.{11}$)\d{9,10}[A-Z]{1,2}$")
ROOT_RE = re.compile(rb"<(BEE_ELEVES|BEE_RESPONSABLES)[\s>/]")
PROGRESS_EVERY = 2000
_DATE_FR = re.compile(r"^\s*(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})\s*$")
_DATE_ISO = re.compile(r"^\s*(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\s*$")

# SIECLE's nomenclature of CODE_PARENTE.
RELATIONSHIPS = {
    "10": "mère",
    "20": "père",
    "30": "autre membre de la famille",
    "37": "foyer",
    "38": "DDASS",
    "39": "autre",
    "41": "élève",
    "50": "tuteur",
    "51": "aide sociale à l'enfance",
    "70": "élève",
    "80": "autre",
    "90": "autre lien",
}

CSV_COLUMNS = known_names(
    "student_id",
    "national_id",
    "given_name",
    "family_name",
    "usage_name",
    "division",
    "groups",
    "birth_date",
    "leave_date",
    "uai",
    "email",
    aliases={
        "Identifiant unique": "student_id",
        "Identifiant": "student_id",
        "Identifiant élève": "student_id",
        "ELEVE_ID": "student_id",
        "INE": "national_id",
        "Numéro INE": "national_id",
        "Numéro national": "national_id",
        "Identifiant national": "national_id",
        "ID_NATIONAL": "national_id",
        "Premier prénom": "given_name",
        "Prénom": "given_name",
        "Prénom 1": "given_name",
        "Deuxième prénom": "given_name_2",
        "Troisième prénom": "given_name_3",
        "Nom de famille": "family_name",
        "Nom": "family_name",
        "NOM_DE_FAMILLE": "family_name",
        "Nom d'usage": "usage_name",
        "NOM_USAGE": "usage_name",
        "Code sexe": "sex",
        "Sexe": "sex",
        "Date de naissance": "birth_date",
        "DATE_NAISS": "birth_date",
        "Date de sortie": "leave_date",
        "DATE_SORTIE": "leave_date",
        "Code commune naissance": "birth_city_code",
        "Libellé commune naissance": "birth_city",
        "Code département naissance": "birth_department",
        "Code pays naissance": "birth_country",
        "Statut": "status",
        "Code MEF": "mef",
        "MEF": "mef",
        "Division": "division",
        "Classe": "division",
        "Groupe": "groups",
        "Groupes": "groups",
        "UAJ": "uai",
        "RNE": "uai",
        "Code établissement": "uai",
        "Courriel": "email",
        "Mél": "email",
        "Email": "email",
        "Régime": "regime",
        "Option": "option",
    },
)


def recognises(name: str, head: bytes) -> bool:
    """A ``BEE_ELEVES`` or ``BEE_RESPONSABLES`` XML, or a pupils' CSV export."""
    if head.startswith(b"PK"):
        return False  # a zip, even one that stores an export uncompressed
    if ROOT_RE.search(head[:HEAD_BYTES]):
        return True
    if not name.lower().endswith((".csv", ".txt")):
        return False
    return _csv_looks_like_siecle(sniff_text(head))


def _csv_looks_like_siecle(text: str) -> bool:
    first = next(iter(text.splitlines()), "")
    cells = {CSV_COLUMNS.get(normalise_header(c)) for c in re.split(r"[;,\t]", first)}
    return {"family_name", "given_name"} <= cells and bool(
        cells & {"student_id", "national_id"}
    )


def parse(
    paths: list[Path],
    *,
    progress: Callable[[int], None] | None = None,
    today: dt.date | None = None,
) -> Roster:
    """Read SIECLE exports (see the module's docstring) into one roster.

    ``today`` (default: today in Paris) decides which ``DATE_SORTIE`` are past.
    """
    today = today or dt.datetime.now(ZoneInfo("Europe/Paris")).date()
    return _Parser([Path(p) for p in paths], today, progress).run()


def _school_year_end(year: int) -> dt.date:
    """The first Saturday from 4 July of ``year``: summer holidays begin."""
    day = dt.date(year, 7, 4)
    return day + dt.timedelta(days=(5 - day.weekday()) % 7)


def _french_date(value: str) -> dt.date | None:
    """``31/12/1994`` (SIECLE) or ``1994-12-31``; ``None`` if neither."""
    match = _DATE_FR.match(value) or _DATE_ISO.match(value)
    if match is None:
        return None
    day, month, year = match.group("d", "m", "y")
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def _text(element: etree._Element, tag: str) -> str:
    child = element.find(tag)
    return (child.text or "").strip() if child is not None else ""


def _children(element: etree._Element) -> dict[str, str]:
    """``{tag: stripped text}`` of the element's children (the first of each tag)."""
    values: dict[str, str] = {}
    for child in element:
        if isinstance(child.tag, str) and child.tag not in values:
            values[child.tag] = (child.text or "").strip()
    return values


class _Parser:
    def __init__(self, paths: list[Path], today: dt.date, progress) -> None:
        self.paths = paths
        self.today = today
        self.progress = progress
        self.done = 0
        self.roster = Roster(source=Source.SIECLE, mode=Mode.COMPLETE)
        self.orgs: dict[str, OrgRecord] = {}
        self.sessions: dict[str, str] = {}  # uai → school year's sourced_id
        self.classes: dict[str, ClassRecord] = {}
        self.pupils: dict[str, PersonRecord] = {}  # sourced_id → record
        self.with_division: set[str] = set()

    def reject(
        self, file: str, line: int, kind: str, reason: str, sourced_id: str = ""
    ) -> None:
        self.roster.rejections.append(Rejection(file, line, kind, reason, sourced_id))

    def warn(self, text: str) -> None:
        self.roster.warnings.append(text)

    def tick(self, file_bytes: int) -> None:
        if self.progress:
            self.progress(self.done + file_bytes)

    def run(self) -> Roster:
        kinds: dict[str, list[Path]] = {"eleves": [], "responsables": [], "csv": []}
        for path in self.paths:
            try:
                with path.open("rb") as fp:
                    head = fp.read(HEAD_BYTES)
            except OSError as exc:
                raise UnreadableFile(
                    f"{path.name} : fichier illisible ({exc})"
                ) from exc
            match = ROOT_RE.search(head)
            if match:
                kind = "eleves" if match.group(1) == b"BEE_ELEVES" else "responsables"
                kinds[kind].append(path)
            elif path.suffix.lower() in (".csv", ".txt"):
                kinds["csv"].append(path)
            else:
                raise UnreadableFile(
                    f"{path.name} : ni export SIECLE XML (BEE_ELEVES, BEE_RESPONSABLES) "
                    "ni CSV"
                )
        for path in kinds["eleves"]:
            self.read_pupils_xml(path)
        for path in kinds["csv"]:
            self.read_pupils_csv(path)
        for path in kinds["responsables"]:
            self.read_guardians_xml(path)
        for pupil in self.pupils.values():
            if pupil.active and pupil.sourced_id not in self.with_division:
                self.warn(
                    f"{pupil.file}:{pupil.line}: {pupil.family_name} {pupil.given_name} "
                    "n'a pas de division : importé(e) sans classe"
                )
        if not kinds["responsables"]:
            self.warn(
                "Aucun export des responsables (ResponsablesAvecAdresses) : les liens "
                "parents-élèves ne sont pas importés"
            )
        self.roster.orgs = list(self.orgs.values())
        self.roster.classes = list(self.classes.values())
        # The pupils' export is the whole truth for their divisions and
        # groups (the CSV, which has only a division column, for the
        # divisions alone), the guardians' export for the links when it
        # joins the XML pupils' export (it names pupils by ELEVE_ID, which
        # the CSV does not carry); otherwise the hub's links stay as they are.
        self.roster.complete_for = frozenset(
            ({"enrollment:student"} if kinds["eleves"] else set())
            | ({"enrollment:student:homeroom"} if kinds["csv"] else set())
            | (
                {"guardian_link"}
                if kinds["responsables"] and kinds["eleves"]
                else set()
            )
        )
        return self.roster

    # --- orgs, sessions, classes ----------------------------------------------------

    def org(self, uai: str, file: str, line: int) -> None:
        if uai in self.orgs:
            return
        if not UAI_RE.match(uai):
            self.warn(
                f"{file}:{line}: UAI « {uai} » inhabituel (7 chiffres et une lettre)"
            )
        self.orgs[uai] = OrgRecord(
            sourced_id=uai, name="", uai=uai, line=line, file=file
        )

    def school_year(self, uai: str, value: str, file: str, line: int) -> None:
        if not value:
            return
        if not re.fullmatch(r"\d{4}", value):
            self.warn(f"{file}:{line}: ANNEE_SCOLAIRE « {value} » illisible, ignorée")
            return
        year = int(value)
        title = f"{year}-{year + 1}"
        sid = f"{uai}${title}"
        if uai not in self.sessions:
            self.roster.sessions.append(
                SessionRecord(
                    sourced_id=sid,
                    org=uai,
                    title=title,
                    type="schoolYear",
                    start_date=dt.date(year, 9, 1),
                    end_date=_school_year_end(year + 1),
                    line=line,
                    file=file,
                )
            )
            self.sessions[uai] = sid

    def enroll(
        self,
        uai: str,
        pupil: PersonRecord,
        code: str,
        homeroom: bool,
        file: str,
        line: int,
    ) -> None:
        sid = f"{uai}${code}"
        cls = self.classes.get(sid)
        class_type = "homeroom" if homeroom else "scheduled"
        if cls is None:
            cls = ClassRecord(
                sourced_id=sid,
                org=uai,
                title=code,
                class_type=class_type,
                session=self.sessions.get(uai, ""),
                line=line,
                file=file,
            )
            self.classes[sid] = cls
        elif cls.class_type != class_type:
            self.warn(
                f"{file}:{line}: « {code} » est à la fois une division et un groupe : "
                f"gardé comme {'division' if cls.class_type == 'homeroom' else 'groupe'}"
            )
        if cls.class_type == "homeroom":
            self.with_division.add(pupil.sourced_id)
        self.roster.enrollments.append(
            EnrollmentRecord(
                person=pupil.sourced_id,
                school_class=sid,
                role=Role.STUDENT,
                active=pupil.active,
                line=line,
                file=file,
            )
        )

    def pupil(
        self,
        *,
        uai: str,
        local_id: str,
        national_id: str,
        family: str,
        usage: str,
        given: str,
        birth: str,
        leave: str,
        email: str = "",
        file: str,
        line: int,
    ) -> PersonRecord | None:
        if not local_id:
            self.reject(file, line, "person", "identifiant de l'élève vide")
            return None
        sid = f"{uai}${local_id}"
        if sid in self.pupils:
            self.reject(file, line, "person", f"élève « {local_id} » en double")
            return None
        family_name = usage or family
        if not family_name or not given:
            self.reject(
                file,
                line,
                "person",
                f"élève « {local_id} » sans nom ou sans prénom",
                sid,
            )
            return None
        birth_date = _french_date(birth) if birth else None
        if birth and birth_date is None:
            self.warn(
                f"{file}:{line}: date de naissance « {birth} » illisible, ignorée"
            )
        active = True
        if leave:
            left = _french_date(leave)
            if left is None:
                self.warn(
                    f"{file}:{line}: date de sortie « {leave} » illisible, ignorée"
                )
            elif left < self.today:
                active = False
        record = PersonRecord(
            sourced_id=sid,
            role=Role.STUDENT,
            given_name=given,
            family_name=family_name,
            email=email,
            national_id=national_id,
            birth_date=birth_date,
            active=active,
            line=line,
            file=file,
        )
        self.pupils[sid] = record
        self.roster.people.append(record)
        return record

    # --- BEE_ELEVES -------------------------------------------------------------------

    def read_pupils_xml(self, path: Path) -> None:
        file = path.name
        uai = ""
        for element in iter_elements(
            path,
            ("PARAMETRES", "ELEVE", "STRUCTURES_ELEVE"),
            name=file,
            progress=self.tick,
        ):
            line = element.sourceline or 0
            if element.tag == "PARAMETRES":
                uai = _text(element, "UAJ").upper()
                if not uai or len(uai) > 8:
                    raise UnreadableFile(
                        f"{file} : PARAMETRES/UAJ absent ou invalide « {uai} »"
                    )
                self.org(uai, file, line)
                self.school_year(uai, _text(element, "ANNEE_SCOLAIRE"), file, line)
                continue
            if not uai:
                raise UnreadableFile(
                    f"{file} : PARAMETRES/UAJ manquant avant les élèves"
                )
            local_id = (element.get("ELEVE_ID") or _text(element, "ELEVE_ID")).strip()
            if element.tag == "ELEVE":
                values = _children(element)
                get = values.get
                self.pupil(
                    uai=uai,
                    local_id=local_id,
                    national_id=get("ID_NATIONAL", "").upper(),
                    family=get("NOM_DE_FAMILLE") or get("NOM", ""),
                    usage=get("NOM_USAGE", ""),
                    given=get("PRENOM", ""),
                    birth=get("DATE_NAISS", ""),
                    leave=get("DATE_SORTIE", ""),
                    file=file,
                    line=line,
                )
                continue
            pupil = self.pupils.get(f"{uai}${local_id}")
            if pupil is None:
                self.reject(
                    file,
                    line,
                    "enrollment",
                    f"structures d'un élève inconnu « {local_id} »",
                )
                continue
            for structure in element.iterfind("STRUCTURE"):
                values = _children(structure)
                code = values.get("CODE_STRUCTURE", "")
                kind = values.get("TYPE_STRUCTURE", "").upper()
                if not code or kind not in ("D", "G"):
                    self.reject(
                        file,
                        structure.sourceline or line,
                        "enrollment",
                        f"structure « {code} » de type « {kind} » (D ou G attendu)",
                    )
                    continue
                self.enroll(
                    uai, pupil, code, kind == "D", file, structure.sourceline or line
                )
        if not uai:
            raise UnreadableFile(
                f"{file} : pas de PARAMETRES/UAJ (export SIECLE incomplet ?)"
            )
        self.done += path.stat().st_size
        self.tick(0)

    # --- CSV ---------------------------------------------------------------------------

    def read_pupils_csv(self, path: Path) -> None:
        file = path.name
        src = open_text(lambda: path.open("rb"), file)
        try:
            first = src.text.readline()
            delimiter = max(";,\t", key=first.count)
            reader = csv.reader(itertools.chain([first], src.text), delimiter=delimiter)
            header = next(reader, None) or []
            cols = map_columns(
                header,
                CSV_COLUMNS,
                file=file,
                warnings=self.roster.warnings,
                report_renamed=False,
            )
            if not (
                "family_name" in cols
                and "given_name" in cols
                and ("student_id" in cols or "national_id" in cols)
            ):
                raise UnreadableFile(
                    f"{file} : en-têtes non reconnus (il faut au moins « Identifiant "
                    "unique » ou « INE », « Nom de famille » et « Prénom » ; fichier lu "
                    f"en {src.encoding})"
                )
            id_column = "student_id" if "student_id" in cols else "national_id"
            file_uai = self.csv_uai(path, cols)
            for n, row in enumerate(reader, 1):
                if not any(v.strip() for v in row):
                    continue
                line = reader.line_num
                uai = cols.get(row, "uai").upper() or file_uai
                if not uai:
                    raise UnreadableFile(
                        f"{file} : l'établissement n'est pas connu. Mettez son UAI dans le "
                        "nom du fichier (0350001A_eleves.csv), dans une colonne « UAI », ou "
                        "importez-le avec l'export XML des élèves"
                    )
                if len(uai) > 8:
                    self.reject(file, line, "person", f"UAI « {uai} » invalide")
                    continue
                self.org(uai, file, line)
                local_id = cols.get(row, id_column).upper()
                national = cols.get(row, "national_id").upper()
                if not national and INE_RE.match(local_id):
                    national = local_id
                pupil = self.pupil(
                    uai=uai,
                    local_id=local_id,
                    national_id=national,
                    family=cols.get(row, "family_name"),
                    usage=cols.get(row, "usage_name"),
                    given=cols.get(row, "given_name"),
                    birth=cols.get(row, "birth_date"),
                    leave=cols.get(row, "leave_date"),
                    email=cols.get(row, "email"),
                    file=file,
                    line=line,
                )
                if pupil is None:
                    continue
                if division := cols.get(row, "division"):
                    self.enroll(uai, pupil, division, True, file, line)
                for group in re.split(r"[,|]", cols.get(row, "groups")):
                    if group.strip():
                        self.enroll(uai, pupil, group.strip(), False, file, line)
                if n % PROGRESS_EVERY == 0:
                    self.tick(src.raw.tell())
        except csv.Error as exc:
            raise UnreadableFile(f"{file} : CSV illisible ({exc})") from exc
        finally:
            src.close()
        self.done += path.stat().st_size
        self.tick(0)

    def csv_uai(self, path: Path, cols) -> str:
        if match := UAI_IN_NAME.search(path.stem):
            return match.group(1).upper()
        if len(self.orgs) == 1 and "uai" not in cols:
            return next(iter(self.orgs))
        return ""

    # --- BEE_RESPONSABLES ---------------------------------------------------------------

    def read_guardians_xml(self, path: Path) -> None:
        file = path.name
        uai = ""
        people: dict[str, tuple[str, str, str, int]] = {}
        links: list[tuple[str, str, str, str, int]] = []
        for element in iter_elements(
            path,
            ("PARAMETRES", "PERSONNE", "RESPONSABLE_ELEVE"),
            name=file,
            progress=self.tick,
        ):
            line = element.sourceline or 0
            if element.tag == "PARAMETRES":
                uai = _text(element, "UAJ").upper()
                if uai not in self.orgs:
                    raise UnreadableFile(
                        f"{file} : responsables de l'établissement « {uai} » sans l'export "
                        "de ses élèves (ElevesSansAdresses ou ElevesAvecAdresses) : "
                        "importez les deux ensemble"
                    )
            elif element.tag == "PERSONNE":
                pid = (
                    element.get("PERSONNE_ID") or _text(element, "PERSONNE_ID")
                ).strip()
                if not pid:
                    self.reject(file, line, "person", "PERSONNE_ID vide")
                    continue
                values = _children(element)
                people[pid] = (
                    values.get("NOM_DE_FAMILLE") or values.get("NOM", ""),
                    values.get("PRENOM", ""),
                    values.get("COURRIEL") or values.get("MEL", ""),
                    line,
                )
            else:
                values = _children(element)
                legal = values.get("RESP_LEGAL", "")
                if not legal and values.get("NIVEAU_RESPONSABILITE") == "1":
                    legal = "1"
                links.append(
                    (
                        values.get("ELEVE_ID", ""),
                        values.get("PERSONNE_ID", ""),
                        legal,
                        values.get("CODE_PARENTE", ""),
                        line,
                    )
                )
        if not uai:
            raise UnreadableFile(
                f"{file} : pas de PARAMETRES/UAJ (export SIECLE incomplet ?)"
            )
        guardians: dict[str, PersonRecord] = {}
        contacts = 0
        for eleve_id, pid, legal, code, line in links:
            if legal not in ("1", "2"):
                contacts += 1
                continue
            pupil = self.pupils.get(f"{uai}${eleve_id}")
            if pupil is None:
                self.reject(
                    file,
                    line,
                    "guardian_link",
                    f"élève « {eleve_id} » absent de l'export élèves",
                )
                continue
            person = people.get(pid)
            if person is None:
                self.reject(
                    file,
                    line,
                    "guardian_link",
                    f"responsable « {pid} » absent de PERSONNES",
                )
                continue
            family, given, email, person_line = person
            sid = f"{uai}$P{pid}"
            if sid not in guardians:
                if not family or not given:
                    self.reject(
                        file,
                        person_line,
                        "person",
                        f"responsable « {pid} » sans nom ou sans prénom",
                    )
                    people.pop(pid)
                    continue
                guardians[sid] = PersonRecord(
                    sourced_id=sid,
                    role=Role.GUARDIAN,
                    given_name=given,
                    family_name=family,
                    email=email,
                    line=person_line,
                    file=file,
                )
                self.roster.people.append(guardians[sid])
            self.roster.guardian_links.append(
                GuardianLinkRecord(
                    guardian=sid,
                    student=pupil.sourced_id,
                    relationship=RELATIONSHIPS.get(code, ""),
                    active=pupil.active,
                    line=line,
                    file=file,
                )
            )
        if contacts:
            self.warn(
                f"{file} : {contacts} contact(s) sans responsabilité légale : ni lien ni compte"
            )
        self.done += path.stat().st_size
        self.tick(0)
