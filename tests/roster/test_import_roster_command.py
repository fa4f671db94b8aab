"""``manage.py import_roster``: the printed report, --dry-run, refusals,
the RosterImport row, the progress bar on a terminal."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from core.audit.models import AuditEntry
from core.roster.models import Org, RosterImport, User
from tests.conftest import capture_events, make_user

pytestmark = pytest.mark.django_db

AAF = Path(__file__).parent / "fixtures" / "aaf"
COMPLETE = sorted((AAF / "complete").iterdir())


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def import_roster(*args, stderr=None) -> str:
    out = io.StringIO()
    call_command(
        "import_roster", *map(str, args), stdout=out, stderr=stderr or io.StringIO()
    )
    return out.getvalue()


def test_it_prints_counts_per_kind_and_each_rejected_row():
    output = import_roster(*COMPLETE)

    lines = output.splitlines()
    assert lines[0].startswith("Import aaf (complet) : ")
    assert any(
        line.split(":")[0].strip() == "Personnes"
        and "12 créés, 0 mis à jour, 0 désactivés ou terminés, 0 inchangés, 3 rejetés"
        in line
        for line in lines
    ), output
    assert (
        "  FICTIF_Complet_20260901_Eleve_0001.xml:28: person: "
        "personne 5000005 : nom ou prénom manquant"
    ) in lines
    assert "Lignes rejetées (8) :" in lines


def test_it_records_the_run_and_who_ran_it():
    admin = make_user("admin", User.Role.ADMINISTRATOR, "Ada", "Min")
    call_command(
        "import_roster", *map(str, COMPLETE), "--by", "admin", stdout=io.StringIO()
    )
    job = RosterImport.objects.get()
    assert (job.status, job.created_by, job.source, job.dry_run) == (
        RosterImport.Status.DONE,
        admin,
        "aaf",
        False,
    )
    assert job.report["counts"]["org"]["created"] == 2
    assert AuditEntry.objects.get(action="roster.imported").actor_id == admin.pk


def test_an_unknown_admin_is_refused_before_anything_is_read():
    with pytest.raises(CommandError, match="Utilisateur inconnu"):
        import_roster(*COMPLETE, "--by", "nobody")
    assert not Org.objects.exists()


def test_dry_run_prints_the_report_and_writes_nothing():
    with capture_events() as events:
        output = import_roster(*COMPLETE, "--dry-run")
    assert output.startswith("Simulation (rien n'a été écrit)")
    assert "12 créés" in output
    assert events == []
    assert not Org.objects.exists()
    assert not User.objects.exists()
    assert not RosterImport.objects.exists()
    assert not AuditEntry.objects.exists()


def test_an_unreadable_file_is_a_clear_error_and_nothing_is_written(tmp_path):
    junk = tmp_path / "eleves.pdf"
    junk.write_bytes(b"%PDF-1.4 not a roster")
    with pytest.raises(CommandError) as error:
        import_roster(COMPLETE[0], junk)
    assert str(error.value) == (
        "Import refusé, rien n'a été importé. eleves.pdf : format non reconnu "
        "(ni AAF, ni SIECLE, ni OneRoster)."
    )
    assert not Org.objects.exists()
    assert not RosterImport.objects.exists()


def test_a_file_broken_halfway_is_refused_and_writes_no_roster_row(tmp_path):
    broken = tmp_path / COMPLETE[0].name
    broken.write_bytes(COMPLETE[0].read_bytes()[:-300])
    with pytest.raises(CommandError, match="Import refusé") as error:
        import_roster(broken, *COMPLETE[1:])
    assert broken.name in str(error.value)
    assert not Org.objects.exists() and not User.objects.exists()
    # The run itself is on record, failed.
    job = RosterImport.objects.get()
    assert job.status == RosterImport.Status.FAILED and broken.name in job.error


def test_a_progress_bar_goes_to_stderr_on_a_terminal_only():
    terminal = Terminal()
    import_roster(*COMPLETE, "--dry-run", stderr=terminal)
    assert "Lecture" in terminal.getvalue()
    assert "o/s" in terminal.getvalue() or "o]" in terminal.getvalue()

    plain = io.StringIO()
    import_roster(*COMPLETE, stderr=plain)
    assert plain.getvalue() == ""
