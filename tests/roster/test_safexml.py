"""The safe streaming XML helper: real files read, hostile ones refused."""

import http.server
import threading
from pathlib import Path

import pytest

from core.roster.records import UnreadableFile
from core.roster.sources import safexml

DATA = Path(__file__).resolve().parent.parent / "data" / "aaf"
ELEVE = DATA / "FULL_ENTTSSERVICES_Complet_20130117_Eleve_0001.xml"
SIECLE = DATA / "siecle-with-two-valid-students-and-school-year.xml"


def read_all(path, tags=("addRequest",), **kwargs):
    return [
        (element.tag, element.sourceline, element.findtext(".//id"))
        for element in safexml.iter_elements(path, tags, **kwargs)
    ]


def write(tmp_path, name, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.fixture
def http_server():
    """A local HTTP server that records every request it receives."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = b'<!ENTITY leak "fetched">'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_real_aaf_file_yields_every_request_with_its_line():
    records = read_all(ELEVE)
    assert len(records) == 642
    assert records[0] == ("addRequest", 5, "2605692")
    assert records[1][1] == 42


def test_external_doctype_of_real_files_is_accepted_and_never_fetched(
    tmp_path, http_server
):
    url, requests = http_server
    path = write(
        tmp_path,
        "x.xml",
        f'<?xml version="1.0"?>\n<!DOCTYPE ficAlimMENESR SYSTEM "{url}/ficAlimMENESR.dtd">\n'
        "<ficAlimMENESR><addRequest><identifier><id>1</id></identifier>"
        "</addRequest></ficAlimMENESR>".encode(),
    )
    assert read_all(path) == [("addRequest", 3, "1")]
    assert requests == []


def test_declared_iso_8859_15_is_decoded():
    first_names = [
        element.findtext("PRENOM2")
        for element in safexml.iter_elements(SIECLE, ["ELEVE"])
    ]
    assert first_names == ["Léa", "Cocœ"]


def test_yielded_elements_are_unlinked_so_memory_stays_flat(tmp_path):
    request = (
        b"<addRequest><identifier><id>0000</id></identifier><attributes>"
        b'<attr name="sn"><value>Nom</value></attr></attributes></addRequest>\n'
    )
    path = write(
        tmp_path, "big.xml", b"<ficAlimMENESR>\n" + request * 5000 + b"</ficAlimMENESR>"
    )
    sizes = []
    for element in safexml.iter_elements(path, ["addRequest"], chunk_size=4096):
        sizes.append(len(element.getparent()))
    assert len(sizes) == 5000
    # What stays attached to the root is at most what one chunk held (the
    # first one is the 64 KiB head), never the elements already read.
    assert max(sizes) <= safexml.HEAD_BYTES // len(request) + 1
    assert max(sizes[-1000:]) <= 2 * (4096 // len(request))


def test_progress_reports_bytes_read_up_to_the_file_size(tmp_path):
    seen = []
    read_all(ELEVE, progress=seen.append, chunk_size=100_000)
    assert seen == sorted(seen)
    assert seen[-1] == ELEVE.stat().st_size
    assert len(seen) == 18


def test_xxe_reading_a_local_file_is_refused(tmp_path):
    path = write(
        tmp_path,
        "xxe.xml",
        b'<?xml version="1.0"?>\n<!DOCTYPE ficAlimMENESR [\n'
        b'<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b"<ficAlimMENESR><addRequest><identifier><id>&xxe;</id></identifier>"
        b"</addRequest></ficAlimMENESR>",
    )
    with pytest.raises(UnreadableFile) as caught:
        read_all(path)
    assert "xxe.xml" in str(caught.value)
    assert "DTD interne" in str(caught.value)
    assert "root:" not in str(caught.value)


def test_xxe_fetching_a_url_is_refused_without_any_request(tmp_path, http_server):
    url, requests = http_server
    path = write(
        tmp_path,
        "xxe.xml",
        f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "{url}/secret">]>'
        "<r><addRequest><id>&xxe;</id></addRequest></r>".encode(),
    )
    with pytest.raises(UnreadableFile):
        read_all(path)
    assert requests == []


def test_parameter_entity_fetching_a_url_is_refused_without_any_request(
    tmp_path, http_server
):
    url, requests = http_server
    path = write(
        tmp_path,
        "pe.xml",
        f'<!DOCTYPE r [<!ENTITY % remote SYSTEM "{url}/pe.dtd"> %remote;]>'
        "<r><addRequest><id>&leak;</id></addRequest></r>".encode(),
    )
    with pytest.raises(UnreadableFile):
        read_all(path)
    assert requests == []


def test_billion_laughs_is_refused(tmp_path):
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    path = write(
        tmp_path,
        "laughs.xml",
        (
            "<?xml version='1.0'?><!DOCTYPE r [" + "".join(entities) + "]>"
            "<r><addRequest><id>&lol9;</id></addRequest></r>"
        ).encode(),
    )
    with pytest.raises(UnreadableFile, match="laughs.xml"):
        read_all(path)


def test_internal_subset_hidden_from_the_byte_scan_is_refused_by_the_parser(tmp_path):
    # In UTF-16 the prolog scan sees no "<!DOCTYPE"; the parsed document's own
    # record of its internal subset still refuses it.
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<!DOCTYPE r [<!ENTITY x "y">]><r><addRequest><id>&x;</id></addRequest></r>'
    )
    path = write(tmp_path, "utf16.xml", text.encode("utf-16"))
    with pytest.raises(UnreadableFile, match="DTD interne"):
        read_all(path)


def test_undeclared_entity_is_refused(tmp_path):
    path = write(tmp_path, "e.xml", b"<r><addRequest><id>&nope;</id></addRequest></r>")
    with pytest.raises(UnreadableFile, match="e.xml"):
        read_all(path)


def test_truncated_file_is_refused(tmp_path):
    content = ELEVE.read_bytes()
    path = write(tmp_path, "cut.xml", content[: len(content) // 2])
    with pytest.raises(UnreadableFile, match="tronqué"):
        read_all(path)


def test_latin9_bytes_in_a_file_declared_utf8_are_refused(tmp_path):
    path = write(
        tmp_path,
        "latin.xml",
        '<?xml version="1.0" encoding="UTF-8"?><r><addRequest><id>Zoé</id>'
        "</addRequest></r>".encode("iso-8859-15"),
    )
    with pytest.raises(UnreadableFile, match="encodage"):
        read_all(path)


def test_utf8_bytes_in_a_file_declared_latin9_are_refused(tmp_path):
    path = write(
        tmp_path,
        "utf8.xml",
        '<?xml version="1.0" encoding="ISO-8859-15"?><r><addRequest><id>Zoé</id>'
        "</addRequest></r>".encode(),
    )
    with pytest.raises(UnreadableFile, match="ISO-8859-15 mais contient de l'UTF-8"):
        read_all(path)


def test_unknown_declared_encoding_is_refused(tmp_path):
    path = write(
        tmp_path,
        "enc.xml",
        b'<?xml version="1.0" encoding="KLINGON-1"?><r><addRequest/></r>',
    )
    with pytest.raises(UnreadableFile, match="enc.xml"):
        read_all(path)


def test_empty_and_missing_files_are_refused(tmp_path):
    with pytest.raises(UnreadableFile, match="vide"):
        read_all(write(tmp_path, "empty.xml", b"  \n"))
    with pytest.raises(UnreadableFile, match="absent.xml"):
        read_all(tmp_path / "absent.xml")


def test_root_tag_skips_declaration_comments_and_doctype():
    head = (
        b'<?xml version="1.0"?>\n<!-- a > comment -->\n'
        b'<!DOCTYPE ficAlimMENESR SYSTEM "ficAlimMENESR.dtd">\n<ficAlimMENESR>'
    )
    assert safexml.root_tag(head) == "ficAlimMENESR"
    assert safexml.root_tag(SIECLE.read_bytes()[:200]) == "BEE_ELEVES"
    assert safexml.root_tag(b"sourcedId,status\n") == ""


def test_declared_encoding_is_read_from_the_declaration():
    assert safexml.declared_encoding(SIECLE.read_bytes()[:100]) == "iso-8859-15"
    assert safexml.declared_encoding(ELEVE.read_bytes()[:100]) == ""
