"""A synthetic département-sized AAF feed, and the AAF parser measured on it.

Writes a ``Complet`` set shaped like the real files of ``tests/data/aaf``
(same elements, attribute names and ``$``-joined values, CRLF-free, UTF-8):
``EtabEducNat`` (one file), ``Eleve`` and ``PersRelEleve`` (split in parts as
real feeds are), ``PersEducNat``, ``MatiereEducNat``. Names are fictitious
and deterministic (made of syllables; the same arguments give the same
bytes). Files are written record by record, never built in memory.

Generate::

    python bench/aaf_synth.py OUTDIR --pupils 20000 --guardians 30000 \\
        --staff 1500 --orgs 40 [--scale 0.5]

Measure the parser alone (``core.roster.sources.aaf.parse``) at half, full
and double size, each in its own subprocess (wall time, peak RSS from
``resource.getrusage``), next to a pass of the streaming reader alone::

    python bench/aaf_synth.py OUTDIR --measure

``--scale`` multiplies every count but the orgs.

Figures of 2026-12-06 (2 shared cores, lxml 6.0.2 / libxml2 2.14.6; wall
time is 2-3x the CPU time on that busy machine)::

    size    pupils  stream only          parse (Roster built)
    42 MB   10,000  CPU 0.8 s, 45 MiB    CPU 2.4 s (wall 4.7 s), 76 MiB
    84 MB   20,000  CPU 1.9 s, 46 MiB    CPU 3.7 s (wall 7.3 s), 109 MiB
    167 MB  40,000  CPU 3.9 s, 46 MiB    CPU 8.5 s (wall 16.1 s), 174 MiB

Reading is flat in file size; what grows is the roster itself (about
0.6 KiB per record: people, enrollments, guardian links).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "SYNTH_Complet_20260901"
PUPILS_PER_PART = 5000
GUARDIANS_PER_PART = 10000
CLASS_SIZE = 25
SUBJECTS = [
    ("020700", "FRANCAIS"),
    ("061300", "MATHEMATIQUES"),
    ("030201", "ANGLAIS LV1"),
    ("030602", "ESPAGNOL LV2"),
    ("040600", "HISTOIRE ET GEOGRAPHIE"),
    ("062900", "SCIENCES DE LA VIE ET DE LA TERRE"),
    ("062300", "PHYSIQUE-CHIMIE"),
    ("070800", "TECHNOLOGIE"),
    ("090100", "ARTS PLASTIQUES"),
    ("081300", "EDUCATION MUSICALE"),
    ("100100", "EDUCATION PHYSIQUE ET SPORTIVE"),
    ("008400", "VIE DE CLASSE"),
]
SYLLABLES = ["ba", "lo", "ri", "ta", "mu", "ne", "vo", "ki", "sa", "du", "fe", "go"]
GIVEN = ["Alix", "Bao", "Cyan", "Dali", "Eno", "Fio", "Gaby", "Hali", "Ilan", "Jade"]
HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE ficAlimMENESR SYSTEM "ficAlimMENESR.dtd">\n'
    "<ficAlimMENESR>\n"
    '<!-- versionAF="AAF-VE1301" synthetic: bench/aaf_synth.py -->\n\n'
)
FOOTER = "</ficAlimMENESR>\n"


def family_name(n: int) -> str:
    """A fictitious family name, three syllables picked from ``n``."""
    a, b, c = n % 12, (n // 12) % 12, (n // 144) % 12
    return (SYLLABLES[a] + SYLLABLES[b] + SYLLABLES[c]).capitalize()


def given_name(n: int) -> str:
    return GIVEN[(n * 7) % len(GIVEN)]


def attr(name: str, *values: str) -> str:
    inner = "".join(f"<value>{escape(v)}</value>" if v else "<value/>" for v in values)
    return f'<attr name="{name}">{inner or "<value/>"}</attr>\n'


def request(category_attr: str, category: str, identifier: str, body: str) -> str:
    return (
        "<addRequest>\n"
        f'<operationalAttributes><attr name="{category_attr}"><value>{category}'
        "</value></attr></operationalAttributes> \n"
        f"<identifier><id>{identifier}</id></identifier> \n"
        f"<attributes> \n{body}</attributes>\n</addRequest>\n\n"
    )


class Parts:
    """Write records into ``<PREFIX>_<kind>_<NNNN>.xml``, ``per_part`` a file."""

    def __init__(self, outdir: Path, kind: str, per_part: int) -> None:
        self.outdir, self.kind, self.per_part = outdir, kind, per_part
        self.count = 0
        self.part = -1
        self.handle = None

    def write(self, text: str) -> None:
        if self.count % self.per_part == 0:
            self.close()
            self.part += 1
            path = self.outdir / f"{PREFIX}_{self.kind}_{self.part:04d}.xml"
            self.handle = path.open("w", encoding="utf-8", buffering=1 << 20)
            self.handle.write(HEADER)
        self.handle.write(text)
        self.count += 1

    def close(self) -> None:
        if self.handle is not None:
            self.handle.write(FOOTER)
            self.handle.close()
            self.handle = None


def generate(
    outdir: Path, *, pupils: int, guardians: int, staff: int, orgs: int
) -> dict[str, int]:
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob(f"{PREFIX}_*.xml"):
        old.unlink()
    org_ids = [str(52000 + i) for i in range(orgs)]

    etab = Parts(outdir, "EtabEducNat", 10**9)
    for index, org in enumerate(org_ids):
        uai = f"0{990000 + index:06d}{'ABCDEFGHJKLMNPRSTUVWXYZ'[index % 23]}"
        etab.write(
            request(
                "categorieStructure",
                "EtabEducNat",
                org,
                attr("ENTStructureJointure", org)
                + attr("ENTStructureUAI", uai)
                + attr("ENTEtablissementUAI", uai)
                + attr("ENTStructureSIREN", "")
                + attr("ENTStructureNomCourant", f"CLG-{family_name(index).upper()}")
                + attr("ENTStructureTypeStruct", "COLLEGE")
                + attr("ENTEtablissementMinistereTutelle", "")
                + attr("ENTEtablissementContrat", "PU")
                + attr("postOfficeBox", "")
                + attr("street", "")
                + attr("postalCode", "")
                + attr("l", "VILLEFICTIVE")
                + attr("ENTServAcAcademie", "RENNES")
                + attr("ENTStructureClasses", "")
                + attr("ENTStructureGroupes", ""),
            )
        )
    etab.close()

    matiere = Parts(outdir, "MatiereEducNat", 10**9)
    for code, label in SUBJECTS:
        matiere.write(
            request(
                "categorieMatiere",
                "MatEducNat",
                code,
                attr("ENTMatJointure", code) + attr("ENTLibelleMatiere", label),
            )
        )
    matiere.close()

    per_org = max(1, pupils // orgs)
    eleve = Parts(outdir, "Eleve", PUPILS_PER_PART)
    for index in range(pupils):
        org = org_ids[min(index // per_org, orgs - 1)]
        rank = index % per_org
        class_code = f"{3 + rank // (CLASS_SIZE * 4) % 4}E{rank // CLASS_SIZE % 4 + 1}"
        group = f"{class_code}GR{index % 2 + 1}"
        sid = str(2_600_000 + index)
        mother = str(2_900_000 + (2 * index) % guardians)
        father = str(2_900_000 + (2 * index + 1) % guardians)
        codes = [code for code, _label in SUBJECTS]
        labels = [label for _code, label in SUBJECTS]
        eleve.write(
            request(
                "categoriePersonne",
                "Eleve",
                sid,
                attr("ENTPersonJointure", sid)
                + attr("ENTEleveINE", f"{index:09d}ZZ")
                + attr("ENTEleveStructRattachId", str(800_000 + index))
                + attr(
                    "ENTPersonDateNaissance",
                    f"{index % 28 + 1:02d}/{index % 12 + 1:02d}/{2010 + index % 5}",
                )
                + attr("ENTPersonNomPatro", family_name(index).upper())
                + attr("sn", family_name(index))
                + attr("givenName", given_name(index))
                + attr("ENTPersonAutresPrenoms", given_name(index + 3))
                + attr("personalTitle", "M." if index % 2 else "Mme")
                + attr("ENTEleveParents", mother, father)
                + attr("ENTElevePere", father)
                + attr("ENTEleveMere", mother)
                + attr("ENTEleveAutoriteParentale", mother, father)
                + attr("ENTElevePersRelEleve1", "")
                + attr("ENTEleveQualitePersRelEleve1", "")
                + attr(
                    "ENTElevePersRelEleve",
                    f"{mother}$10$1$1$0$0",
                    f"{father}$20$0$2$0$0",
                )
                + attr("ENTEleveBoursier", "N")
                + attr("ENTEleveRegime", "DEMI-PENSIONNAIRE DANS L'ETABLISSEMENT")
                + attr("ENTEleveTransport", "N")
                + attr("ENTEleveStatutEleve", "SCOLAIRE")
                + attr("ENTEleveMEF", "10310019110")
                + attr("ENTEleveLibelleMEF", "3EME")
                + attr("ENTEleveNivFormation", "3EME")
                + attr("ENTEleveFiliere", "3EME")
                + attr("ENTEleveEnseignements", *labels)
                + attr("ENTEleveCodeEnseignements", *codes)
                + attr("ENTPersonStructRattach", org)
                + attr("ENTEleveClasses", f"{org}${class_code}")
                + attr("ENTEleveGroupes", f"{org}${group}"),
            )
        )
    eleve.close()

    rel = Parts(outdir, "PersRelEleve", GUARDIANS_PER_PART)
    for index in range(guardians):
        gid = str(2_900_000 + index)
        rel.write(
            request(
                "categoriePersonne",
                "PersRelEleve",
                gid,
                attr("ENTPersonJointure", gid)
                + attr("ENTPersonDateNaissance", "")
                + attr("ENTPersonNomPatro", family_name(index // 2).upper())
                + attr("sn", family_name(index // 2))
                + attr("givenName", given_name(index + 1))
                + attr("personalTitle", "M." if index % 2 else "Mme")
                + attr("homePhone", "0000000000")
                + attr("telephoneNumber", "0000000000")
                + attr("mail", f"parent{index}@example.invalid" if index % 3 else "")
                + attr("ENTPersonAdresse", "XXXXXXXXXX XXXXXXXXXX")
                + attr("ENTPersonCodePostal", "35000")
                + attr("ENTPersonVille", "VILLEFICTIVE")
                + attr("ENTPersonPays", "FRANCE"),
            )
        )
    rel.close()

    pers = Parts(outdir, "PersEducNat", 10**9)
    for index in range(staff):
        org = org_ids[index % orgs]
        sid = str(2_400_000 + index)
        teacher = index % 5 != 0
        code, label = SUBJECTS[index % len(SUBJECTS)]
        classes = (
            [f"{3 + (index + k) % 4}E{k % 4 + 1}" for k in range(5)] if teacher else []
        )
        pers.write(
            request(
                "categoriePersonne",
                "PersEducNat",
                sid,
                attr("ENTPersonJointure", sid)
                + attr("ENTPersonDateNaissance", "01/01/1980")
                + attr("ENTPersonNomPatro", family_name(index + 7).upper())
                + attr("sn", family_name(index + 7))
                + attr("givenName", given_name(index + 5))
                + attr("personalTitle", "Mme" if index % 2 else "M.")
                + attr("mail", f"agent{index}@example.invalid")
                + attr("ENTPersonStructRattach", org)
                + attr(
                    "ENTPersonFonctions",
                    f"{org}$ENS$ENSEIGNEMENT$L0000${label}"
                    if teacher
                    else f"{org}$EDU$EDUCATION$E0030$CONSEILLER PRINCIPAL D'EDUCATION",
                )
                + attr("PersEducNatPresenceDevantEleves", "O" if teacher else "N")
                + attr("ENTAuxEnsClasses", *[f"{org}${c}" for c in classes])
                + attr(
                    "ENTAuxEnsClassesMatieres", *[f"{org}${c}${code}" for c in classes]
                )
                + attr("ENTAuxEnsGroupes", "")
                + attr("ENTAuxEnsGroupesMatieres", ""),
            )
        )
    pers.close()
    return {
        "orgs": orgs,
        "pupils": pupils,
        "guardians": guardians,
        "staff": staff,
        "bytes": sum(p.stat().st_size for p in outdir.glob(f"{PREFIX}_*.xml")),
    }


def run_child(directory: Path, what: str) -> dict:
    """Parse (or only stream) ``directory`` in this process; return figures."""
    sys.path.insert(0, str(ROOT))
    from core.roster.sources import aaf, safexml

    paths = sorted(directory.glob(f"{PREFIX}_*.xml"))
    start = time.perf_counter()
    if what == "stream":
        count = 0
        for path in paths:
            for _element in safexml.iter_elements(path, aaf.REQUESTS):
                count += 1
        summary = {"requests": count}
    else:
        roster = aaf.parse(paths)
        summary = {
            "people": len(roster.people),
            "enrollments": len(roster.enrollments),
            "guardian_links": len(roster.guardian_links),
            "rejections": len(roster.rejections),
        }
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kib = usage.ru_maxrss
    return {
        "what": what,
        "seconds": round(seconds, 2),
        # CPU time of the whole child (imports included): wall time is what a
        # shared machine makes of it.
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": peak_kib // 1024,
        **summary,
    }


def measure(outdir: Path, args: argparse.Namespace) -> None:
    for scale in (0.5, 1.0, 2.0):
        directory = outdir / f"scale-{scale:g}"
        sizes = generate(
            directory,
            pupils=int(args.pupils * scale),
            guardians=int(args.guardians * scale),
            staff=int(args.staff * scale),
            orgs=args.orgs,
        )
        for what in ("stream", "parse"):
            output = subprocess.run(
                [sys.executable, __file__, str(directory), "--child", what],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            ).stdout
            figures = json.loads(output)
            print(
                f"scale {scale:g}: {sizes['bytes'] / 1e6:.0f} MB, "
                f"{sizes['pupils']} pupils, {sizes['guardians']} guardians, "
                f"{sizes['staff']} staff -> {what}: {figures['seconds']} s "
                f"(CPU {figures['cpu_seconds']} s), "
                f"peak RSS {figures['peak_rss_mib']} MiB "
                f"{ {k: v for k, v in figures.items() if k not in ('what', 'seconds', 'cpu_seconds', 'peak_rss_mib')} }",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--pupils", type=int, default=20000)
    parser.add_argument("--guardians", type=int, default=30000)
    parser.add_argument("--staff", type=int, default=1500)
    parser.add_argument("--orgs", type=int, default=40)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--measure", action="store_true", help="time the parser at 0.5x, 1x, 2x"
    )
    parser.add_argument("--child", choices=("stream", "parse"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.outdir, args.child)))
        return
    if args.measure:
        measure(args.outdir, args)
        return
    sizes = generate(
        args.outdir,
        pupils=int(args.pupils * args.scale),
        guardians=int(args.guardians * args.scale),
        staff=int(args.staff * args.scale),
        orgs=args.orgs,
    )
    print(json.dumps(sizes))


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    main()
