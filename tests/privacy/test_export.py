"""A family downloads what the hub holds about them: the zip's contents
(files included) hold their data and their children's, never another
family's or what they may not see; the e-mail reaches a real SMTP server;
the link works for its owner only, logged in, until it expires."""

import datetime as dt
import io
import json
import os
import re
import zipfile

import pytest
from django.urls import reverse

from core import files
from core.audit.models import AuditEntry
from core.privacy import actions
from core.privacy.models import DataExport
from core.privacy.retention import purge_expired_data
from tests.conftest import login_verified
from tests.delivery.helpers import run_tasks
from tests.privacy.conftest import (
    KARIM_ATTACHMENT,
    KARIM_PDF,
    SOPHIE_ATTACHMENT,
    SOPHIE_PNG,
)

LINK = re.compile(r"https://ent\.example\.org/\S+")


@pytest.fixture
def export_of(django_capture_on_commit_callbacks):
    """Request ``user``'s export, run its task; return it and its zip."""

    def export_of(user) -> tuple[DataExport, zipfile.ZipFile]:
        with django_capture_on_commit_callbacks(execute=True):
            export, created = actions.request_export(user)
        assert created
        assert run_tasks() == 1
        export.refresh_from_db()
        assert export.status == DataExport.Status.READY
        return export, zipfile.ZipFile(io.BytesIO(files.read_decrypted(export.file)))

    return export_of


def load(archive: zipfile.ZipFile, name: str):
    return json.loads(archive.read(name))


def everything(archive: zipfile.ZipFile) -> bytes:
    return b"\n".join(archive.read(name) for name in archive.namelist())


def test_a_guardians_zip_holds_their_family_and_nothing_of_another(
    families, mailer, export_of
):
    school = families.school
    export, archive = export_of(school.parent)
    names = set(archive.namelist())
    assert {
        "LISEZMOI.txt",
        "profil.json",
        "responsables.json",
        "classes.json",
        "emploi_du_temps.json",
        "absences.json",
        "justificatifs.json",
        "messages.json",
        "notifications.json",
        "preferences.json",
        "appareils.json",
        "journal.json",
    } <= names

    people = {p["login"]: p for p in load(archive, "profil.json")}
    assert set(people) == {"karim", "lea", "ines"}
    assert people["karim"]["email"] == "karim.dubois@example.org"
    assert {s["uai"] for s in people["ines"]["schools"]} == {"0350002B"}

    absences = load(archive, "absences.json")
    # Léa (4e B) and Inès (the other school), never Hugo of the same class.
    assert sorted((a["pupil"]["name"], a["status"]) for a in absences) == [
        ("Inès Dubois", "late"),
        ("Léa Dubois", "absent"),
    ]
    excuses = {e["id"]: e for e in load(archive, "justificatifs.json")}
    assert set(excuses) == {families.karim_excuse.pk, families.ines_excuse.pk}
    lea_excuse = excuses[families.karim_excuse.pk]
    assert lea_excuse["status"] == "accepted"
    assert lea_excuse["comment"] == "Léa avait de la fièvre (Karim)"
    assert archive.read(lea_excuse["document"]) == KARIM_PDF
    assert lea_excuse["document"].endswith(".pdf")  # named by its content

    conversations = {c["subject"]: c for c in load(archive, "messages.json")}
    assert set(conversations) == {"Autorisation de Karim Dubois", "Sortie au musée"}
    direct = conversations["Autorisation de Karim Dubois"]["messages"]
    assert [m["text"] for m in direct] == [
        "Pouvez-vous signer l'autorisation ?",
        "C'est signé. Karim Dubois",
    ]
    attachment = direct[0]["attachments"][0]
    assert attachment["name"] == "autorisation.pdf"
    assert archive.read(attachment["file"]) == KARIM_ATTACHMENT
    class_wide = [m["text"] for m in conversations["Sortie au musée"]["messages"]]
    assert class_wide == ["Sortie au musée jeudi.", "Réponse de la famille Dubois"]

    timetable = load(archive, "emploi_du_temps.json")
    assert {o["subject"] for o in timetable} == {"Mathématiques", "Histoire"}
    devices = load(archive, "appareils.json")
    assert [d["user_agent"] for d in devices] == ["Firefox Android"]
    notifications = load(archive, "notifications.json")["notifications"]
    assert any("Léa Dubois" in n["title"] for n in notifications)
    journal = load(archive, "journal.json")
    assert "data_export.requested" in {e["action"] for e in journal}

    # Nothing of the other family, of the other family's files, or of keys.
    blob = everything(archive)
    for foreign in (
        b"Hugo Petit",
        b"Sophie",
        b"Petit",
        b"dentiste",
        SOPHIE_PNG,
        SOPHIE_ATTACHMENT,
        families.push.p256dh.encode(),
        families.push.auth.encode(),
    ):
        assert foreign not in blob, foreign

    # The e-mail reached the real SMTP server, with the link.
    sent = [
        m
        for m in mailer.messages
        if m.message["Subject"] == "Vos données Hub ENT sont prêtes"
    ]
    assert len(sent) == 1
    assert sent[0].rcpt_tos == ["karim.dubois@example.org"]
    text = sent[0].message.get_body(("plain",)).get_content()
    link = LINK.findall(text)[0]
    assert link == "https://ent.example.org" + reverse(
        "privacy:download", args=[export.pk]
    )
    # Stored encrypted: the file on disk is not the zip.
    with export.file.open("rb") as handle:
        stored = handle.read()
    assert not stored.startswith(b"PK") and b"certificat" not in stored


def test_a_pupil_exports_their_own_data_only(families, export_of):
    _, archive = export_of(families.school.pupil)
    people = load(archive, "profil.json")
    assert [p["login"] for p in people] == ["lea"]
    absences = load(archive, "absences.json")
    assert [a["pupil"]["name"] for a in absences] == ["Léa Dubois"]
    # A pupil may not download excuse documents (attendance access rule).
    excuses = load(archive, "justificatifs.json")
    assert [e["document"] for e in excuses] == [None]
    assert load(archive, "messages.json") == []
    assert b"Hugo Petit" not in everything(archive)
    assert b"Karim" not in archive.read("absences.json")


def test_the_other_family_sees_only_theirs(families, export_of):
    _, archive = export_of(families.school.other_parent)
    absences = load(archive, "absences.json")
    assert [a["pupil"]["name"] for a in absences] == ["Hugo Petit"]
    excuse = load(archive, "justificatifs.json")[0]
    assert archive.read(excuse["document"]) == SOPHIE_PNG
    assert excuse["document"].endswith(".png")
    blob = everything(archive)
    assert b"Karim" not in blob and KARIM_PDF not in blob
    assert "Léa".encode() not in blob and "Inès".encode() not in blob
    texts = [m["text"] for c in load(archive, "messages.json") for m in c["messages"]]
    assert "Réponse de la famille Dubois" not in texts
    assert "Question privée de la famille Petit" in texts


def test_the_link_works_for_its_owner_only_and_until_it_expires(
    families, client, time_machine, export_of
):
    school = families.school
    export, _ = export_of(school.parent)
    url = reverse("privacy:download", args=[export.pk])

    assert client.get(url).status_code == 302  # not logged in: the login page
    login_verified(client, school.other_parent)
    assert client.get(url).status_code == 404
    login_verified(client, school.cpe)
    assert client.get(url).status_code == 404

    login_verified(client, school.parent)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert "absences.json" in archive.namelist()
    assert AuditEntry.objects.filter(
        action="data_export.downloaded", actor_id=school.parent.pk
    ).exists()

    time_machine.shift(dt.timedelta(days=7, minutes=1))
    assert client.get(url).status_code == 404
    path = export.file.path
    assert purge_expired_data()["exports"] == 1
    export.refresh_from_db()
    assert export.status == DataExport.Status.EXPIRED
    assert not export.file
    assert not os.path.exists(path)
    # The page lists the expired request a while, then it goes.
    time_machine.shift(actions.EXPORT_ROWS_KEPT)
    purge_expired_data()
    assert not DataExport.objects.filter(pk=export.pk).exists()


def test_my_data_page_requests_once_and_shows_the_state(
    families, client, django_capture_on_commit_callbacks
):
    school = families.school
    login_verified(client, school.parent)
    page = client.get(reverse("privacy:my_data"))
    assert page.status_code == 200
    assert "Mes données" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("privacy:my_data"))
        assert response.status_code == 302
        client.post(reverse("privacy:my_data"))  # a second click: still one
    assert DataExport.objects.filter(user=school.parent).count() == 1
    page = client.get(reverse("privacy:my_data")).content.decode()
    assert "en cours de préparation" in page
    run_tasks()
    page = client.get(reverse("privacy:my_data")).content.decode()
    export = DataExport.objects.get(user=school.parent)
    assert reverse("privacy:download", args=[export.pk]) in page
    assert "prête" in page


def test_requests_are_limited_and_a_lost_one_does_not_block(
    families, client, time_machine
):
    school = families.school
    first, created = actions.request_export(school.pupil)
    assert created
    # A request whose worker was lost no longer blocks a new one.
    time_machine.shift(actions.STALE_REQUEST + dt.timedelta(minutes=1))
    second, created = actions.request_export(school.pupil)
    assert created and second.pk != first.pk
    DataExport.objects.filter(pk=second.pk).update(status=DataExport.Status.FAILED)
    actions.request_export(school.pupil)
    DataExport.objects.filter(user=school.pupil).update(status=DataExport.Status.FAILED)
    with pytest.raises(actions.TooManyExports):
        actions.request_export(school.pupil)
    login_verified(client, school.pupil)
    page = client.post(reverse("privacy:my_data"), follow=True).content.decode()
    assert "3 copies" in page
    assert DataExport.objects.filter(user=school.pupil).count() == 3


def test_a_teachers_export_holds_their_data_not_their_pupils(families, export_of):
    _, archive = export_of(families.school.teacher)
    assert [p["login"] for p in load(archive, "profil.json")] == ["alice"]
    assert load(archive, "absences.json") == []
    assert load(archive, "justificatifs.json") == []
    assert {o["subject"] for o in load(archive, "emploi_du_temps.json")} == {
        "Mathématiques"
    }
    # Conversations she takes part in, as her inbox shows them.
    subjects = {c["subject"] for c in load(archive, "messages.json")}
    assert subjects == {"Autorisation de Karim Dubois", "Sortie au musée"}
    assert KARIM_PDF not in everything(archive)


def test_files_in_the_zip_are_named_by_their_content():
    from core.privacy.export import typed_name
    from tests.messaging.helpers import PDF

    assert typed_name("facture.hta", PDF) == "facture.pdf"
    assert typed_name("../../etc/passwd", PDF) == "passwd.pdf"
    assert typed_name(".bashrc", b"plain text") == "bashrc.bin"


def test_the_journal_lists_staff_reads_without_the_staffs_address(
    families, mailer, export_of
):
    """Who read a child's records is the family's to know; the teacher's
    address is the teacher's personal data, not the family's."""
    from core.audit import log as audit

    school = families.school
    audit.record(
        actor=school.teacher,
        action="attendance.viewed",
        target_type="user",
        target_id=school.pupil.pk,
        subject_id=school.pupil.pk,
        ip="203.0.113.9",
    )
    audit.record(
        actor=school.parent,
        action="settings.saved",
        target_type="user",
        target_id=school.parent.pk,
        ip="198.51.100.7",
    )
    _, archive = export_of(school.parent)
    journal = load(archive, "journal.json")
    read = next(e for e in journal if e["action"] == "attendance.viewed")
    assert read["who"] == school.teacher.username and "ip" not in read
    own = next(e for e in journal if e["action"] == "settings.saved")
    assert own["ip"] == "198.51.100.7"
    assert b"203.0.113.9" not in everything(archive)
