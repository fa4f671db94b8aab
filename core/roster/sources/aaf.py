"""The AAF feed ("ficAlimMENESR"): the academy's directory export for the ENT.

One import is a set of files of one feed, each named
``<PREFIX>_<Complet|Delta>_<AAAAMMJJ>_<Kind>_<NNNN>.xml`` with Kind among
``EtabEducNat`` (schools), ``Eleve`` (pupils), ``PersRelEleve`` (guardians),
``PersEducNat`` (teachers and staff), ``MatiereEducNat`` (subjects) and
``MefEducNat`` (training levels), large kinds split in parts. Every file is a
list of ``addRequest`` (``Complet`` files), or of ``addRequest``,
``modifyRequest`` and ``deleteRequest`` (``Delta`` files), each naming its
object's category, its identifier and ``attr``/``modification`` elements of
``value`` s; a multi-part value is joined with ``$`` (``52006$4A``: class
``4A`` of structure ``52006``).

The files are read together into one :class:`Roster`, then references are
resolved:

- identifiers: a school is its ``ENTStructureJointure``; a person their
  ``ENTPersonJointure``. Class codes are unique only within a school, so a
  class is ``<structure>$<code>`` and a group ``<structure>$group$<code>``
  (a class and a group may share a code). The structure's AAF identifier,
  not its UAI, prefixes them: delta files name structures by that
  identifier only, and a delta set rarely repeats the schools.
- a pupil's school is ``ENTPersonStructRattach`` (``ENTEleveStructRattachId``
  is the pupil's number in that school's own database, as entcore's feeder
  reads it);
- guardian links come from ``ENTElevePersRelEleve``
  (``id$type$resp_fin$resp_legal$contact$paiement``): only ``resp_legal`` 1
  or 2 makes a link; without that attribute, from the older
  ``ENTEleveAutoriteParentale`` / ``ENTElevePere`` / ``ENTEleveMere``;
- teachers (``ENTPersonCategorieEnseignant``, else presence before pupils,
  else an ``ENS``/``DOC`` function or a National_3/ENS profile) get an
  enrollment in each class and group of ``ENTAuxEnsClasses``,
  ``ENTAuxEnsClassesMatieres``, ``ENTAuxEnsGroupes``,
  ``ENTAuxEnsGroupesMatieres``; other staff are administrators of their
  structures and get none;
- courses: the hub keeps a course per school, and ``MatiereEducNat`` is the
  national nomenclature (700+ subjects): a school gets a course
  (``<structure>$<subject code>``) for each subject taught or followed
  there (teachers' ``...Matieres``, pupils' ``ENTEleveCodeEnseignements``),
  titled from ``MatiereEducNat`` (else the pupil file's label, else the
  code; a delta makes no course it cannot title, the hub has it). Unused
  subjects make no course;
- ``MefEducNat`` has nothing the hub keeps: it is read and counted in a
  warning.

In a ``Complet`` import the files are the whole truth: a reference to what
they do not hold is dangling and rejected (a pupil of a school missing from
``EtabEducNat``, a guardian missing from ``PersRelEleve``), and a guardian
who is no pupil's legal guardian is left out. In a ``Delta`` import a
reference may name what the hub already holds: it is kept for the sync to
resolve. A ``deleteRequest`` gives a record with ``active=False``; a
``modifyRequest`` a record setting only the modified fields
(``PersonRecord.partial``; a staff member's ``role`` and ``orgs`` only
when the attributes deciding them are modified) and the memberships it
restates in full (``Roster.restated``); a modify that would empty a name,
or change a school without giving its UAI, is rejected. In a complete set
an object stated twice (overlapping parts) is rejected the second time. A file name saying neither ``Complet`` nor ``Delta``
is read as a delta, the mode that ends nothing unsaid.
"""

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from sys import intern

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
    Source,
    UnreadableFile,
)
from core.roster.sources import safexml

ROOT = "ficAlimMENESR"
REQUESTS = ("addRequest", "modifyRequest", "deleteRequest")
_NAME = re.compile(r"_(Complet|Delta)_", re.IGNORECASE)
_CATEGORY = re.compile(r"_(Eleve|PersEducNat|PersRelEleve)_\d+\.xml$", re.IGNORECASE)
_UAI = re.compile(r"^\d{7}[A-Z]$")

# ENTElevePersRelEleve relation types. AAF files up to 2013 (``AAF-VE1301``)
# use one digit, 1 and 2 being father and mother (the real Eleve file pairs
# them with ENTElevePere/ENTEleveMere); later ones carry SIECLE's two-digit
# "lien de parenté" codes (10 mother, 20 father, ...). An unknown code gives
# the neutral "responsable légal".
RELATIONSHIPS = {
    "1": "père",
    "2": "mère",
    "3": "tuteur",
    "4": "autre membre de la famille",
    "5": "aide sociale à l'enfance",
    "6": "autre lien",
    "7": "élève lui-même",
    "10": "mère",
    "20": "père",
    "30": "autre membre de la famille",
    "39": "autre membre de la famille",
    "41": "éducateur",
    "42": "assistant familial",
    "50": "tuteur",
    "51": "aide sociale à l'enfance",
    "70": "élève lui-même",
    "90": "autre lien",
}
LEGAL_GUARDIAN = "responsable légal"

# The attributes read; every other one is skipped without building a list.
_WANTED = frozenset(
    {
        # structures
        "ENTStructureJointure",
        "ENTStructureUAI",
        "ENTEtablissementUAI",
        "ENTStructureNomCourant",
        "ENTServAcAcademie",
        # people
        "ENTPersonJointure",
        "sn",
        "givenName",
        "ENTPersonNomPatro",
        "ENTPersonDateNaissance",
        "mail",
        "ENTPersonStructRattach",
        # pupils
        "ENTEleveINE",
        "ENTEleveClasses",
        "ENTEleveGroupes",
        "ENTElevePersRelEleve",
        "ENTElevePere",
        "ENTEleveMere",
        "ENTEleveAutoriteParentale",
        "ENTEleveCodeEnseignements",
        "ENTEleveEnseignements",
        # staff
        "ENTPersonFonctions",
        "ENTPersonProfils",
        "ENTPersonCategorieEnseignant",
        "PersEducNatPresenceDevantEleves",
        "ENTAuxEnsClasses",
        "ENTAuxEnsGroupes",
        "ENTAuxEnsClassesMatieres",
        "ENTAuxEnsGroupesMatieres",
        # subjects
        "ENTMatJointure",
        "ENTLibelleMatiere",
        "ENTMefJointure",
    }
)

# Record field set by each person attribute (for a partial modifyRequest).
_PERSON_FIELDS = {
    "sn": "family_name",
    "givenName": "given_name",
    "mail": "email",
    "ENTEleveINE": "national_id",
    "ENTPersonDateNaissance": "birth_date",
}
_STAFF_ROLE_ATTRS = (
    "ENTPersonCategorieEnseignant",
    "PersEducNatPresenceDevantEleves",
    "ENTPersonFonctions",
    "ENTPersonProfils",
)
_STAFF_ORG_ATTRS = ("ENTPersonStructRattach", "ENTPersonFonctions")
_UNIQUE = frozenset({"EtabEducNat", "Eleve", "PersRelEleve", "PersEducNat"})
_TEACHING_ATTRS = (
    "ENTAuxEnsClasses",
    "ENTAuxEnsClassesMatieres",
    "ENTAuxEnsGroupes",
    "ENTAuxEnsGroupesMatieres",
)
_TEACHER_PROFILES = {"National_3", "National_ENS", "ENS", "Teacher"}


def recognises(name: str, head: bytes) -> bool:
    """Tell whether a file is part of an AAF feed (its root element)."""
    return safexml.root_tag(head) == ROOT


def parse(
    paths: list[Path], *, progress: Callable[[int], None] | None = None
) -> Roster:
    """Read the files of one AAF feed into one roster.

    Raises :class:`UnreadableFile` when a file cannot be read at all, or
    when the names mix complete and delta files.
    """
    reader = _Reader(_mode(paths))
    offset = 0
    for path in paths:
        reader.read(path, offset, progress)
        try:
            offset += path.stat().st_size
        except OSError:
            pass
    roster = reader.finish()
    # What a complete set is the whole truth for: the Eleve files carry the
    # pupils' classes, with the PersRelEleve files their guardian links, the
    # PersEducNat files the teachers' classes (an Eleve-only set must not end
    # a teacher's class, nor a set without its guardians' files every link).
    kinds = reader.seen_kinds | {
        match.group(1) for p in paths if (match := _CATEGORY.search(p.name))
    }
    roster.complete_for = frozenset(
        ({"enrollment:student"} if "Eleve" in kinds else set())
        | ({"guardian_link"} if {"Eleve", "PersRelEleve"} <= kinds else set())
        | ({"enrollment:teacher"} if "PersEducNat" in kinds else set())
    )
    return roster


def _mode(paths: list[Path]) -> Mode:
    modes = set()
    for path in paths:
        match = _NAME.search(path.name)
        modes.add(match.group(1).lower() if match else "")
    if {"complet", "delta"} <= modes:
        raise UnreadableFile(
            "Les fichiers mêlent un export complet (_Complet_) et un delta "
            "(_Delta_) : importez-les séparément."
        )
    return Mode.COMPLETE if modes == {"complet"} else Mode.DELTA


@dataclass(slots=True)
class _Request:
    """One ``addRequest`` / ``modifyRequest`` / ``deleteRequest``."""

    op: str
    category: str
    identifier: str
    attrs: dict[str, list[str]]
    file: str
    line: int


@dataclass(slots=True)
class _Pupil:
    person_id: str
    person: PersonRecord | None  # None: a modify of memberships only
    school: str  # structure id ("" if the request does not say)
    classes: list[str] | None  # "struct$code" values; None: not in the request
    groups: list[str] | None
    relations: list[str] | None  # ENTElevePersRelEleve values
    old_style: tuple[list[str], list[str], list[str]] | None  # autorité, père, mère
    file: str
    line: int


@dataclass(slots=True)
class _Staff:
    person: PersonRecord
    emit: bool  # False: a modify of classes only
    op: str
    classes: list[str] | None  # "struct$code[$subject]"
    groups: list[str] | None
    file: str
    line: int


@dataclass
class _Reader:
    mode: Mode
    roster: Roster = field(init=False)
    orgs: dict[str, OrgRecord] = field(default_factory=dict)
    pupils: list[_Pupil] = field(default_factory=list)
    guardians: dict[str, PersonRecord] = field(default_factory=dict)
    staff: list[_Staff] = field(default_factory=list)
    subjects: dict[str, str] = field(default_factory=dict)
    # (school, subject code) -> (label, file, line) of the first pupil
    followed: dict[tuple[str, str], tuple[str, str, int]] = field(default_factory=dict)
    mef_count: int = 0
    seen_kinds: set[str] = field(default_factory=set)
    # category -> identifier -> where first stated, packed as
    # file index << 32 | line (one int per record, not two tuples)
    first_seen: dict[str, dict[str, int]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    unnamed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.roster = Roster(source=Source.AAF, mode=self.mode)

    # Reading ---------------------------------------------------------------

    def read(
        self, path: Path, offset: int, progress: Callable[[int], None] | None
    ) -> None:
        name = path.name
        self.files.append(name)
        if not _NAME.search(name):
            self.unnamed.append(name)
        report: Callable[[int], None] | None = None
        if progress is not None:

            def report(done: int) -> None:
                progress(offset + done)

        for element in safexml.iter_elements(
            path, REQUESTS, name=name, progress=report
        ):
            request = _request(element, name)
            if request is None:
                self.reject(name, element.sourceline or 0, "record", _no_id(element))
                continue
            self.dispatch(request)

    def dispatch(self, request: _Request) -> None:
        category = request.category
        self.seen_kinds.add(category)
        if request.op == "modifyRequest" and self.mode is Mode.COMPLETE:
            self.reject(
                request.file,
                request.line,
                "record",
                "modifyRequest dans un fichier complet : ignoré",
            )
            return
        if self.mode is Mode.COMPLETE and category in _UNIQUE:
            # A complete set states each object once; a second statement
            # (two parts overlapping) is refused rather than silently merged.
            attrs = request.attrs
            identifier = (
                _first(attrs, "ENTPersonJointure")
                or _first(attrs, "ENTStructureJointure")
                or request.identifier
            )
            seen = self.first_seen.setdefault(category, {})
            first = seen.get(identifier)
            if first is not None:
                where = f"{self.files[first >> 32]}:{first & 0xFFFFFFFF}"
                self.reject(
                    request.file,
                    request.line,
                    "org" if category == "EtabEducNat" else "person",
                    f"{identifier} déjà décrit ({where}) : doublon ignoré",
                )
                return
            seen[identifier] = (len(self.files) - 1) << 32 | request.line
        if category == "EtabEducNat":
            self.structure(request)
        elif category == "Eleve":
            self.pupil(request)
        elif category == "PersRelEleve":
            self.guardian(request)
        elif category == "PersEducNat":
            self.staff_member(request)
        elif category in ("MatEducNat", "MatiereEducNat"):
            code = _first(request.attrs, "ENTMatJointure") or request.identifier
            label = _first(request.attrs, "ENTLibelleMatiere")
            if request.op != "deleteRequest":
                self.subjects[code] = label or self.subjects.get(code, "") or code
        elif category == "MefEducNat":
            self.mef_count += 1
        else:
            self.reject(
                request.file,
                request.line,
                "record",
                f"catégorie « {category or '(vide)'} » inconnue : ignorée",
            )

    def structure(self, request: _Request) -> None:
        attrs = request.attrs
        sourced_id = _first(attrs, "ENTStructureJointure") or request.identifier
        if request.op == "deleteRequest":
            self.orgs[sourced_id] = OrgRecord(
                sourced_id, "", "", active=False, line=request.line, file=request.file
            )
            return
        uai = (
            _first(attrs, "ENTStructureUAI") or _first(attrs, "ENTEtablissementUAI")
        ).upper()
        if not uai and request.op == "modifyRequest":
            self.reject(
                request.file,
                request.line,
                "org",
                f"structure {sourced_id} : modification sans UAI ; ignorée (le "
                "prochain export complet la reprendra)",
            )
            return
        if not _UAI.match(uai):
            self.reject(
                request.file,
                request.line,
                "org",
                f"structure {sourced_id} : UAI « {uai} » invalide ou absent",
            )
            return
        name = _first(attrs, "ENTStructureNomCourant").replace("$", "-")
        academy = _first(attrs, "ENTServAcAcademie").title()
        self.orgs[sourced_id] = OrgRecord(
            sourced_id,
            name,
            uai,
            academy=academy,
            line=request.line,
            file=request.file,
        )

    def person(self, request: _Request, role: Role) -> PersonRecord | None:
        """Build the person of a request (None, after a rejection, if unfit)."""
        attrs = request.attrs
        sourced_id = _first(attrs, "ENTPersonJointure") or request.identifier
        if request.op == "deleteRequest":
            return PersonRecord(
                sourced_id,
                role,
                "",
                "",
                active=False,
                line=request.line,
                file=request.file,
                partial=("active",),
            )
        family_name = _first(attrs, "sn") or _first(attrs, "ENTPersonNomPatro")
        given_name = _first(attrs, "givenName")
        partial: tuple[str, ...] = ()
        if request.op == "modifyRequest":
            partial = tuple(
                sorted(
                    {_PERSON_FIELDS[name] for name in attrs if name in _PERSON_FIELDS}
                )
            )
            family_name = _first(attrs, "sn")
            if ("family_name" in partial and not family_name) or (
                "given_name" in partial and not given_name
            ):
                self.reject(
                    request.file,
                    request.line,
                    "person",
                    f"personne {sourced_id} : la modification vide le nom ou le "
                    "prénom ; ignorée",
                    sourced_id,
                )
                return None
        elif not family_name or not given_name:
            self.reject(
                request.file,
                request.line,
                "person",
                f"personne {sourced_id} : nom ou prénom manquant",
                sourced_id,
            )
            return None
        birth_date = None
        raw_date = _first(attrs, "ENTPersonDateNaissance")
        if raw_date:
            birth_date = _date(raw_date)
            if birth_date is None:
                self.roster.warnings.append(
                    f"{request.file}:{request.line}: date de naissance "
                    f"« {raw_date} » illisible pour {sourced_id} : ignorée"
                )
        return PersonRecord(
            sourced_id,
            role,
            given_name,
            family_name,
            email=_first(attrs, "mail"),
            national_id=_first(attrs, "ENTEleveINE"),
            birth_date=birth_date,
            line=request.line,
            file=request.file,
            partial=partial,
        )

    def pupil(self, request: _Request) -> None:
        attrs = request.attrs
        person = self.person(request, Role.STUDENT)
        if person is None:
            return
        old_style = None
        if any(
            name in attrs
            for name in ("ENTEleveAutoriteParentale", "ENTElevePere", "ENTEleveMere")
        ):
            old_style = (
                attrs.get("ENTEleveAutoriteParentale", []),
                attrs.get("ENTElevePere", []),
                attrs.get("ENTEleveMere", []),
            )
        codes = attrs.get("ENTEleveCodeEnseignements", [])
        labels = attrs.get("ENTEleveEnseignements", [])
        school = intern(_first(attrs, "ENTPersonStructRattach"))
        for index, code in enumerate(codes):
            # Subjects followed in a school: one entry per school and code,
            # not a list per pupil (memory).
            if (school, code) not in self.followed:
                label = labels[index] if index < len(labels) else ""
                self.followed[school, code] = (label, request.file, request.line)
        self.pupils.append(
            _Pupil(
                person_id=person.sourced_id,
                # A modify carrying no person field changes memberships only.
                person=person if _emits(request, person) else None,
                school=school,
                classes=_interned(attrs.get("ENTEleveClasses")),
                groups=_interned(attrs.get("ENTEleveGroupes")),
                relations=attrs.get("ENTElevePersRelEleve"),
                old_style=old_style,
                file=request.file,
                line=request.line,
            )
        )

    def guardian(self, request: _Request) -> None:
        person = self.person(request, Role.GUARDIAN)
        if person is not None and _emits(request, person):
            self.guardians[person.sourced_id] = person

    def staff_member(self, request: _Request) -> None:
        attrs = request.attrs
        person = self.person(request, Role.ADMINISTRATOR)
        if person is None:
            return
        teaching = any(name in attrs for name in _TEACHING_ATTRS)
        if request.op != "deleteRequest":
            if request.op == "modifyRequest" and not any(
                name in attrs for name in _STAFF_ROLE_ATTRS
            ):
                # The role is unsaid (and left alone): one who is given
                # classes teaches them.
                if teaching:
                    person.role = Role.TEACHER
            elif _is_teacher(attrs):
                person.role = Role.TEACHER
            structures = list(attrs.get("ENTPersonStructRattach", []))
            for function in attrs.get("ENTPersonFonctions", []):
                structure = function.split("$", 1)[0]
                if structure and structure not in structures:
                    structures.append(structure)
            person.orgs = tuple(structures)
            if request.op == "modifyRequest":
                extra = []
                if any(name in attrs for name in _STAFF_ROLE_ATTRS):
                    extra.append("role")
                if any(name in attrs for name in _STAFF_ORG_ATTRS):
                    extra.append("orgs")
                person.partial = tuple(sorted({*person.partial, *extra}))
        classes = groups = None
        if any(n in attrs for n in _TEACHING_ATTRS[:2]):
            classes = attrs.get("ENTAuxEnsClasses", []) + attrs.get(
                "ENTAuxEnsClassesMatieres", []
            )
        if any(n in attrs for n in _TEACHING_ATTRS[2:]):
            groups = attrs.get("ENTAuxEnsGroupes", []) + attrs.get(
                "ENTAuxEnsGroupesMatieres", []
            )
        self.staff.append(
            _Staff(
                person,
                _emits(request, person),
                request.op,
                classes,
                groups,
                request.file,
                request.line,
            )
        )

    def reject(
        self, file: str, line: int, kind: str, reason: str, sourced_id: str = ""
    ) -> None:
        self.roster.rejections.append(Rejection(file, line, kind, reason, sourced_id))

    # Resolving -------------------------------------------------------------

    def finish(self) -> Roster:
        roster = self.roster
        complete = self.mode is Mode.COMPLETE
        roster.orgs = list(self.orgs.values())
        known = {sourced_id for sourced_id, org in self.orgs.items() if org.active}
        classes: dict[str, ClassRecord] = {}
        courses: dict[str, CourseRecord] = {}
        linked_guardians: set[str] = set()

        def structure_ok(structure: str) -> bool:
            return structure in known or (not complete and bool(structure))

        def school_class(value: str, scheduled: bool, file: str, line: int) -> str:
            """Return the class id of ``struct$code[...]`` ("" after a rejection)."""
            parts = value.split("$")
            if len(parts) < 2 or not parts[0] or not parts[1]:
                self.reject(
                    file,
                    line,
                    "class",
                    f"{'groupe' if scheduled else 'classe'} « {value} » illisible "
                    "(attendu structure$code)",
                )
                return ""
            structure, code = parts[0], parts[1]
            if not structure_ok(structure):
                self.reject(
                    file,
                    line,
                    "class",
                    f"{'groupe' if scheduled else 'classe'} {code} : structure "
                    f"{structure} absente des fichiers EtabEducNat",
                )
                return ""
            sourced_id = (
                f"{structure}$group${code}" if scheduled else f"{structure}${code}"
            )
            if sourced_id not in classes:
                classes[sourced_id] = ClassRecord(
                    sourced_id,
                    structure,
                    code,
                    class_type="scheduled" if scheduled else "homeroom",
                    line=line,
                    file=file,
                )
            if len(parts) >= 3 and parts[2]:
                course(structure, parts[2], "", file, line)
            return sourced_id

        def course(structure: str, code: str, label: str, file: str, line: int) -> None:
            sourced_id = f"{structure}${code}"
            if sourced_id not in courses:
                title = self.subjects.get(code) or label
                if not title and not complete:
                    # A delta naming a subject it does not describe: the hub
                    # holds its title; the code must not overwrite it.
                    return
                title = title or code
                courses[sourced_id] = CourseRecord(
                    sourced_id, structure, title, code=code, line=line, file=file
                )

        def enroll(
            person_id: str,
            values: list[str] | None,
            scheduled: bool,
            role: Role,
            file: str,
            line: int,
        ) -> None:
            if values is None:
                return
            if not complete:
                kind = "scheduled" if scheduled else "homeroom"
                roster.restated.append((person_id, kind))
            done = set()
            for value in values:
                class_id = school_class(value, scheduled, file, line)
                if class_id and class_id not in done:
                    done.add(class_id)
                    roster.enrollments.append(
                        EnrollmentRecord(
                            person_id, class_id, role, line=line, file=file
                        )
                    )

        # Pupils.
        for pupil in self.pupils:
            person = pupil.person
            person_id = pupil.person_id
            if person is not None and person.active and not person.partial:
                if not pupil.school:
                    self.reject(
                        pupil.file,
                        pupil.line,
                        "person",
                        f"élève {person_id} : structure de rattachement absente "
                        "(ENTPersonStructRattach)",
                        person_id,
                    )
                    continue
                if not structure_ok(pupil.school):
                    self.reject(
                        pupil.file,
                        pupil.line,
                        "person",
                        f"élève {person_id} : structure {pupil.school} absente des "
                        "fichiers EtabEducNat",
                        person_id,
                    )
                    continue
            if person is not None:
                roster.people.append(person)
                if not person.active:
                    continue
            enroll(
                person_id, pupil.classes, False, Role.STUDENT, pupil.file, pupil.line
            )
            enroll(person_id, pupil.groups, True, Role.STUDENT, pupil.file, pupil.line)
            for guardian_id, relationship in self.legal_guardians(pupil, person_id):
                if guardian_id == person_id:
                    continue
                if complete and guardian_id not in self.guardians:
                    self.reject(
                        pupil.file,
                        pupil.line,
                        "guardian_link",
                        f"responsable {guardian_id} de l'élève {person_id} absent "
                        "des fichiers PersRelEleve",
                        person_id,
                    )
                    continue
                linked_guardians.add(guardian_id)
                roster.guardian_links.append(
                    GuardianLinkRecord(
                        guardian_id,
                        person_id,
                        relationship,
                        line=pupil.line,
                        file=pupil.file,
                    )
                )

        for (school, code), (label, file, line) in self.followed.items():
            if school and structure_ok(school):
                course(school, code, label, file, line)

        # Guardians: in a complete import, only those some pupil links to.
        orphans = 0
        for guardian_id, guardian in self.guardians.items():
            if complete and guardian_id not in linked_guardians:
                orphans += 1
            else:
                roster.people.append(guardian)
        if orphans:
            roster.warnings.append(
                f"{orphans} responsable(s) des fichiers PersRelEleve sans lien "
                "légal avec un élève importé : ignoré(s)"
            )

        # Teachers and staff.
        skipped_staff_classes = 0
        for member in self.staff:
            person = member.person
            if member.op == "addRequest" or "orgs" in person.partial:
                kept = tuple(s for s in person.orgs if structure_ok(s))
                if not kept and member.op == "addRequest":
                    self.reject(
                        member.file,
                        member.line,
                        "person",
                        f"personnel {person.sourced_id} : aucune structure "
                        "présente dans les fichiers EtabEducNat",
                        person.sourced_id,
                    )
                    continue
                person.orgs = kept
            if member.emit:
                roster.people.append(person)
            if not person.active:
                continue
            if person.role is not Role.TEACHER:
                if member.classes or member.groups:
                    skipped_staff_classes += 1
                continue
            enroll(
                person.sourced_id,
                member.classes,
                False,
                Role.TEACHER,
                member.file,
                member.line,
            )
            enroll(
                person.sourced_id,
                member.groups,
                True,
                Role.TEACHER,
                member.file,
                member.line,
            )
        if skipped_staff_classes:
            roster.warnings.append(
                f"{skipped_staff_classes} personnel(s) non enseignant(s) avec des "
                "classes : classes ignorées"
            )

        roster.classes = list(classes.values())
        roster.courses = list(courses.values())
        if self.subjects and not courses:
            roster.warnings.append(
                f"{len(self.subjects)} matière(s) lue(s), enseignée(s) dans aucune "
                "structure des fichiers : aucun cours créé"
            )
        if self.mef_count:
            roster.warnings.append(
                f"{self.mef_count} MEF lus (nomenclature des formations, non importée)"
            )
        if self.unnamed:
            roster.warnings.append(
                f"{', '.join(self.unnamed)} : nom sans _Complet_ ni _Delta_, lu "
                "comme un delta (rien n'est clos sans être dit)"
            )
        if complete and "EtabEducNat" not in self.seen_kinds and self.pupils:
            roster.warnings.append(
                "Aucun fichier EtabEducNat dans cet export complet : les élèves "
                "et personnels ne peuvent être rattachés à aucune structure"
            )
        return roster

    def legal_guardians(self, pupil: _Pupil, person_id: str) -> list[tuple[str, str]]:
        """Return ``(guardian id, relationship)`` of the pupil's legal guardians.

        Records ``(pupil, "guardian")`` as restated in a delta that names them.
        """
        links: list[tuple[str, str]] = []
        if pupil.relations:
            for value in pupil.relations:
                parts = value.split("$")
                if len(parts) != 6 or not parts[0]:
                    self.reject(
                        pupil.file,
                        pupil.line,
                        "guardian_link",
                        f"élève {person_id} : lien « {value} » illisible (attendu "
                        "id$type$resp_fin$resp_legal$contact$paiement)",
                    )
                    continue
                if parts[3] in ("1", "2"):
                    links.append(
                        (parts[0], RELATIONSHIPS.get(parts[1], LEGAL_GUARDIAN))
                    )
        elif pupil.old_style is not None:
            authority, fathers, mothers = pupil.old_style
            for guardian_id in authority or [*fathers, *mothers]:
                if guardian_id in fathers:
                    links.append((guardian_id, "père"))
                elif guardian_id in mothers:
                    links.append((guardian_id, "mère"))
                else:
                    links.append((guardian_id, LEGAL_GUARDIAN))
        if self.mode is Mode.DELTA and (
            pupil.relations is not None or pupil.old_style is not None
        ):
            self.roster.restated.append((person_id, "guardian"))
        seen: set[str] = set()
        unique = []
        for guardian_id, relationship in links:
            if guardian_id not in seen:
                seen.add(guardian_id)
                unique.append((guardian_id, relationship))
        return unique


def _request(element, file: str) -> _Request | None:
    """Read one request element (None if it names no identifier)."""
    category = ""
    identifier = ""
    attrs: dict[str, list[str]] = {}
    for part in element:
        tag = part.tag
        if tag == "attributes" or tag == "modifications":
            for attr in part:
                name = attr.get("name")
                if name in _WANTED:
                    # The hot loop of a big feed: plain statements, no
                    # nested generators. Empty values (<value/>) are dropped.
                    values = []
                    for value in attr:
                        text = value.text
                        if text:
                            text = text.strip()
                            if text:
                                values.append(text)
                    attrs[name] = values
        elif tag == "identifier":
            for child in part:
                identifier = (child.text or "").strip()
        elif tag == "operationalAttributes":
            for attr in part:
                for value in attr:
                    category = (value.text or "").strip()
    if not identifier and not any(
        attrs.get(name)
        for name in ("ENTPersonJointure", "ENTStructureJointure", "ENTMatJointure")
    ):
        return None
    return _Request(
        element.tag, category, identifier, attrs, file, element.sourceline or 0
    )


def _no_id(element) -> str:
    return f"{element.tag} sans identifiant : ignoré"


def _interned(values: list[str] | None) -> list[str] | None:
    """Share the strings many records repeat (class codes)."""
    return None if values is None else [intern(value) for value in values]


def _first(attrs: dict[str, list[str]], name: str) -> str:
    values = attrs.get(name)
    return values[0] if values else ""


def _emits(request: _Request, person: PersonRecord) -> bool:
    """Tell whether a request says something of the person itself."""
    return request.op != "modifyRequest" or bool(person.partial)


def _date(value: str) -> dt.date | None:
    """Parse an AAF date (``dd/mm/yyyy``)."""
    try:
        day, month, year = value.split("/")
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def _is_teacher(attrs: dict[str, list[str]]) -> bool:
    """Tell a teacher from other staff, as entcore's feeder does.

    ``ENTPersonCategorieEnseignant`` decides when present; else presence
    before pupils; else a teaching (``ENS``) or documentation (``DOC``)
    function, or a teacher profile.
    """
    category = _first(attrs, "ENTPersonCategorieEnseignant").upper()
    if category in ("O", "TRUE", "1"):
        return True
    if category in ("N", "FALSE", "0"):
        return False
    if _first(attrs, "PersEducNatPresenceDevantEleves").upper() == "O":
        return True
    for function in attrs.get("ENTPersonFonctions", []):
        parts = function.split("$")
        if len(parts) > 1 and parts[1] in ("ENS", "DOC"):
            return True
    return any(
        profile in _TEACHER_PROFILES for profile in attrs.get("ENTPersonProfils", [])
    )
