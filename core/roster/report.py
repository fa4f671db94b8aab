"""What an import did (or, dry, would do): counts per kind, rejected rows,
warnings.

:class:`ImportReport` is filled by the parsers' rejections and by the sync
(:mod:`core.roster.sync`); ``as_dict()`` is stored as ``RosterImport.report``
and ``lines()`` is what ``manage.py import_roster`` prints and the upload
page shows.
"""

from dataclasses import asdict, dataclass, field

from core.roster.records import Rejection

# Kinds in the order they are applied and reported, with their French label.
KINDS = {
    "org": "Établissements",
    "session": "Années et périodes",
    "course": "Matières",
    "class": "Classes",
    "person": "Personnes",
    "enrollment": "Inscriptions",
    "guardian_link": "Liens responsable-élève",
}
# An outcome and its French label (plural form used for every count).
OUTCOMES = {
    "created": "créés",
    "updated": "mis à jour",
    "deactivated": "désactivés ou terminés",
    "unchanged": "inchangés",
    "rejected": "rejetés",
}


@dataclass(slots=True)
class Counts:
    """Records of one kind by outcome. ``deactivated`` counts people made
    inactive, enrollments and guardian links ended (moved to history), and
    classes whose every membership ended."""

    created: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    rejected: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.deactivated


@dataclass(slots=True)
class ImportReport:
    """The report of one import run (see the module docstring)."""

    source: str = ""
    mode: str = ""
    files: list[str] = field(default_factory=list)
    dry_run: bool = False
    counts: dict[str, Counts] = field(
        default_factory=lambda: {kind: Counts() for kind in KINDS}
    )
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, kind: str, outcome: str, n: int = 1) -> None:
        """Count ``n`` records of ``kind`` (a key of :data:`KINDS`) as ``outcome``."""
        counts = self.counts[kind]
        setattr(counts, outcome, getattr(counts, outcome) + n)

    def reject(self, rejection: Rejection) -> None:
        """Keep a rejected row and count it under its kind."""
        self.rejections.append(rejection)
        self.add(rejection.kind if rejection.kind in KINDS else "person", "rejected")

    @property
    def changed(self) -> bool:
        """Whether the import writes (or, dry, would write) anything."""
        return any(c.changed for c in self.counts.values())

    def as_dict(self) -> dict:
        """Return the JSON-ready report (``RosterImport.report``)."""
        return {
            "source": self.source,
            "mode": self.mode,
            "files": list(self.files),
            "dry_run": self.dry_run,
            "counts": {kind: asdict(c) for kind, c in self.counts.items()},
            "rejections": [asdict(r) for r in self.rejections],
            "warnings": list(self.warnings),
        }

    def lines(self) -> list[str]:
        """Return the report as French text lines: a title, one line per kind,
        then each rejected row (``fichier:ligne: type: motif``), then warnings."""
        title = "Simulation (rien n'a été écrit)" if self.dry_run else "Import"
        mode = {"complete": "complet", "delta": "delta"}.get(self.mode, self.mode)
        out = [f"{title} {self.source} ({mode}) : {', '.join(self.files)}"]
        width = max(len(label) for label in KINDS.values())
        for kind, label in KINDS.items():
            c = self.counts[kind]
            parts = ", ".join(
                f"{getattr(c, outcome)} {word}" for outcome, word in OUTCOMES.items()
            )
            out.append(f"  {label:<{width}} : {parts}")
        if self.rejections:
            out.append(f"Lignes rejetées ({len(self.rejections)}) :")
            out += [
                f"  {r.file}:{r.line}: {r.kind}: {r.reason}" for r in self.rejections
            ]
        if self.warnings:
            out.append(f"Avertissements ({len(self.warnings)}) :")
            out += [f"  {w}" for w in self.warnings]
        return out
