"""School-life pages: who sees what (pages and downloads), the forms and
their errors, the acknowledgement list and its CSV, quiet hours."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.audit.models import AuditEntry
from core.homework.uploads import CheckedFile
from core.roster.models import GuardianLink
from core.schoollife import actions
from core.schoollife.models import Acknowledgement, Notice, Reminder
from hub.delivery import actions as delivery
from hub.delivery.models import DeliverySettings
from tests.conftest import login_verified
from tests.delivery.helpers import run_tasks
from tests.schoollife.conftest import EXE, PDF, publish


def form_data(school, **extra):
    data = {
        "org": school.org.pk,
        "roles": ["guardian"],
        "levels": ["4e"],
        "title": "Sortie au musée",
        "body": "Départ à 8 h. **Prévoir** un pique-nique : https://example.org/plan",
        "reply_kind": "yes_no",
        "requires_ack": "on",
    }
    data.update(extra)
    return data


def test_the_cpe_publishes_from_the_form(life, client):
    login_verified(client, life.cpe)
    page = client.get("/schoollife/new/")
    assert page.status_code == 200
    assert "4e" in page.content.decode()
    response = client.post(
        "/schoollife/new/",
        {**form_data(life), "attachments": SimpleUploadedFile("plan.pdf", PDF)},
    )
    notice = Notice.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/schoollife/{notice.pk}/status/"
    assert notice.reply_kind == "yes_no" and notice.requires_ack
    assert notice.attachments.get().name == "plan.pdf"
    assert notice.published_at is not None


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"body": "x" * 10_001}, "10000"),
        ({"classes": ["999999"]}, "999999"),
        ({"roles": ["janitor"]}, "janitor"),
    ],
)
def test_hostile_form_input_gets_a_clear_error_and_keeps_the_text(
    life, client, extra, message
):
    login_verified(client, life.cpe)
    response = client.post("/schoollife/new/", form_data(life, **extra))
    assert response.status_code == 200
    content = response.content.decode()
    assert message in content
    assert "Sortie au musée" in content
    assert Notice.objects.count() == 0


def test_a_class_of_another_school_in_the_audience_is_refused(life, client):
    """A CPE of both schools names a class of the other school."""
    life.cpe.orgs.add(life.other_org)
    login_verified(client, life.cpe)
    response = client.post(
        "/schoollife/new/",
        form_data(life, classes=[str(life.other_class.pk)], levels=[]),
    )
    assert response.status_code == 200
    assert "Une classe d&#x27;un autre établissement" in response.content.decode()
    assert Notice.objects.count() == 0


def test_a_file_that_is_not_a_document_is_refused(life, client):
    login_verified(client, life.cpe)
    response = client.post(
        "/schoollife/new/",
        {**form_data(life), "attachments": SimpleUploadedFile("plan.pdf", EXE)},
    )
    assert response.status_code == 200
    assert Notice.objects.count() == 0
    assert "plan.pdf" in response.content.decode()


def test_the_guardian_reads_and_acknowledges_with_an_answer(life, client):
    notice = publish(
        life,
        body="Sortie <script>alert(1)</script> **vendredi**",
        reply_kind=Notice.ReplyKind.YES_NO,
    )
    client.force_login(life.parent)
    listing = client.get("/schoollife/").content.decode()
    assert "Sortie au musée" in listing and "à confirmer" in listing
    page = client.get(f"/schoollife/{notice.pk}/").content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<strong>vendredi</strong>" in page
    assert "J’ai pris connaissance" in page or "J'ai pris connaissance" in page
    response = client.post(f"/schoollife/{notice.pk}/acknowledge/", {"reply": "bof"})
    assert response.status_code == 302
    assert not Acknowledgement.objects.exists()
    client.post(f"/schoollife/{notice.pk}/acknowledge/", {"reply": "yes"})
    ack = Acknowledgement.objects.get()
    assert (ack.user, ack.reply) == (life.parent, "yes")
    page = client.get(f"/schoollife/{notice.pk}/").content.decode()
    assert "Oui" in page


def test_reading_follows_the_audience_and_the_roster(life, client):
    notice = publish(life, requires_ack=True)
    attachment_notice = publish(
        life,
        attachments=[CheckedFile(name="plan.pdf", mime="application/pdf", data=PDF)],
    )
    file_url = f"/schoollife/files/{attachment_notice.attachments.get().pk}/"
    urls = [f"/schoollife/{notice.pk}/", file_url]
    for user, code in [
        (life.parent, 200),
        (life.other_parent, 200),
        (life.pupil, 404),  # guardians only
        (life.pupil3, 404),
        (life.teacher, 404),
        (life.outsider, 404),
    ]:
        login_verified(client, user)
        assert [client.get(url).status_code for url in urls] == [code, code], user
    login_verified(client, life.other_cpe)
    assert client.get(file_url).status_code == 404
    login_verified(client, life.cpe)
    assert client.get(file_url).status_code == 200
    # The link ends: the notice and its acknowledgement are gone at once.
    GuardianLink.objects.filter(guardian=life.parent, student=life.pupil).delete()
    client.force_login(life.parent)
    assert client.get(f"/schoollife/{notice.pk}/").status_code == 404
    assert client.post(f"/schoollife/{notice.pk}/acknowledge/").status_code == 404
    assert client.get(file_url).status_code == 404
    assert "Sortie au musée" not in client.get("/schoollife/").content.decode()


def test_staff_pages_are_for_the_staff_of_that_school(life, client):
    notice = publish(life, requires_ack=True)
    staff_urls = [
        f"/schoollife/{notice.pk}/status/",
        f"/schoollife/{notice.pk}/edit/",
        f"/schoollife/{notice.pk}/acknowledgements.csv",
    ]
    for user in (life.other_cpe, life.teacher, life.parent, life.pupil):
        login_verified(client, user)
        assert [client.get(url).status_code for url in staff_urls] == [404] * 3
        assert client.post(f"/schoollife/{notice.pk}/withdraw/").status_code == 404
        assert (
            client.post(f"/schoollife/{notice.pk}/remind/", {"token": "x"}).status_code
            == 404
        )
    for user in (life.teacher, life.parent, life.other_parent):
        login_verified(client, user)
        assert client.get("/schoollife/new/").status_code == 404
    login_verified(client, life.other_cpe)
    assert "Sortie au musée" not in client.get("/schoollife/").content.decode()
    login_verified(client, life.cpe)
    assert [client.get(url).status_code for url in staff_urls] == [200] * 3
    assert Notice.objects.get().withdrawn_at is None


def test_the_acknowledgement_page_names_guardians_with_their_child(life, client):
    notice = publish(life, reply_kind=Notice.ReplyKind.YES_NO)
    actions.acknowledge(notice=notice, user=life.parent, reply="no")
    login_verified(client, life.cpe)
    page = client.get(f"/schoollife/{notice.pk}/status/").content.decode()
    assert "1 sur 2" in page
    assert "Dubois Karim" in page and "Léa Dubois" in page
    assert "Petit Sophie" in page and "Hugo Petit" in page
    assert "Inès" not in page  # Karim's child of the other school
    assert AuditEntry.objects.filter(
        action="notice.acknowledgements_read", actor_id=life.cpe.pk
    ).exists()
    listing = client.get("/schoollife/").content.decode()
    assert "1 / 2" in listing


def test_the_csv_export_opens_in_a_french_spreadsheet(life, client):
    notice = publish(life, reply_kind=Notice.ReplyKind.YES_NO)
    actions.acknowledge(notice=notice, user=life.parent, reply="yes")
    life.other_parent.last_name = "=HYPERLINK(1)"
    life.other_parent.save()
    login_verified(client, life.cpe)
    response = client.get(f"/schoollife/{notice.pk}/acknowledgements.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].split(";")[0] == "Classe"
    assert "4e B;Dubois;Karim;" in lines[1] and lines[1].endswith(";Oui")
    assert "'=HYPERLINK(1)" in lines[2]
    assert AuditEntry.objects.filter(action="notice.acknowledgements_exported").exists()


def test_remind_edit_and_withdraw_from_the_pages(life, client):
    notice = publish(life, requires_ack=True)
    login_verified(client, life.cpe)
    page = client.get(f"/schoollife/{notice.pk}/status/").content.decode()
    assert "Relancer" in page
    for _ in range(2):  # the same form sent twice reminds once
        client.post(f"/schoollife/{notice.pk}/remind/", {"token": "abc"})
    assert Reminder.objects.get().recipients == 2
    response = client.post(
        f"/schoollife/{notice.pk}/edit/",
        {"title": "Sortie reportée", "body": "Au 2 février."},
    )
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.title == "Sortie reportée" and notice.edited_at
    client.post(f"/schoollife/{notice.pk}/withdraw/")
    notice.refresh_from_db()
    assert notice.withdrawn_at is not None
    client.force_login(life.parent)
    assert client.get(f"/schoollife/{notice.pk}/").status_code == 404


def test_a_planned_notice_is_not_shown_before_its_time(life, client):
    login_verified(client, life.cpe)
    client.post(
        "/schoollife/new/",
        form_data(life, publish_at="2026-01-20T08:00", reply_kind="none"),
    )
    notice = Notice.objects.get()
    assert notice.published_at is None
    assert "prévue" in client.get("/schoollife/").content.decode()
    client.force_login(life.parent)
    assert client.get(f"/schoollife/{notice.pk}/").status_code == 404


def test_an_urgent_notice_passes_quiet_hours_and_a_plain_one_waits(
    life, push_endpoint, clock
):
    delivery.subscribe(life.parent, push_endpoint.subscribe("karim"), "Firefox")
    DeliverySettings.objects.create(
        user=life.parent, quiet_start=dt.time(9, 0), quiet_end=dt.time(11, 0)
    )
    publish(life, title="Information ordinaire")
    run_tasks()
    assert push_endpoint.received("karim") == []
    publish(life, title="Confinement", urgent=True)
    run_tasks()
    (record,) = push_endpoint.received("karim")
    assert "Confinement" in record.payload["title"]


def test_the_home_card_counts_the_notices_to_acknowledge(life, client):
    notice = publish(life, requires_ack=True, urgent=True)
    publish(life, title="Pour information")  # nothing to acknowledge
    client.force_login(life.parent)
    home = client.get("/").content.decode()
    assert "Informations à lire" in home
    card = client.get("/api/home/cards/notices/").json()["parts"][""]
    assert 'data-count="1"' in card and "Sortie au musée" in card
    actions.acknowledge(notice=notice, user=life.parent)
    card = client.get("/api/home/cards/notices/").json()["parts"][""]
    assert 'data-count="0"' in card and "Rien à confirmer" in card
    client.force_login(life.pupil3)
    card = client.get("/api/home/cards/notices/").json()["parts"][""]
    assert 'data-count="0"' in card


def test_the_staff_form_takes_five_files_of_10_mb_and_nobody_else_does(life):
    from django.conf import settings

    from core import body_limits

    default = settings.HTTP_MAX_BODY_BYTES
    assert body_limits.limit_for(life.cpe, "/schoollife/new/") == (
        5 * 10 * 1024 * 1024 + default
    )
    assert body_limits.limit_for(life.parent, "/schoollife/new/") == default
    assert body_limits.limit_for(life.parent, "/schoollife/1/acknowledge/") == default


def test_a_file_over_10_mb_is_refused_with_its_name(life, client):
    login_verified(client, life.cpe)
    big = SimpleUploadedFile("gros.pdf", PDF + b"0" * (10 * 1024 * 1024))
    response = client.post("/schoollife/new/", {**form_data(life), "attachments": big})
    assert response.status_code == 200
    assert "gros.pdf" in response.content.decode()
    assert "10" in response.content.decode()
    assert Notice.objects.count() == 0
