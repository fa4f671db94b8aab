"""The admin's roster import pages: who may upload, what is refused, what an
import's page shows and to whom."""

import datetime as dt
import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from core import crypto
from core.roster.models import Org, RosterImport, User
from tests.conftest import login_verified, make_user

UPLOAD_URL = "/admin/roster/rosterimport/upload/"
DATA = Path(__file__).resolve().parents[1] / "data"


def page_url(roster_import: RosterImport) -> str:
    return f"/admin/roster/rosterimport/{roster_import.pk}/report/"


def staff(username: str, *perms: str, role=User.Role.ADMINISTRATOR) -> User:
    """A staff member (school-life staff of a collège) with the roster
    import ``perms``."""
    user = make_user(username, role, username.title(), "Staff")
    user.is_staff = True
    user.save()
    org, _ = Org.objects.get_or_create(uai="0350099Z", defaults={"name": "Collège"})
    user.orgs.add(org)
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="roster", codename=codename)
        )
    return user


@pytest.fixture
def storage_dir(settings, tmp_path) -> Path:
    """Keep uploads of the test in its own folder (the default storage)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def it_lead(db) -> User:
    """The collège's IT lead: staff who may add roster imports."""
    return staff("nora", "add_rosterimport")


def stored_files(storage_dir: Path) -> list[Path]:
    return sorted(p for p in storage_dir.rglob("*") if p.is_file())


def csv_file(name: str, content: bytes = b"sourcedId,status\r\nx,active\r\n"):
    return SimpleUploadedFile(name, content, content_type="text/csv")


def oneroster_files() -> list[SimpleUploadedFile]:
    folder = DATA / "oneroster" / "catalyst-v1p1-full"
    return [csv_file(path.name, path.read_bytes()) for path in sorted(folder.iterdir())]


def assert_nothing_started(storage_dir: Path) -> None:
    assert not RosterImport.objects.exists()
    assert not DBTaskResult.objects.exists()
    assert stored_files(storage_dir) == []


# Who may upload -------------------------------------------------------------


def test_anonymous_is_sent_to_the_admin_login(client, db, storage_dir):
    response = client.get(UPLOAD_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    response = client.post(UPLOAD_URL, {"files": [csv_file("users.csv")]})
    assert response.status_code == 302
    assert_nothing_started(storage_dir)


def test_teacher_who_is_not_staff_cannot_upload(client, school, storage_dir):
    login_verified(client, school.teacher)
    response = client.post(UPLOAD_URL, {"files": [csv_file("users.csv")]})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert_nothing_started(storage_dir)


def test_staff_without_the_add_permission_is_refused(client, db, storage_dir):
    login_verified(client, staff("victor", "view_rosterimport"))
    assert client.get(UPLOAD_URL).status_code == 403
    response = client.post(UPLOAD_URL, {"files": [csv_file("users.csv")]})
    assert response.status_code == 403
    assert_nothing_started(storage_dir)


def test_a_teacher_given_is_staff_and_the_permission_cannot_upload(
    client, db, storage_dir
):
    login_verified(client, staff("tom", "add_rosterimport", role=User.Role.TEACHER))
    assert client.get(UPLOAD_URL).status_code == 403
    response = client.post(UPLOAD_URL, {"files": [csv_file("users.csv")]})
    assert response.status_code == 403
    assert_nothing_started(storage_dir)


def test_staff_of_no_school_cannot_upload(client, db, storage_dir):
    lead = staff("nobody", "add_rosterimport")
    lead.orgs.clear()
    login_verified(client, lead)
    assert client.get(UPLOAD_URL).status_code == 403
    assert_nothing_started(storage_dir)


def test_it_lead_sees_the_upload_form_in_french(client, it_lead):
    login_verified(client, it_lead)
    response = client.get(UPLOAD_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Importer un annuaire" in html
    assert 'type="file"' in html and "multiple" in html
    assert "Simulation" in html
    # The token and the checkbox come before the files (a stopped upload
    # loses the fields after it).
    assert html.index("csrfmiddlewaretoken") < html.index('type="file"')
    assert html.index('name="dry_run"') < html.index('type="file"')


def test_csrf_is_checked_on_the_upload(it_lead, storage_dir):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    login_verified(client, it_lead)
    response = client.post(UPLOAD_URL, {"files": [csv_file("users.csv")]})
    assert response.status_code == 403
    assert_nothing_started(storage_dir)


# A valid upload ---------------------------------------------------------------


def test_upload_stores_the_files_queues_the_task_and_shows_the_import(
    client, it_lead, storage_dir
):
    login_verified(client, it_lead)
    response = client.post(UPLOAD_URL, {"files": oneroster_files(), "dry_run": "on"})
    roster_import = RosterImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == page_url(roster_import)
    assert roster_import.created_by == it_lead
    assert roster_import.dry_run is True
    assert roster_import.status == RosterImport.Status.QUEUED
    assert sorted(roster_import.file_names) == sorted(
        p.name for p in (DATA / "oneroster" / "catalyst-v1p1-full").iterdir()
    )
    task = DBTaskResult.objects.get()
    assert task.task_path == "core.roster.tasks.run_roster_import"
    import_id, names = task.args_kwargs["args"]
    assert import_id == roster_import.pk
    files = stored_files(storage_dir)
    assert sorted(path.name for path in files) == sorted(roster_import.file_names)
    # Under a folder of its own, outside anything served.
    assert {path.parent.name.split("-")[0] for path in files} == {str(roster_import.pk)}
    assert all(path.parent.parent.name == "roster-imports" for path in files)
    # Encrypted while it waits (tests/roster/test_upload_privacy.py).
    stored = next(p for p in files if p.name == "users.csv").read_bytes()
    plain = io.BytesIO()
    crypto.decrypt_stream(io.BytesIO(stored), plain)
    assert (DATA / "oneroster" / "catalyst-v1p1-full" / "users.csv").read_bytes() == (
        plain.getvalue()
    )
    assert b"mary.jones" not in stored
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "<progress" in html
    assert "En attente" in html  # queued
    assert "users.csv" in html


def test_superuser_may_upload(client, db, storage_dir):
    root = User.objects.create_superuser("root", "root@example.org", "pw", role="")
    login_verified(client, root)
    response = client.post(UPLOAD_URL, {"files": [csv_file("users.csv")]})
    assert response.status_code == 302
    assert RosterImport.objects.get().created_by == root
    assert RosterImport.objects.get().dry_run is False


# What is refused --------------------------------------------------------------


def test_no_file_is_refused_clearly(client, it_lead, storage_dir):
    login_verified(client, it_lead)
    response = client.post(UPLOAD_URL, {"dry_run": "on"})
    assert response.status_code == 200
    assert "Choisissez au moins un fichier" in response.content.decode()
    assert_nothing_started(storage_dir)


def test_an_empty_file_is_refused_by_name_and_nothing_is_kept(
    client, it_lead, storage_dir
):
    login_verified(client, it_lead)
    response = client.post(
        UPLOAD_URL, {"files": [csv_file("orgs.csv"), csv_file("users.csv", b"")]}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Le fichier « users.csv » est vide." in html
    assert "rien n’a été enregistré" in html
    assert_nothing_started(storage_dir)


def test_an_oversized_file_is_refused_without_being_kept(
    client, it_lead, storage_dir, settings
):
    settings.ROSTER_UPLOAD_MAX_BYTES = 1000
    login_verified(client, it_lead)
    response = client.post(
        UPLOAD_URL,
        {
            "dry_run": "on",
            "files": [csv_file("orgs.csv"), csv_file("users.csv", b"x" * 5000)],
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Le fichier « users.csv » dépasse 1000" in html
    assert_nothing_started(storage_dir)


def test_files_too_big_together_are_refused(client, it_lead, storage_dir, settings):
    settings.ROSTER_UPLOAD_MAX_TOTAL_BYTES = 6000
    login_verified(client, it_lead)
    files = [csv_file(f"part{i}.csv", b"y" * 2500) for i in range(3)]
    response = client.post(UPLOAD_URL, {"files": files})
    assert "Les fichiers dépassent ensemble 5,9" in response.content.decode()
    assert_nothing_started(storage_dir)


def test_too_many_files_are_refused(client, it_lead, storage_dir, settings):
    settings.ROSTER_UPLOAD_MAX_FILES = 2
    login_verified(client, it_lead)
    files = [csv_file(f"part{i}.csv") for i in range(3)]
    response = client.post(UPLOAD_URL, {"files": files})
    assert "Envoyez au plus 2 fichiers" in response.content.decode()
    assert_nothing_started(storage_dir)


def test_two_files_of_the_same_name_are_refused(client, it_lead, storage_dir):
    login_verified(client, it_lead)
    response = client.post(
        UPLOAD_URL, {"files": [csv_file("users.csv"), csv_file("Users.csv")]}
    )
    assert "Deux fichiers s’appellent « Users.csv »" in response.content.decode()
    assert_nothing_started(storage_dir)


def test_names_that_are_the_same_once_stored_are_refused(client, it_lead, storage_dir):
    login_verified(client, it_lead)
    response = client.post(
        UPLOAD_URL,
        {"files": [csv_file("eleves 2026.csv"), csv_file("eleves_2026.csv")]},
    )
    assert "Deux fichiers s’appellent « eleves_2026.csv »" in response.content.decode()
    assert_nothing_started(storage_dir)


def test_a_file_name_cannot_leave_the_imports_folder(client, it_lead, storage_dir):
    login_verified(client, it_lead)
    response = client.post(UPLOAD_URL, {"files": [csv_file("../../../evil.csv")]})
    assert response.status_code == 302
    [path] = stored_files(storage_dir)
    assert path.name == "evil.csv"
    assert path.parent.parent == storage_dir / "roster-imports"


def test_a_storage_failure_leaves_no_import_and_no_file(
    client, it_lead, storage_dir, monkeypatch
):
    from django.core.files.storage import FileSystemStorage

    original = FileSystemStorage._save
    calls = []

    def failing_save(self, name, content):
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(self, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", failing_save)
    login_verified(client, it_lead)
    client.raise_request_exception = False
    response = client.post(
        UPLOAD_URL, {"files": [csv_file("orgs.csv"), csv_file("users.csv")]}
    )
    assert response.status_code == 500
    assert len(calls) == 2
    assert_nothing_started(storage_dir)


def test_the_upload_handler_stops_reading_past_the_limit(rf):
    from core.roster.uploads import Limits, QuotaUploadHandler

    files = [
        csv_file("a.csv", b"a" * 500),
        csv_file("big.csv", b"b" * 5000),
        csv_file("c.csv"),
    ]
    request = rf.post("/", {"dry_run": "on", "files": files})
    quota = QuotaUploadHandler(request, limits=Limits(1000, 10_000, 5))
    request.upload_handlers.insert(0, quota)
    received = request.FILES.getlist("files")
    assert quota.problem.startswith("Le fichier « big.csv » dépasse 1000")
    assert [file.name for file in received] == ["a.csv"]  # nothing after
    assert request.POST["dry_run"] == "on"  # fields before the files arrive


# Who sees an import ------------------------------------------------------------


def make_import(created_by, **fields) -> RosterImport:
    fields.setdefault("file_names", ["users.csv"])
    return RosterImport.objects.create(created_by=created_by, **fields)


def test_an_import_is_seen_by_its_admin_and_readers_only(client, school, it_lead):
    roster_import = make_import(it_lead)
    url = page_url(roster_import)
    state = url + "state/"
    login_verified(client, it_lead)
    assert client.get(url).status_code == 200
    assert client.get(state).status_code == 200

    login_verified(client, staff("other", "add_rosterimport"))
    assert client.get(url).status_code == 404
    assert client.get(state).status_code == 404

    login_verified(client, staff("reader", "view_rosterimport"))
    assert client.get(url).status_code == 200

    # A reader of another school does not see this school's imports.
    stranger = staff("stranger", "view_rosterimport")
    stranger.orgs.set([Org.objects.create(name="Autre", uai="0350098Y")])
    login_verified(client, stranger)
    assert client.get(url).status_code == 404

    login_verified(client, User.objects.create_superuser("root", "r@example.org", "pw"))
    assert client.get(url).status_code == 200

    login_verified(client, school.cpe)  # not staff
    assert client.get(url).status_code == 302
    assert client.get(state).status_code == 302

    assert client.get("/admin/roster/rosterimport/999999/report/").status_code == 302
    login_verified(client, it_lead)
    assert client.get("/admin/roster/rosterimport/999999/report/").status_code == 404


def test_the_list_of_past_imports_shows_only_ones_own(client, it_lead):
    other = staff("other", "add_rosterimport")
    mine = make_import(it_lead, status=RosterImport.Status.DONE)
    theirs = make_import(other, file_names=["secret-theirs.xml"])
    login_verified(client, it_lead)
    response = client.get("/admin/roster/rosterimport/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"/admin/roster/rosterimport/{mine.pk}/change/" in html
    assert "secret-theirs.xml" not in html
    assert UPLOAD_URL in html  # the changelist's button
    # The admin's own pages of an import lead to its live page.
    change = client.get(f"/admin/roster/rosterimport/{mine.pk}/change/")
    assert change["Location"] == page_url(mine)
    assert client.get(
        f"/admin/roster/rosterimport/{theirs.pk}/change/"
    ).status_code in (
        302,
        404,
    )
    assert client.get(page_url(theirs)).status_code == 404
    assert client.get("/admin/roster/rosterimport/add/")["Location"] == UPLOAD_URL


def test_the_admin_home_offers_the_upload_to_those_who_may(client, it_lead):
    login_verified(client, it_lead)
    assert UPLOAD_URL in client.get("/admin/").content.decode()
    login_verified(client, staff("reader", "view_rosterimport"))
    assert UPLOAD_URL not in client.get("/admin/").content.decode()


# What an import's page shows ------------------------------------------------------


REPORT = {
    "counts": {
        "person": {
            "created": 3,
            "updated": 1,
            "deactivated": 0,
            "unchanged": 2,
            "rejected": 1,
        },
        "enrollment": {"created": 4, "rejected": 0},
    },
    "rejections": [
        {
            "file": "users.csv",
            "line": 7,
            "kind": "person",
            "reason": "<script>alert(1)</script> sans identifiant",
        }
    ],
    "warnings": ["demographics.csv ignoré"],
}


def test_a_done_import_shows_its_report_escaped(client, it_lead):
    roster_import = make_import(
        it_lead,
        status=RosterImport.Status.DONE,
        progress=10,
        total=10,
        report=REPORT,
        finished_at=timezone.now(),
    )
    login_verified(client, it_lead)
    html = client.get(page_url(roster_import)).content.decode()
    assert 'value="10"' in html
    assert "Personnes" in html and "Inscriptions" in html
    assert "users.csv:7</span> · personne ·" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; sans identifiant" in html
    assert "demographics.csv ignoré" in html
    assert "1 ligne rejetée" in html
    # The live fragment is the same state.
    state = client.get(page_url(roster_import) + "state/").content.decode()
    assert "users.csv:7" in state and "<html" not in state


def test_ten_thousand_rejections_are_paginated(client, it_lead):
    rejections = [
        {"file": "Eleve.xml", "line": n, "kind": "person", "reason": "INE absent"}
        for n in range(1, 10_001)
    ]
    roster_import = make_import(
        it_lead,
        status=RosterImport.Status.DONE,
        report={"counts": {}, "rejections": rejections},
    )
    login_verified(client, it_lead)
    html = client.get(page_url(roster_import)).content.decode()
    assert html.count("Eleve.xml:") == 50
    assert "Eleve.xml:50<" in html and "Eleve.xml:51<" not in html
    assert "10000 lignes rejetées" in html or "10 000 lignes rejetées" in html
    assert "9950 de plus" in html or "9 950 de plus" in html
    last = client.get(page_url(roster_import) + "?page=200").content.decode()
    assert "Eleve.xml:10000<" in last and "Eleve.xml:9950<" not in last


def test_a_failed_import_shows_its_error_escaped(client, it_lead):
    roster_import = make_import(
        it_lead,
        status=RosterImport.Status.FAILED,
        error="Le fichier « <b>x.xml</b> » n’est pas un fichier AAF.",
        finished_at=timezone.now() - dt.timedelta(minutes=1),
    )
    login_verified(client, it_lead)
    html = client.get(page_url(roster_import)).content.decode()
    assert "L’import a échoué" in html
    assert "&lt;b&gt;x.xml&lt;/b&gt;" in html


def test_the_page_follows_the_admins_own_stream_from_the_rendered_offset(
    client, it_lead
):
    from hub.streams import positions

    roster_import = make_import(it_lead)
    login_verified(client, it_lead)
    response = client.get(page_url(roster_import))
    stream = f"user:{it_lead.pk}"
    epoch, offset = positions([stream])[stream]
    assert response.context["live_positions"] == {
        stream: {"epoch": epoch, "offset": offset}
    }
    html = response.content.decode()
    assert 'id="hub-positions"' in html
    assert "hub/roster-import.js" in html
    assert response.context["live_config"]["import_id"] == roster_import.pk
