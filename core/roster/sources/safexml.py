"""The one safe way the roster import reads XML: streamed, hostile input refused.

AAF feeds and SIECLE exports reach hundreds of megabytes and come from outside
the hub, so they are never loaded whole and never trusted:

- the file is fed to lxml's :class:`~lxml.etree.XMLPullParser` in chunks, and
  each element the caller asked for is yielded once complete, then cleared and
  unlinked from its parent with the siblings before it: memory stays flat
  whatever the file size;
- no DTD is loaded, no entity is resolved, nothing is fetched from the network
  (``load_dtd=False, resolve_entities=False, no_network=True``) and lxml's
  limits stay on (no ``huge_tree``);
- a document type with an internal subset (``<!DOCTYPE x [ ... ]>``, where
  entities are declared: XXE, "billion laughs") is refused before the parser
  sees it, and again from the parsed document's own record of it; an external
  one alone (``<!DOCTYPE ficAlimMENESR SYSTEM "ficAlimMENESR.dtd">``, as every
  real AAF file starts) is accepted and never fetched;
- declared encodings are honoured (SIECLE exports are ISO-8859-15); a file
  whose bytes contradict its declaration (Latin-9 bytes in a file that says
  UTF-8 or none, UTF-8 bytes in one that says ISO-8859-15) is refused rather
  than read as garbled names;
- broken XML (a truncated download) raises :class:`UnreadableFile` from the
  last chunk: the caller lets it through, so nothing of the file is written.

Every refusal is an :class:`UnreadableFile` whose French message names the
file and says why.
"""

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from lxml import etree

from core.roster.records import UnreadableFile
from core.roster.sources import HEAD_BYTES  # what recognisers look at

CHUNK_SIZE = 1 << 20  # bytes fed to the parser at a time

# The prolog before the root element: XML declaration, comments, processing
# instructions, a DOCTYPE. Only ASCII matters here, whatever the encoding.
_DECLARATION = re.compile(
    rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']"""
)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
# Two bytes that are one UTF-8 character above U+007F: in a file declared in a
# single-byte encoding they are almost surely UTF-8 read as Latin-9 ("Ã©").
# Accented French letters are 0xC3 xx and "œ", "Œ" 0xC5 xx in UTF-8; in
# Latin-9 0xC3 is "Ã" and 0xC5 "Å", which French text never puts right
# before a byte of 0x80-0xBF (symbols, "Š", "œ", "«").
_UTF8_PAIR = re.compile(rb"[\xc3\xc5][\x80-\xbf]")
_UTF8_NAMES = {"utf-8", "utf8", "us-ascii", "ascii"}


def declared_encoding(head: bytes) -> str:
    """Return the encoding the XML declaration names, lower case ("" if none)."""
    match = _DECLARATION.match(head)
    return match.group(1).decode("ascii").lower() if match else ""


def root_tag(head: bytes) -> str:
    """Return the name of the root element found in ``head`` ("" if none).

    Skips the declaration, comments, processing instructions and the
    DOCTYPE without parsing them: for recognisers, on a file's first bytes.
    """
    position = 0
    while True:
        start = head.find(b"<", position)
        if start < 0 or start + 1 >= len(head):
            return ""
        following = head[start + 1 : start + 2]
        if following == b"?":
            end = head.find(b"?>", start)
            position = end + 2 if end >= 0 else len(head)
        elif head.startswith(b"<!--", start):
            end = head.find(b"-->", start)
            position = end + 3 if end >= 0 else len(head)
        elif following == b"!":
            end = _doctype_end(head, start)
            position = end if end >= 0 else len(head)
        else:
            match = _ROOT.match(head, start)
            return match.group(1).decode("ascii", "replace") if match else ""


def _doctype_end(data: bytes, start: int) -> int:
    """Return the offset after the ``<!DOCTYPE ...>`` at ``start`` (-1 if cut)."""
    quote = b""
    depth = 0
    for index in range(start + 2, len(data)):
        char = data[index : index + 1]
        if quote:
            if char == quote:
                quote = b""
        elif char in (b'"', b"'"):
            quote = char
        elif char == b"[":
            depth += 1
        elif char == b"]":
            depth -= 1
        elif char == b">" and depth <= 0:
            return index + 1
    return -1


def check_prolog(name: str, head: bytes) -> None:
    """Refuse a document type with an internal subset or declared entities.

    ``head`` is the file's first bytes (at least up to its root element).
    Raises :class:`UnreadableFile`.
    """
    doctype = _DOCTYPE.search(head)
    if doctype is not None:
        end = _doctype_end(head, doctype.start())
        declaration = head[doctype.start() : end if end >= 0 else len(head)]
        if b"[" in _strip_quoted(declaration) or _ENTITY.search(declaration):
            raise UnreadableFile(
                f"{name} : le fichier déclare une DTD interne (entités XML) ; "
                "refusé par sécurité."
            )
    elif _ENTITY.search(head[: _root_offset(head)]):
        raise UnreadableFile(
            f"{name} : le fichier déclare des entités XML ; refusé par sécurité."
        )


def _strip_quoted(declaration: bytes) -> bytes:
    return re.sub(rb"\"[^\"]*\"|'[^']*'", b"", declaration)


def _root_offset(head: bytes) -> int:
    tag = root_tag(head)
    if not tag:
        return len(head)
    index = head.find(b"<" + tag.encode("ascii", "replace"))
    return index if index >= 0 else len(head)


def iter_elements(
    path: Path,
    tags: Iterable[str],
    *,
    name: str = "",
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[etree._Element]:
    """Yield each complete element of ``path`` whose tag is in ``tags``.

    Use the element (its children, ``.sourceline`` for the line it starts
    on) before asking for the next one: it is cleared and unlinked then.
    ``progress(n)`` is called after each chunk with the number of bytes of
    this file read so far. ``name`` names the file in messages (default:
    its file name). Raises :class:`UnreadableFile` for broken or hostile
    XML, or a file that cannot be opened.
    """
    name = name or path.name
    try:
        handle = path.open("rb")
    except OSError as error:
        raise UnreadableFile(
            f"{name} : fichier illisible ({error.strerror})."
        ) from None
    with handle:
        head = handle.read(max(chunk_size, HEAD_BYTES))
        if not head.strip():
            raise UnreadableFile(f"{name} : le fichier est vide.")
        check_prolog(name, head)
        encoding = declared_encoding(head)
        single_byte = bool(encoding) and encoding not in _UTF8_NAMES
        parser = etree.XMLPullParser(
            events=("end",),
            tag=list(tags),
            load_dtd=False,
            dtd_validation=False,
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        consumed = 0
        checked_doctype = False
        chunk = head
        following = handle.read(chunk_size)
        while True:
            if chunk:
                if single_byte and _UTF8_PAIR.search(chunk):
                    raise UnreadableFile(
                        f"{name} : le fichier se déclare en {encoding.upper()} "
                        "mais contient de l'UTF-8 ; ré-exportez-le dans un seul "
                        "encodage."
                    )
                _feed(parser, chunk, name, last=not following)
                consumed += len(chunk)
            else:
                _feed(parser, None, name, last=True)
            for _event, element in parser.read_events():
                if not checked_doctype:
                    _check_docinfo(element, name)
                    checked_doctype = True
                yield element
                element.clear()
                parent = element.getparent()
                if parent is not None:
                    while element.getprevious() is not None:
                        del parent[0]
            if not chunk:
                break
            if progress is not None:
                progress(consumed)
            chunk, following = following, following and handle.read(chunk_size)


def _feed(
    parser: etree.XMLPullParser, chunk: bytes | None, name: str, *, last: bool
) -> None:
    """Feed a chunk (``None``: close); ``last`` when the file ends with it."""
    try:
        if chunk is None:
            parser.close()
        else:
            parser.feed(chunk)
    except etree.XMLSyntaxError as error:
        raise UnreadableFile(_syntax_message(name, error, last=last)) from None


def _check_docinfo(element: etree._Element, name: str) -> None:
    """Second line of defence: what the parser itself recorded of the DOCTYPE."""
    subset = element.getroottree().docinfo.internalDTD
    if subset is not None and (
        any(True for _ in subset.iterentities()) or any(True for _ in subset.elements())
    ):
        raise UnreadableFile(
            f"{name} : le fichier déclare une DTD interne (entités XML) ; "
            "refusé par sécurité."
        )


def _syntax_message(name: str, error: etree.XMLSyntaxError, *, last: bool) -> str:
    text = str(error.msg or error)
    lowered = text.lower()
    if "encoding" in lowered or "utf-8" in lowered or "input conversion" in lowered:
        why = "encodage incorrect ou non déclaré"
    elif "entit" in lowered or "amplification" in lowered:
        why = "entités XML refusées"
    elif last:
        # An error in the file's last bytes is what a cut download gives.
        why = "fichier tronqué ou XML mal formé"
    else:
        why = "XML mal formé"
    line = error.lineno
    where = f" (ligne {line})" if line else ""
    return f"{name} : {why}{where} : {text}"
