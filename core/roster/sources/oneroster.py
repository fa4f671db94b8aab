"""OneRoster 1.1 and 1.2 CSV sets (bulk or delta), as loose files or a zip.

The manifest decides: ``oneroster.version`` (1.1 or 1.2) and, per file,
``file.<name>`` = ``bulk``, ``delta`` or ``absent``. A set whose files are all
``bulk`` is a :attr:`Mode.COMPLETE` roster, all ``delta`` a
:attr:`Mode.DELTA` one; a mix is refused (the two say different things about
what a file leaves out). A file the manifest announces but the set lacks is
refused; a file present but not announced is ignored with a warning.

What real exporters do, and what this parser does about it:

- header typos and case (``sourcedid``, ``SourcedId ``, ``famillyName``):
  matched with :func:`~core.roster.sources.textfiles.map_columns` (difflib,
  ratio >= 0.85), each renaming reported as a warning; ``metadata.*``
  extension columns and empty columns ignored;
- file names whose case differs from the manifest (``Users.csv``);
- ``status`` ``tobedeleted`` (and 1.0's ``inactive``) → ``active=False``;
  an enrollment whose ``endDate`` is past → ``active=False``;
- ``agentSourcedIds`` naming a user the file does not hold → a rejection
  of that link alone (in a delta, a guardian's link to a pupil the file
  does not hold is passed on: the pupil may be in the hub already);
- CRLF, no newline at the end, quoted multi-values (``"a,b"``).

Roles: 1.1 has a ``role`` column in users.csv; 1.2 has roles.csv (the
``primary`` role wins; the orgs of all roles are the user's orgs). OneRoster
roles map onto the hub's four: student; teacher and aide (a teaching
assistant is enrolled in classes as a teacher is) → teacher; parent,
guardian, relative → guardian, linked to the students its
``agentSourcedIds`` (or theirs) name; administrator, proctor, principal,
counselor, district/site/system administrator → administrator.

Orgs: every org a class, course or staff member hangs on is kept, whatever
its type (the Catalyst set puts its classes in a ``department``); another
non-school org (a district) is skipped with a warning. ``Org.uai`` (8
characters at most, unique): the ``identifier`` when it is a UAI
(``0350001A``) or otherwise at most 8 characters; else the ``sourcedId``
when it is that short; else ``OR`` + the first 6 hex digits of its SHA-1
(stable from one import to the next, unlike a truncation that makes
``org-sch-222-456`` and ``org-sch-222-3456`` collide). Each such stand-in is
reported as a warning. Academic sessions have no org in OneRoster: a
session belongs to the org of the classes that use it (copied, as
``<sourcedId>@<org>``, for each further org), or to the only org of the
file; gradingPeriod and semester become ``term``.
"""

import csv
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo

from core.roster.records import (
    ClassRecord,
    CourseRecord,
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
from core.roster.sources.textfiles import (
    Columns,
    Opener,
    SafeZip,
    known_names,
    map_columns,
    normalise_header,
    open_text,
    sniff_text,
)

# The files of both versions, as the spec spells them.
SPEC_FILES = (
    "manifest",
    "academicSessions",
    "categories",
    "classes",
    "classResources",
    "courses",
    "courseResources",
    "demographics",
    "enrollments",
    "lineItems",
    "lineItemLearningObjectiveIds",
    "lineItemScoreScales",
    "orgs",
    "resources",
    "results",
    "resultLearningObjectiveIds",
    "resultScoreScales",
    "roles",
    "scoreScales",
    "userProfiles",
    "userResources",
    "users",
)
CANONICAL = {name.lower(): name for name in SPEC_FILES}
# What the hub imports, in the order that lets each file check its references.
IMPORTED = (
    "orgs",
    "academicSessions",
    "courses",
    "classes",
    "roles",
    "users",
    "demographics",
    "enrollments",
)

_COMMON = ("sourcedId", "status", "dateLastModified")
COLUMNS = {
    "orgs": (*_COMMON, "name", "type", "identifier", "parentSourcedId"),
    "academicSessions": (
        *_COMMON,
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ),
    "courses": (
        *_COMMON,
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ),
    "classes": (
        *_COMMON,
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ),
    "users": (
        *_COMMON,
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
        "userMasterIdentifier",
        "preferredGivenName",
        "preferredMiddleName",
        "preferredFamilyName",
        "primaryOrgSourcedId",
        "pronouns",
    ),
    "roles": (
        *_COMMON,
        "userSourcedId",
        "roleType",
        "role",
        "beginDate",
        "endDate",
        "orgSourcedId",
        "userProfileSourcedId",
    ),
    "demographics": (
        *_COMMON,
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    ),
    "enrollments": (
        *_COMMON,
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ),
}
REQUIRED = {
    "orgs": ("sourcedId", "name"),
    "academicSessions": ("sourcedId", "type", "startDate", "endDate"),
    "courses": ("sourcedId", "title", "orgSourcedId"),
    "classes": ("sourcedId", "title", "schoolSourcedId"),
    "users": ("sourcedId", "givenName", "familyName"),
    "roles": ("userSourcedId", "role", "orgSourcedId"),
    "demographics": ("sourcedId", "birthDate"),
    "enrollments": ("classSourcedId", "userSourcedId", "role"),
}
KNOWN = {kind: known_names(*cols) for kind, cols in COLUMNS.items()}

ROLES = {
    "student": Role.STUDENT,
    "teacher": Role.TEACHER,
    "aide": Role.TEACHER,
    "parent": Role.GUARDIAN,
    "guardian": Role.GUARDIAN,
    "relative": Role.GUARDIAN,
    "administrator": Role.ADMINISTRATOR,
    "proctor": Role.ADMINISTRATOR,
    "principal": Role.ADMINISTRATOR,
    "counselor": Role.ADMINISTRATOR,
    "districtadministrator": Role.ADMINISTRATOR,
    "siteadministrator": Role.ADMINISTRATOR,
    "systemadministrator": Role.ADMINISTRATOR,
}
ENROLLMENT_ROLES = {
    "student": Role.STUDENT,
    "teacher": Role.TEACHER,
    "aide": Role.TEACHER,
}
SESSION_TYPES = {
    "schoolyear": "schoolYear",
    "term": "term",
    "semester": "term",
    "gradingperiod": "term",
}
INACTIVE = {"tobedeleted", "inactive", "deleted"}
UAI_RE = re.compile(r"^\d{7}[A-Z]$")
PROGRESS_EVERY = 2000


def recognises(name: str, head: bytes) -> bool:
    """A OneRoster zip, or one of the set's CSV files (by name and header)."""
    base = Path(name).name.lower()
    if base.endswith(".zip"):
        if not head.startswith(b"PK\x03\x04"):
            return False
        low = head.lower()
        return any(
            f"{n}.csv".encode() in low for n in ("manifest", *map(str.lower, IMPORTED))
        )
    if not base.endswith(".csv") or base[:-4] not in CANONICAL:
        return False
    text = sniff_text(head)
    first = next(iter(text.splitlines()), "")
    cells = [normalise_header(c) for c in next(csv.reader([first]), [])]
    if base == "manifest.csv":
        return bool(cells) and cells[0] == "propertyname"
    return "sourcedid" in cells or "usersourcedid" in cells


def parse(
    paths: list[Path],
    *,
    progress: Callable[[int], None] | None = None,
    today: dt.date | None = None,
) -> Roster:
    """Read one OneRoster set: a zip, or loose CSV files including manifest.csv.

    ``today`` (default: today in Paris) decides which ``endDate`` s are past.
    """
    today = today or dt.datetime.now(ZoneInfo("Europe/Paris")).date()
    files, total, archive = _collect([Path(p) for p in paths])
    try:
        return _Parser(files, total, today, progress).run()
    finally:
        if archive is not None:
            archive.close()


@dataclass
class _File:
    display: str  # the name rejections and warnings give
    opener: Opener
    size: int  # bytes it stands for in the progress total
    unpacked: int  # bytes read from it (larger than size when zipped)


def _collect(paths: list[Path]) -> tuple[dict[str, _File], int, SafeZip | None]:
    zips = [p for p in paths if p.suffix.lower() == ".zip"]
    if zips:
        if len(paths) != 1:
            raise UnreadableFile(
                "OneRoster : une seule archive zip à la fois, sans fichier à côté "
                f"({', '.join(p.name for p in paths)})"
            )
        archive = SafeZip(zips[0])
        size = zips[0].stat().st_size
        members = archive.members
        declared = sum(i.compress_size for i in members.values()) or 1
        files = {
            name: _File(
                f"{archive.name}/{info.filename}",
                archive.opener(info),
                size * info.compress_size // declared,
                info.file_size,
            )
            for name, info in members.items()
        }
        return files, size, archive
    files = {}
    for path in paths:
        key = path.name.lower()
        if key in files:
            raise UnreadableFile(f"OneRoster : deux fichiers nommés « {path.name} »")
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise UnreadableFile(f"{path.name} : fichier illisible ({exc})") from exc
        files[key] = _File(path.name, _opener(path), size, size)
    return files, sum(f.size for f in files.values()), None


def _opener(path: Path) -> Opener:
    return lambda: path.open("rb")


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _short_code(sourced_id: str) -> str:
    return "OR" + hashlib.sha1(sourced_id.encode()).hexdigest()[:6].upper()


class _Parser:
    def __init__(self, files, total, today, progress):
        self.files: dict[str, _File] = files
        self.total = total
        self.today = today
        self.progress = progress
        self.done = 0  # bytes of the files already read
        self.roster = Roster(source=Source.ONEROSTER, mode=Mode.COMPLETE)
        self.version = "1.1"
        self.orgs: dict[str, OrgRecord] = {}
        self.org_types: dict[str, str] = {}
        self.identifiers: dict[str, str] = {}
        self.uais: set[str] = set()
        self.sessions: dict[str, SessionRecord] = {}
        self.courses: set[str] = set()
        self.classes: dict[str, ClassRecord] = {}
        self.roles: dict[
            str, list[tuple[str, str, int]]
        ] = {}  # user → (role, org, primary)
        self.people: dict[str, PersonRecord] = {}
        self.raw_roles: dict[str, str] = {}
        self.agents: list[tuple[str, str, str, int]] = []  # from, to, file, line
        self.course_misses = 0
        self.session_misses = 0
        self.org_misses = 0

    # --- helpers ----------------------------------------------------------------

    @property
    def delta(self) -> bool:
        return self.roster.mode == Mode.DELTA

    def reject(
        self, file: str, line: int, kind: str, reason: str, sourced_id: str = ""
    ) -> None:
        self.roster.rejections.append(Rejection(file, line, kind, reason, sourced_id))

    def warn(self, text: str) -> None:
        self.roster.warnings.append(text)

    def _active(self, cols: Columns, row: list[str]) -> bool:
        return cols.get(row, "status").lower() not in INACTIVE

    def rows(self, kind: str, file: _File) -> Iterator[tuple[int, list[str], Columns]]:
        src = open_text(file.opener, file.display)
        try:
            reader = csv.reader(src.text)
            try:
                header = next(reader, None)
                if header is None:
                    self.warn(f"{file.display} : fichier vide")
                    return
                cols = map_columns(
                    header,
                    KNOWN[kind],
                    file=file.display,
                    warnings=self.roster.warnings,
                    ignore=lambda raw: raw.lower().startswith("metadata."),
                )
                required = list(REQUIRED[kind])
                if (
                    kind == "users"
                    and self.version == "1.1"
                    and "roles.csv" not in self.files
                ):
                    required.append("role")
                missing = [c for c in required if c not in cols]
                if missing:
                    raise UnreadableFile(
                        f"{file.display} : colonne(s) obligatoire(s) absente(s) : "
                        + ", ".join(missing)
                    )
                for n, row in enumerate(reader, 1):
                    if not any(v.strip() for v in row):
                        continue
                    yield reader.line_num, row, cols
                    if self.progress and n % PROGRESS_EVERY == 0:
                        read = src.raw.tell() * file.size // max(file.unpacked, 1)
                        self.progress(self.done + min(read, file.size))
            except csv.Error as exc:
                raise UnreadableFile(
                    f"{file.display} : CSV illisible ligne {reader.line_num} ({exc})"
                ) from exc
            except UnicodeDecodeError as exc:
                raise UnreadableFile(
                    f"{file.display} : encodage illisible ({exc})"
                ) from exc
        finally:
            src.close()
            self.done += file.size
            if self.progress:
                self.progress(self.done)

    # --- the run ------------------------------------------------------------------

    def run(self) -> Roster:
        manifest = self.files.get("manifest.csv")
        if manifest is None:
            raise UnreadableFile(
                "OneRoster : manifest.csv manquant (il dit la version et, pour chaque "
                "fichier, bulk, delta ou absent)"
            )
        modes = self.read_manifest(manifest)
        for kind in IMPORTED:
            if kind in modes:
                getattr(self, f"read_{kind}")(self.files[f"{kind.lower()}.csv"])
        self.link_guardians()
        self.place_sessions()
        self.keep_orgs()
        if self.course_misses:
            self.warn(
                f"{self.course_misses} classe(s) renvoient à un cours absent du fichier : "
                "importées sans cours"
            )
        if self.session_misses:
            self.warn(
                f"{self.session_misses} classe(s) renvoient à des sessions absentes du "
                "fichier : rattachées à l'année scolaire en cours"
            )
        if self.org_misses:
            self.warn(
                f"{self.org_misses} rattachement(s) de personnel à un établissement absent "
                "du fichier ignoré(s)"
            )
        if self.progress:
            self.progress(self.total)
        return self.roster

    def read_manifest(self, file: _File) -> dict[str, str]:
        props: dict[str, str] = {}
        src = open_text(file.opener, file.display)
        try:
            for row in csv.reader(src.text):
                if len(row) >= 2 and row[0].strip():
                    props[row[0].strip().lstrip("\ufeff").lower()] = row[1].strip()
        except csv.Error as exc:
            raise UnreadableFile(f"{file.display} : CSV illisible ({exc})") from exc
        finally:
            src.close()
        self.done += file.size
        version = props.get("oneroster.version", "")
        if version in ("1.1", "1.2"):
            self.version = version
        elif not version:
            self.version = "1.2" if "file.roles" in props else "1.1"
            self.warn(
                f"{file.display} : oneroster.version absente, lu comme {self.version}"
            )
        else:
            raise UnreadableFile(
                f"{file.display} : version OneRoster « {version} » non prise en charge "
                "(1.1 ou 1.2)"
            )
        modes: dict[str, str] = {}
        for key, value in props.items():
            if not key.startswith("file."):
                continue
            name, mode = key[5:], value.lower()
            if mode not in ("bulk", "delta", "absent"):
                raise UnreadableFile(
                    f"{file.display} : {key} vaut « {value} » (bulk, delta ou absent attendu)"
                )
            if mode == "absent":
                continue
            if f"{name}.csv" not in self.files:
                raise UnreadableFile(
                    f"{file.display} : le manifeste annonce {CANONICAL.get(name, name)}.csv "
                    f"({mode}) mais il manque"
                )
            modes[CANONICAL.get(name, name)] = mode
        if not modes:
            raise UnreadableFile(
                f"{file.display} : le manifeste n'annonce aucun fichier"
            )
        kinds = set(modes.values())
        if kinds == {"bulk", "delta"}:
            raise UnreadableFile(
                f"{file.display} : fichiers bulk et delta mélangés : importez un "
                "ensemble complet (bulk) ou un ensemble de changements (delta)"
            )
        self.roster.mode = Mode.DELTA if kinds == {"delta"} else Mode.COMPLETE
        # A bulk enrollments.csv is the whole truth for every class
        # membership, a bulk users.csv for the guardian links its
        # agentSourcedIds carry; a file the manifest marks absent says nothing.
        self.roster.complete_for = frozenset(
            ({"enrollment:student", "enrollment:teacher"})
            if modes.get("enrollments") == "bulk"
            else set()
        ) | ({"guardian_link"} if modes.get("users") == "bulk" else frozenset())
        for key, f in self.files.items():
            stem = key.removesuffix(".csv")
            kind = CANONICAL.get(stem, stem)
            if key == "manifest.csv":
                continue
            if kind not in modes:
                self.warn(f"{f.display} : absent du manifeste, ignoré")
                self.done += f.size
            elif kind not in IMPORTED:
                self.warn(f"{f.display} : non importé (le hub n'en a pas l'usage)")
                self.done += f.size
        return modes

    # --- files ------------------------------------------------------------------

    def read_orgs(self, file: _File) -> None:
        for line, row, cols in self.rows("orgs", file):
            sid = cols.get(row, "sourcedId")
            if not sid:
                self.reject(file.display, line, "org", "sourcedId vide")
                continue
            if sid in self.orgs:
                self.reject(file.display, line, "org", f"sourcedId « {sid} » en double")
                continue
            org = OrgRecord(
                sourced_id=sid,
                name=cols.get(row, "name"),
                uai="",  # given by keep_orgs, to the orgs kept
                active=self._active(cols, row),
                line=line,
                file=file.display,
            )
            self.orgs[sid] = org
            self.identifiers[sid] = cols.get(row, "identifier")
            self.org_types[sid] = cols.get(row, "type").lower()

    def uai_for(self, sid: str, identifier: str, file: str, line: int) -> str | None:
        if UAI_RE.match(identifier.upper()):
            uai = identifier.upper()
        else:
            candidates = [c for c in (identifier, sid) if c and len(c) <= 8]
            uai = candidates[0] if candidates else _short_code(sid)
            if uai in self.uais:
                uai = _short_code(sid)
            self.warn(
                f"{file}:{line}: l'établissement « {sid} » n'a pas d'UAI "
                f"(identifier « {identifier} ») : code « {uai} » utilisé à la place"
            )
        if uai in self.uais:
            self.reject(
                file, line, "org", f"UAI « {uai} » déjà pris par un autre établissement"
            )
            return None
        self.uais.add(uai)
        return uai

    def read_academicSessions(self, file: _File) -> None:  # noqa: N802 (spec name)
        for line, row, cols in self.rows("academicSessions", file):
            sid = cols.get(row, "sourcedId")
            if not sid:
                self.reject(file.display, line, "session", "sourcedId vide")
                continue
            if sid in self.sessions:
                self.reject(
                    file.display, line, "session", f"sourcedId « {sid} » en double"
                )
                continue
            raw_type = cols.get(row, "type")
            kind = SESSION_TYPES.get(raw_type.lower())
            if kind is None:
                self.reject(
                    file.display, line, "session", f"type « {raw_type} » inconnu"
                )
                continue
            start, end = (
                _date(cols.get(row, "startDate")),
                _date(cols.get(row, "endDate")),
            )
            if start is None or end is None:
                self.reject(
                    file.display,
                    line,
                    "session",
                    "startDate ou endDate absente ou invalide",
                )
                continue
            if end < start:
                self.reject(file.display, line, "session", "endDate avant startDate")
                continue
            self.sessions[sid] = SessionRecord(
                sourced_id=sid,
                org="",
                title=cols.get(row, "title") or sid,
                type=kind,
                start_date=start,
                end_date=end,
                active=self._active(cols, row),
                line=line,
                file=file.display,
            )

    def read_courses(self, file: _File) -> None:
        for line, row, cols in self.rows("courses", file):
            sid, org = cols.get(row, "sourcedId"), cols.get(row, "orgSourcedId")
            if not sid or not org:
                self.reject(
                    file.display, line, "course", "sourcedId ou orgSourcedId vide"
                )
                continue
            if sid in self.courses:
                self.reject(
                    file.display, line, "course", f"sourcedId « {sid} » en double"
                )
                continue
            if org not in self.orgs and not self.delta:
                self.reject(
                    file.display,
                    line,
                    "course",
                    f"établissement « {org} » absent de orgs.csv",
                )
                continue
            self.courses.add(sid)
            self.roster.courses.append(
                CourseRecord(
                    sourced_id=sid,
                    org=org,
                    title=cols.get(row, "title") or sid,
                    code=cols.get(row, "courseCode"),
                    active=self._active(cols, row),
                    line=line,
                    file=file.display,
                )
            )

    def read_classes(self, file: _File) -> None:
        for line, row, cols in self.rows("classes", file):
            sid, org = cols.get(row, "sourcedId"), cols.get(row, "schoolSourcedId")
            title = cols.get(row, "title")
            if not sid or not org or not title:
                self.reject(
                    file.display,
                    line,
                    "class",
                    "sourcedId, title ou schoolSourcedId vide",
                )
                continue
            if sid in self.classes:
                self.reject(
                    file.display, line, "class", f"sourcedId « {sid} » en double"
                )
                continue
            if org not in self.orgs and not self.delta:
                self.reject(
                    file.display,
                    line,
                    "class",
                    f"établissement « {org} » absent de orgs.csv",
                )
                continue
            raw_type = cols.get(row, "classType").lower()
            if raw_type not in ("homeroom", "scheduled"):
                self.warn(
                    f"{file.display}:{line}: classType « {raw_type} » inconnu, lu comme "
                    "scheduled"
                )
                raw_type = "scheduled"
            course = cols.get(row, "courseSourcedId")
            if course and course not in self.courses and not self.delta:
                self.course_misses += 1
                course = ""
            terms = _split(cols.get(row, "termSourcedIds"))
            session = next((t for t in terms if t in self.sessions), "")
            if not session and terms:
                if self.delta:
                    session = terms[0]  # in the hub already, perhaps
                else:
                    self.session_misses += 1
            record = ClassRecord(
                sourced_id=sid,
                org=org,
                title=title,
                class_type=raw_type,
                session=session,
                course=course,
                active=self._active(cols, row),
                line=line,
                file=file.display,
            )
            self.classes[sid] = record
            self.roster.classes.append(record)

    def read_roles(self, file: _File) -> None:
        for line, row, cols in self.rows("roles", file):
            user, raw, org = (
                cols.get(row, "userSourcedId"),
                cols.get(row, "role"),
                cols.get(row, "orgSourcedId"),
            )
            if not user or raw.lower() not in ROLES:
                self.reject(
                    file.display,
                    line,
                    "role",
                    f"rôle « {raw} » inconnu ou userSourcedId vide",
                )
                continue
            end = _date(cols.get(row, "endDate"))
            if not self._active(cols, row) or (end is not None and end < self.today):
                continue  # an ended role gives neither a role nor an org
            primary = cols.get(row, "roleType").lower() == "primary"
            self.roles.setdefault(user, []).append((raw.lower(), org, primary))

    def read_users(self, file: _File) -> None:
        for line, row, cols in self.rows("users", file):
            sid = cols.get(row, "sourcedId")
            if not sid:
                self.reject(file.display, line, "person", "sourcedId vide")
                continue
            if sid in self.people:
                self.reject(
                    file.display, line, "person", f"sourcedId « {sid} » en double"
                )
                continue
            given, family = cols.get(row, "givenName"), cols.get(row, "familyName")
            if not given and not family:
                self.reject(
                    file.display, line, "person", "givenName et familyName vides", sid
                )
                continue
            raw_role, orgs = self.role_of(sid, cols, row)
            role = ROLES.get(raw_role)
            if role is None:
                reason = (
                    f"rôle « {raw_role} » non pris en charge"
                    if raw_role
                    else "aucun rôle (ni colonne role, ni roles.csv)"
                )
                self.reject(file.display, line, "person", reason, sid)
                continue
            if role in (Role.STUDENT, Role.GUARDIAN):
                orgs = []  # they belong through their classes or their children
            elif not self.delta:
                kept = [o for o in orgs if o in self.orgs]
                self.org_misses += len(orgs) - len(kept)
                orgs = kept
            enabled = cols.get(row, "enabledUser").lower() not in ("false", "0", "no")
            person = PersonRecord(
                sourced_id=sid,
                role=role,
                given_name=given,
                family_name=family,
                email=cols.get(row, "email"),
                orgs=tuple(dict.fromkeys(orgs)),
                username=cols.get(row, "username"),
                active=self._active(cols, row) and enabled,
                line=line,
                file=file.display,
            )
            self.people[sid] = person
            self.raw_roles[sid] = raw_role
            self.roster.people.append(person)
            for agent in _split(cols.get(row, "agentSourcedIds")):
                self.agents.append((sid, agent, file.display, line))

    def role_of(self, sid: str, cols: Columns, row: list[str]) -> tuple[str, list[str]]:
        """The user's OneRoster role and orgs: roles.csv's (1.2), else the columns."""
        orgs = _split(cols.get(row, "orgSourcedIds"))
        if primary_org := cols.get(row, "primaryOrgSourcedId"):
            orgs.insert(0, primary_org)
        roles = self.roles.get(sid)
        if roles:
            roles = sorted(roles, key=lambda r: not r[2])  # primary first
            return roles[0][0], [*orgs, *(r[1] for r in roles if r[1])]
        return cols.get(row, "role").lower(), orgs

    def read_demographics(self, file: _File) -> None:
        for _line, row, cols in self.rows("demographics", file):
            person = self.people.get(cols.get(row, "sourcedId"))
            birth = _date(cols.get(row, "birthDate"))
            if person is not None and birth is not None:
                person.birth_date = birth

    def read_enrollments(self, file: _File) -> None:
        for line, row, cols in self.rows("enrollments", file):
            user, cls = cols.get(row, "userSourcedId"), cols.get(row, "classSourcedId")
            raw = cols.get(row, "role")
            role = ENROLLMENT_ROLES.get(raw.lower())
            if not user or not cls:
                self.reject(
                    file.display,
                    line,
                    "enrollment",
                    "userSourcedId ou classSourcedId vide",
                )
                continue
            if role is None:
                self.reject(
                    file.display,
                    line,
                    "enrollment",
                    f"rôle d'inscription « {raw} » non pris en charge",
                )
                continue
            school_class = self.classes.get(cls)
            if not self.delta:
                if school_class is None:
                    self.reject(
                        file.display,
                        line,
                        "enrollment",
                        f"classe « {cls} » absente du fichier",
                    )
                    continue
                if user not in self.people:
                    self.reject(
                        file.display,
                        line,
                        "enrollment",
                        f"personne « {user} » absente du fichier",
                    )
                    continue
            end = _date(cols.get(row, "endDate"))
            person = self.people.get(user)
            active = (
                self._active(cols, row)
                and (end is None or end >= self.today)
                and (school_class is None or school_class.active)
                and (person is None or person.active)
            )
            self.roster.enrollments.append(
                EnrollmentRecord(
                    person=user,
                    school_class=cls,
                    role=role,
                    sourced_id=cols.get(row, "sourcedId"),
                    active=active,
                    line=line,
                    file=file.display,
                )
            )

    # --- after the files ----------------------------------------------------------

    def link_guardians(self) -> None:
        """Guardian links from either side's ``agentSourcedIds``."""
        seen: set[tuple[str, str]] = set()
        for frm, to, file, line in self.agents:
            here, there = self.people[frm], self.people.get(to)
            if there is None:
                if self.delta and here.role == Role.GUARDIAN:
                    pair = (frm, to)  # the pupil may be in the hub already
                else:
                    self.reject(
                        file,
                        line,
                        "guardian_link",
                        f"agentSourcedIds : « {to} » absent du fichier, lien ignoré",
                    )
                    continue
            elif here.role == Role.GUARDIAN and there.role == Role.STUDENT:
                pair = (frm, to)
            elif here.role == Role.STUDENT and there.role == Role.GUARDIAN:
                pair = (to, frm)
            else:
                self.warn(
                    f"{file}:{line}: agentSourcedIds relie « {frm} » ({self.raw_roles[frm]}) "
                    f"à « {to} » ({self.raw_roles[to]}) : pas un lien parent-élève, ignoré"
                )
                continue
            if pair in seen:
                continue
            seen.add(pair)
            guardian, student = self.people[pair[0]], self.people.get(pair[1])
            self.roster.guardian_links.append(
                GuardianLinkRecord(
                    guardian=pair[0],
                    student=pair[1],
                    relationship=self.raw_roles[pair[0]],
                    active=guardian.active and (student is None or student.active),
                    line=line,
                    file=file,
                )
            )

    def place_sessions(self) -> None:
        """Give each session the org(s) of the classes that use it."""
        used: dict[str, dict[str, list[ClassRecord]]] = {}
        for cls in self.classes.values():
            if cls.session in self.sessions:
                used.setdefault(cls.session, {}).setdefault(cls.org, []).append(cls)
        for sid, session in self.sessions.items():
            by_org = used.get(sid)
            if not by_org:
                if len(self.orgs) == 1:
                    session.org = next(iter(self.orgs))
                    self.roster.sessions.append(session)
                else:
                    self.warn(
                        f"{session.file}:{session.line}: session « {sid} » : aucune classe "
                        "ne la rattache à un établissement, ignorée"
                    )
                continue
            for n, (org, classes) in enumerate(by_org.items()):
                if n == 0:
                    session.org = org
                    self.roster.sessions.append(session)
                    continue
                copy = replace(session, sourced_id=f"{sid}@{org}", org=org)
                self.roster.sessions.append(copy)
                for cls in classes:
                    cls.session = copy.sourced_id

    def keep_orgs(self) -> None:
        used = {c.org for c in self.classes.values()}
        used.update(c.org for c in self.roster.courses)
        used.update(o for p in self.roster.people for o in p.orgs)
        used.update(s.org for s in self.roster.sessions)
        for sid, org in self.orgs.items():
            kind = self.org_types[sid]
            if kind == "school" or sid in used:
                if kind != "school":
                    self.warn(
                        f"{org.file}:{org.line}: « {org.name} » est de type « {kind} » : "
                        "importé comme établissement (des classes ou du personnel y sont)"
                    )
                uai = self.uai_for(sid, self.identifiers[sid], org.file, org.line)
                if uai is None:
                    continue
                org.uai = uai
                org.name = org.name or uai
                self.roster.orgs.append(org)
            else:
                self.warn(
                    f"{org.file}:{org.line}: « {org.name} » ({kind}) : ni école ni "
                    "rattachement, non importé"
                )
