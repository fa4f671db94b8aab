"""Reading the text files rosters come in: encodings, tolerant CSV headers,
safe zips.

Encoding rule (:func:`detect_encoding`), for files that do not say theirs
(SIECLE CSV exports are written by hand, by Excel or by the export screen,
each in its own encoding):

1. a UTF-8 byte order mark → ``utf-8-sig``; a UTF-16 one → ``utf-16``;
2. a NUL byte anywhere → refused (UTF-16 without a mark, a binary file);
3. the whole file is valid UTF-8 → ``utf-8`` (French text in cp1252 or
   ISO-8859-15 is almost never valid UTF-8: an accented letter is followed
   by an ASCII byte, not a continuation byte);
4. otherwise a single-byte Windows or Latin-9 file. They agree on every byte
   but 0x80-0x9F (cp1252's € … œ Ÿ, control characters in ISO-8859-15,
   never in text) and the eight bytes ISO-8859-15 changed from Latin-1
   (0xA4 €, 0xA6 Š, 0xA8 š, 0xB4 Ž, 0xB8 ž, 0xBC Œ, 0xBD œ, 0xBE Ÿ; cp1252
   has ¤ ¦ ¨ ´ ¸ ¼ ½ ¾ there). So: a byte in 0x80-0x9F → ``cp1252`` (and
   one of the five bytes cp1252 leaves undefined, 0x81 0x8D 0x8F 0x90 0x9D,
   → refused); else one of those eight bytes → ``iso-8859-15`` (œ and € are
   French, ½ and ¤ hardly ever in a roster); else both read the file the
   same way (``iso-8859-15``).

The scan streams the file once in 1 MiB chunks; the caller then reads it a
second time, decoded.
"""

import codecs
import difflib
import io
import itertools
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from core.roster.records import UnreadableFile
from core.text import strip_accents

CHUNK = 1 << 20
# What zipfile raises on an archive it cannot read past its directory (bad
# local header, bad offset, bad CRC, truncated deflate stream).
ZIP_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError)

C1_BYTES = frozenset(range(0x80, 0xA0))
CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
LATIN9_ONLY = frozenset(b"\xa4\xa6\xa8\xb4\xb8\xbc\xbd\xbe")
_ASCII = bytes(range(0x80))

Opener = Callable[[], IO[bytes]]


def _chunks(opener: Opener) -> Iterator[bytes]:
    with opener() as raw:
        while chunk := raw.read(CHUNK):
            yield chunk


def detect_encoding(chunks: Iterable[bytes], name: str) -> str:
    """Return the codec name of a text file given as byte chunks (rule above).

    A byte order mark names the encoding, and the whole file must then decode
    with it (a UTF-8 file cut inside a character is refused, not half-read).
    Raises :class:`UnreadableFile` for a file no rule can read.
    """
    chunks = iter(chunks)
    first = next(chunks, b"")
    if first.startswith(codecs.BOM_UTF8):
        return _check_declared("utf-8-sig", first, chunks, name)
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _check_declared("utf-16", first, chunks, name)
    decoder = codecs.getincrementaldecoder("utf-8")()
    is_utf8 = True
    high: set[int] = set()
    for chunk in itertools.chain([first], chunks):
        if b"\x00" in chunk:
            raise UnreadableFile(
                f"{name} : ce n'est pas un fichier texte lisible (octets nuls : "
                "UTF-16 sans marque d'ordre, ou fichier binaire). Enregistrez-le "
                "en UTF-8 ou en Windows-1252."
            )
        if is_utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                is_utf8 = False
        high.update(chunk.translate(None, _ASCII))
    if is_utf8:
        try:
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    if high & CP1252_UNDEFINED:
        byte = min(high & CP1252_UNDEFINED)
        raise UnreadableFile(
            f"{name} : encodage inconnu (ni UTF-8, ni Windows-1252, ni "
            f"ISO-8859-15 : l'octet {byte:#04x} n'y est aucun caractère). "
            "Enregistrez le fichier en UTF-8."
        )
    if high & C1_BYTES:
        return "cp1252"
    return "iso-8859-15"


def _check_declared(
    encoding: str, first: bytes, rest: Iterator[bytes], name: str
) -> str:
    """Return ``encoding`` if every chunk decodes with it, else refuse the file."""
    decoder = codecs.getincrementaldecoder(encoding)()
    read = 0
    try:
        for chunk in itertools.chain([first], rest):
            decoder.decode(chunk)
            read += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        label = "UTF-8" if encoding == "utf-8-sig" else "UTF-16"
        raise UnreadableFile(
            f"{name} : le fichier s'annonce en {label} (marque d'ordre des "
            f"octets) mais l'octet {read + error.start} n'est pas du {label} "
            "valide (fichier tronqué ou abîmé ?)."
        ) from None
    return encoding


@dataclass
class TextSource:
    """A text file ready to read: ``text`` decoded, ``raw.tell()`` its bytes read."""

    name: str
    encoding: str
    raw: IO[bytes]
    text: io.TextIOWrapper

    def close(self) -> None:
        self.text.close()


def open_text(opener: Opener, name: str) -> TextSource:
    """Detect the encoding of the file ``opener`` opens, then open it decoded
    (universal newlines left to the csv module: ``newline=""``)."""
    encoding = detect_encoding(_chunks(opener), name)
    raw = opener()
    text = io.TextIOWrapper(raw, encoding=encoding, newline="")
    return TextSource(name, encoding, raw, text)


def sniff_text(head: bytes) -> str:
    """Decode the first bytes of a file for recognition (never fails)."""
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a character cut at the end of the head
            return head[: exc.start].decode("utf-8")
        return head.decode("cp1252", errors="replace")


# --- CSV headers ---------------------------------------------------------------


def normalise_header(text: str) -> str:
    """``"Date de naissance (jj/mm/aaaa)*"`` → ``"datedenaissance"``,
    ``" SourcedId "`` → ``"sourcedid"``: no accents, case, hint in brackets,
    spaces or punctuation."""
    text = re.sub(r"\(.*?\)", "", strip_accents(text))
    return re.sub(r"[^0-9a-z]+", "", text.lower())


@dataclass
class Columns:
    """Where each known column of a CSV file is: ``cols.get(row, "title")``."""

    index: dict[str, int] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.index

    def get(self, row: list[str], name: str) -> str:
        i = self.index.get(name)
        if i is None or i >= len(row):
            return ""
        return row[i].strip()


def map_columns(
    header: list[str],
    known: dict[str, str],
    *,
    file: str,
    warnings: list[str],
    report_renamed: bool = True,
    ignore: Callable[[str], bool] = lambda raw: False,
    cutoff: float = 0.85,
) -> Columns:
    """Map a CSV header onto known column names.

    ``known`` maps normalised names (and aliases) to canonical names. An
    exact match after :func:`normalise_header` is taken; otherwise the
    closest known name (``difflib``, ratio >= ``cutoff``) with a warning that
    says so. With ``report_renamed`` a header that differs from its canonical
    name only by case or spaces (``SourcedId ``) is reported too. Empty
    columns and those ``ignore`` accepts are skipped silently, unknown ones
    with a warning.
    """
    cols = Columns()
    for i, raw in enumerate(header):
        raw_clean = raw.strip().lstrip("\ufeff")
        norm = normalise_header(raw_clean)
        if not norm or ignore(raw_clean):
            continue
        name = known.get(norm)
        if name is None:
            close = difflib.get_close_matches(norm, known, n=1, cutoff=cutoff)
            if not close:
                warnings.append(f"{file} : colonne « {raw_clean} » inconnue, ignorée")
                continue
            name = known[close[0]]
            warnings.append(f"{file} : colonne « {raw_clean} » lue comme « {name} »")
        elif report_renamed and raw_clean != name:
            warnings.append(f"{file} : colonne « {raw_clean} » lue comme « {name} »")
        if name in cols.index:
            warnings.append(
                f"{file} : colonne « {raw_clean} » en double de « {name} », ignorée"
            )
            continue
        cols.index[name] = i
    return cols


def known_names(*names: str, aliases: dict[str, str] | None = None) -> dict[str, str]:
    """``{"sourcedid": "sourcedId", …}`` for :func:`map_columns`."""
    known = {normalise_header(n): n for n in names}
    for alias, name in (aliases or {}).items():
        known[normalise_header(alias)] = name
    return known


# --- zips ------------------------------------------------------------------------

MAX_ENTRIES = 200
MAX_TOTAL_SIZE = 1 << 30  # 1 GiB uncompressed: a département's OneRoster set is ~100 MB
MAX_RATIO = 100  # CSV compresses 5-20x; a zip bomb 1,000x and more
RATIO_FLOOR = 1 << 20  # entries under 1 MiB may compress as well as they like


class SafeZip:
    """A zip archive checked before anything is read from it.

    Refused with :class:`UnreadableFile`: an archive that is not a zip, more
    than ``MAX_ENTRIES`` entries, more than ``MAX_TOTAL_SIZE`` bytes once
    uncompressed, an entry that inflates more than ``MAX_RATIO`` times, an
    absolute path or a ``..`` component, a symbolic link, an encrypted entry,
    a zip inside the zip. The sizes checked are those the archive declares;
    :mod:`zipfile` never inflates an entry past its declared size (it stops
    there and checks the CRC), so a lying header cannot get past them.
    Entries are found by their base name, case-insensitively (``Users.csv``).
    """

    def __init__(self, path: Path, *, max_total_size: int | None = None) -> None:
        self.path = path
        self.name = path.name
        try:
            self.zip = zipfile.ZipFile(path)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
            raise UnreadableFile(
                f"{self.name} : archive zip illisible ({exc})"
            ) from exc
        try:
            self.members = self._check(infos, max_total_size or MAX_TOTAL_SIZE)
        except UnreadableFile:
            self.zip.close()
            raise
        except ZIP_DAMAGE as exc:
            self.zip.close()
            raise UnreadableFile(
                f"{self.name} : archive zip abîmée ({exc}). "
                "Téléchargez l'export à nouveau."
            ) from exc

    def _refuse(self, why: str) -> UnreadableFile:
        return UnreadableFile(f"{self.name} : archive refusée, {why}")

    def _check(self, infos: list[zipfile.ZipInfo], max_total: int) -> dict:
        if len(infos) > MAX_ENTRIES:
            raise self._refuse(f"trop d'entrées ({len(infos)}, au plus {MAX_ENTRIES})")
        total = 0
        members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            parts = re.split(r"[/\\]", name)
            if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
                raise self._refuse(f"chemin absolu « {name} »")
            if ".." in parts:
                raise self._refuse(f"chemin qui remonte « {name} »")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise self._refuse(f"lien symbolique « {name} »")
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise self._refuse(f"entrée chiffrée « {name} »")
            if name.lower().endswith((".zip", ".jar", ".gz", ".7z", ".rar")):
                raise self._refuse(f"archive dans l'archive « {name} »")
            total += info.file_size
            if total > max_total:
                raise self._refuse(
                    f"plus de {max_total // (1 << 20)} Mio une fois décompressée"
                )
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                raise self._refuse(
                    f"« {name} » se décompresse {info.file_size // max(info.compress_size, 1)}"
                    f" fois (bombe de décompression ?)"
                )
            base = parts[-1].lower()
            if base.startswith(".") or parts[0] == "__MACOSX":
                continue  # macOS resource forks, hidden files
            if base in members:
                raise self._refuse(f"deux entrées nommées « {parts[-1]} »")
            with self.zip.open(info) as fp:
                magic = fp.read(4)
            if magic == b"PK\x03\x04":
                raise self._refuse(f"archive dans l'archive « {name} »")
            members[base] = info
        return members

    def opener(self, info: zipfile.ZipInfo) -> Opener:
        return lambda: self.zip.open(info)

    def close(self) -> None:
        self.zip.close()
