"""Activation letters: the PDF's text and QR codes, read back from the file.

The text is extracted with pypdf and the QR codes decoded with zxing-cpp
from the images pypdf pulls out of each page: what a parent's phone reads.
"""

import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from core.accounts import actions
from core.accounts.models import ActivationCode
from core.audit.models import AuditEntry
from core.roster.models import User

CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}\b")


def pages_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def qr_links(pdf: bytes) -> list[str]:
    links = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        found = []
        for image in page.images:
            found += [r.text for r in zxingcpp.read_barcodes(image.image)]
        assert len(found) == 1, "one QR code per page"
        links += found
    return links


def fragment(link: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(link).fragment).items()}


def addressee(page: str) -> str:
    """Return the name a letter's page is addressed to ("de Léa", "d’Alice")."""
    return re.search(r"À l'attention (?:de |d’)(.*)", page).group(1)


@pytest.fixture
def letters(imported, settings):
    settings.SITE_URL = "https://ent.example.org"
    users = actions.users_of(org=imported.org)
    pdf, count = actions.print_letters(users=users, issued_by=imported.cpe)
    return imported, pdf, count


def test_letters_have_one_page_per_pending_guardian_and_pupil(letters):
    school, pdf, count = letters
    pages = pages_of(pdf)
    # Org of Victor Hugo: pupils Léa, Hugo, Chloé; guardians Karim, Sophie.
    # Hugo and Chloé have a usable password already: no letter.
    assert count == len(pages) == 3
    assert "À l'attention de Karim Dubois" in pages[0]
    assert "À l'attention de Léa Dubois" in pages[1]
    assert "À l'attention de Sophie Petit" in pages[2]


def test_guardian_page_lists_children_with_classes_login_and_code(letters):
    school, pdf, _ = letters
    karim = pages_of(pdf)[0]
    assert "Collège Victor Hugo" in karim
    assert "Léa Dubois : 4e B (Collège Victor Hugo)" in karim
    assert "Inès Dubois : 5e C (Collège Jules Verne)" in karim
    assert "karim" in karim
    assert "https://ent.example.org/activer/" in karim
    assert "Valable une seule fois, jusqu'au" in karim
    assert len(CODE.findall(karim)) == 1


def test_pupil_page_names_their_class(letters):
    _, pdf, _ = letters
    lea = pages_of(pdf)[1]
    assert "Classe : 4e B (Collège Victor Hugo)" in lea
    assert "lea" in lea


def test_qr_code_opens_activation_with_login_and_the_printed_code(letters):
    school, pdf, _ = letters
    pages = pages_of(pdf)
    links = qr_links(pdf)
    for page, link, login in zip(pages, links, ["karim", "lea", "sophie"], strict=True):
        assert link.startswith("https://ent.example.org/activer/#")
        values = fragment(link)
        assert values == {"login": login, "code": CODE.findall(page)[0]}
        assert actions.check_code(login=login, code=values["code"]) is not None


def test_printed_codes_are_stored_only_as_hashes(letters):
    _, pdf, _ = letters
    printed = {c for page in pages_of(pdf) for c in CODE.findall(page)}
    stored = list(ActivationCode.objects.values_list("code_hash", flat=True))
    assert len(stored) == 3
    for code in printed:
        assert all(code not in h and code.replace("-", "") not in h for h in stored)


def test_printing_again_leaves_out_holders_of_a_live_code(letters):
    school, pdf, _ = letters
    assert actions.print_letters(users=actions.users_of(org=school.org)) == (b"", 0)
    old = CODE.findall(pages_of(pdf)[0])[0]
    assert actions.check_code(login="karim", code=old) is not None


def test_sibling_classes_printed_one_after_the_other_give_one_letter(imported):
    # Karim's Léa is in 4e B; give him a child in 3e A too.
    from core.roster.models import GuardianLink

    GuardianLink.objects.create(guardian=imported.parent, student=imported.pupil3)
    first, _ = actions.print_letters(
        users=actions.users_of(org=imported.org, school_class=imported.class_4b)
    )
    second, _ = actions.print_letters(
        users=actions.users_of(org=imported.org, school_class=imported.class_3a)
    )
    assert "Karim Dubois" in pages_of(first)[0]
    assert second == b""  # Chloé is active, Karim has his letter
    code = CODE.findall(pages_of(first)[0])[0]
    assert actions.check_code(login="karim", code=code) is not None


def test_reissue_prints_new_codes_and_old_ones_stop_working(letters):
    school, pdf, _ = letters
    old = CODE.findall(pages_of(pdf)[0])[0]
    again, _ = actions.print_letters(
        users=User.objects.filter(pk=school.parent.pk), reissue=True
    )
    new = CODE.findall(pages_of(again)[0])[0]
    assert new != old
    assert actions.check_code(login="karim", code=old) is None
    assert actions.check_code(login="karim", code=new) is not None


def test_activated_accounts_get_no_letter(letters):
    school, _, _ = letters
    pdf, count = actions.print_letters(users=User.objects.filter(pk=school.pupil2.pk))
    assert (pdf, count) == (b"", 0)


def test_issuing_is_in_the_audit_log_without_the_code(letters):
    school, pdf, _ = letters
    entries = AuditEntry.objects.filter(action="account.code_issued")
    assert entries.count() == 3
    assert {e.actor_name for e in entries} == {"paul"}
    dumped = str(list(entries.values()))
    for code in CODE.findall("".join(pages_of(pdf))):
        assert code not in dumped


def test_command_writes_letters_of_one_class(imported, tmp_path):
    out = tmp_path / "4eB.pdf"
    stdout = io.StringIO()
    call_command(
        "make_activation_letters",
        "--org",
        "0350001A",
        "--class",
        "4e B",
        str(out),
        stdout=stdout,
    )
    pages = pages_of(out.read_bytes())
    # 4e B: Léa (pending) with Karim; Hugo (active) with Sophie (pending).
    assert [addressee(p) for p in pages] == [
        "Karim Dubois",
        "Léa Dubois",
        "Sophie Petit",
    ]
    assert "3 lettre(s)" in stdout.getvalue()
    # Activation codes in clear: readable by their owner only (issue 13).
    assert out.stat().st_mode & 0o777 == 0o600
    # Again: everyone holds a live code now.
    stdout = io.StringIO()
    call_command(
        "make_activation_letters",
        "--org",
        "0350001A",
        "--class",
        "4e B",
        str(out),
        stdout=stdout,
    )
    assert "Aucun compte n'attend de lettre" in stdout.getvalue()
    stdout = io.StringIO()
    call_command(
        "make_activation_letters",
        "--org",
        "0350001A",
        "--class",
        "4e B",
        "--reissue",
        str(out),
        stdout=stdout,
    )
    assert "3 lettre(s)" in stdout.getvalue()


def test_command_refuses_unknown_school_or_class(imported, tmp_path):
    with pytest.raises(CommandError, match="Aucun établissement n'a l'UAI"):
        call_command(
            "make_activation_letters", "--org", "9999999Z", str(tmp_path / "x.pdf")
        )
    with pytest.raises(CommandError, match="n'a pas de classe « 6e Z »"):
        call_command(
            "make_activation_letters",
            "--org",
            "0350001A",
            "--class",
            "6e Z",
            str(tmp_path / "x.pdf"),
        )
    assert not ActivationCode.objects.exists()


def test_org_letters_include_its_teachers_and_staff_class_letters_its_teachers(
    imported,
):
    for user in (imported.teacher, imported.cpe, imported.outsider):
        user.set_unusable_password()
        user.save()
    pdf, _ = actions.print_letters(
        users=actions.users_of(org=imported.org, school_class=imported.class_4b)
    )
    names = [addressee(p) for p in pages_of(pdf)]
    assert "Alice Martin" in names and "Paul Girard" not in names
    alice = pages_of(pdf)[names.index("Alice Martin")]
    assert "À l'attention d’Alice Martin" in alice  # not "de Alice"
    assert "Collège Victor Hugo" in alice and "à l'appel" in " ".join(alice.split())
    pdf, _ = actions.print_letters(users=actions.users_of(org=imported.org))
    names = [addressee(p) for p in pages_of(pdf)]
    assert names == ["Paul Girard"]  # the others hold live codes now
    assert "Oscar Lenoir" not in names  # a teacher of the other school


def test_a_pdf_that_fails_to_render_issues_no_code_and_keeps_the_old_ones(
    letters, monkeypatch
):
    school, pdf, _ = letters
    old = CODE.findall(pages_of(pdf)[0])[0]
    codes_before = ActivationCode.objects.count()

    def broken(letters):
        raise RuntimeError("font without this glyph")

    monkeypatch.setattr(actions, "render_letters", broken)
    with pytest.raises(RuntimeError):
        actions.print_letters(
            users=User.objects.filter(pk=school.parent.pk), reissue=True
        )
    assert ActivationCode.objects.count() == codes_before
    assert actions.check_code(login="karim", code=old) is not None


def test_command_that_cannot_write_its_file_issues_no_code(imported, tmp_path):
    out = tmp_path / "letters.pdf"
    out.mkdir()  # a folder where the file should go: the write fails
    with pytest.raises(CommandError, match="Impossible d'écrire"):
        call_command("make_activation_letters", "--org", "0350001A", str(out))
    assert not ActivationCode.objects.exists()


def test_staff_letters_read_their_schools_once_for_all(imported):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    staff = (imported.teacher, imported.cpe, imported.outsider)
    for user in staff:
        user.set_unusable_password()
        user.save()
    with CaptureQueriesContext(connection) as queries:
        pdf, count = actions.print_letters(
            users=User.objects.filter(pk__in=[u.pk for u in staff])
        )
    assert count == 3
    school_reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and '"roster_org"' in q["sql"]
    ]
    assert len(school_reads) <= 2  # staff orgs, then taught classes' orgs
    pages = {addressee(p): p for p in pages_of(pdf)}
    assert "Collège Victor Hugo" in pages["Alice Martin"]
    assert "Collège Victor Hugo" in pages["Paul Girard"]
    assert "Collège Jules Verne" in pages["Oscar Lenoir"]
    assert "Collège Victor Hugo" not in pages["Oscar Lenoir"]
