"""Roster parsers, one module per format, and :func:`read_roster`.

Each parser module (``aaf``, ``siecle``, ``oneroster``) exposes
``recognises(name, head) -> bool`` (a file's name and its first 64 KiB) and
``parse(paths, *, progress=None) -> Roster``; see the contract in
:mod:`core.roster.records`.
"""

import importlib
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from core.roster.records import Roster, UnreadableFile

# Asked in this order; the first that recognises a file reads it.
FORMATS = {"aaf": "AAF", "siecle": "SIECLE", "oneroster": "OneRoster"}
HEAD_BYTES = 64 * 1024


def parsers() -> dict[str, ModuleType]:
    """The parser modules by format name (imported on first use)."""
    return {
        name: importlib.import_module(f"core.roster.sources.{name}") for name in FORMATS
    }


def detect(path: Path) -> str:
    """Return the format name of the file at ``path``.

    Raises :class:`UnreadableFile` (French message naming the file) when it
    cannot be opened or no parser recognises it.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except IsADirectoryError:
        raise UnreadableFile(
            f"{path.name} : c'est un dossier, pas un fichier."
        ) from None
    except FileNotFoundError:
        raise UnreadableFile(f"{path.name} : fichier introuvable.") from None
    except OSError as error:
        raise UnreadableFile(
            f"{path.name} : lecture impossible ({error.strerror or error})."
        ) from None
    if not head:
        raise UnreadableFile(f"{path.name} : le fichier est vide.")
    for name, module in parsers().items():
        if module.recognises(path.name, head):
            return name
    raise UnreadableFile(
        f"{path.name} : format non reconnu (ni AAF, ni SIECLE, ni OneRoster)."
    )


def read_roster(
    paths: Sequence[Path | str],
    progress: Callable[[int], None] | None = None,
) -> Roster:
    """Parse ``paths`` (files of one format) into one :class:`Roster`.

    Each file is recognised by a parser (a OneRoster zip by the OneRoster
    parser, which expands it); files of two formats together are refused,
    as is a file no parser recognises: :class:`UnreadableFile`, and nothing
    is read further. ``progress(n)`` gets the cumulative number of bytes
    read across all files.
    """
    file_paths = [Path(p) for p in paths]
    if not file_paths:
        raise UnreadableFile("Aucun fichier à importer.")
    formats = {path: detect(path) for path in file_paths}
    found = sorted(set(formats.values()), key=list(FORMATS).index)
    if len(found) > 1:
        listing = ", ".join(f"{p.name} ({FORMATS[f]})" for p, f in formats.items())
        raise UnreadableFile(
            f"Ces fichiers mêlent plusieurs formats : {listing}. "
            "Importez chaque format séparément."
        )
    try:
        return parsers()[found[0]].parse(file_paths, progress=progress)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        # A zip whose directory reads but whose entries do not (bad header,
        # bad CRC, truncated deflate stream): found while reading an entry.
        raise UnreadableFile(
            f"{', '.join(p.name for p in file_paths)} : archive zip abîmée ({exc}). "
            "Téléchargez l'export à nouveau."
        ) from exc
