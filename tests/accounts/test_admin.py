"""The admin actions: confirm first (new codes revoke old ones), then print
the letters or send the e-mails; on users, classes and schools."""

import html
import io

import pytest
from django.contrib.auth.models import Permission
from pypdf import PdfReader

from core.accounts.models import ActivationCode
from core.roster.models import User
from tests.conftest import login_verified


@pytest.fixture
def staff_client(client, imported):
    admin = User.objects.create_superuser("root", "root@example.org", "pw-root")
    login_verified(client, admin)
    return client


def run_action(client, url, action, ids, confirmed=False, reissue=False):
    data = {"action": action, "_selected_action": [str(i) for i in ids]}
    if confirmed:
        data["confirmed"] = "yes"
    if reissue:
        data["reissue"] = "on"
    return client.post(url, data)


def test_print_action_asks_confirmation_first(staff_client, imported):
    ids = [imported.parent.pk, imported.pupil.pk, imported.teacher.pk]
    page = run_action(
        staff_client, "/admin/roster/user/", "print_activation_letters", ids
    )
    assert page.status_code == 200
    text = html.unescape(page.content.decode())
    assert "2 comptes sur 3 attendent leur activation" in text
    assert "reçoit une lettre avec un nouveau code" in text
    assert "0 d'entre eux ont déjà un code qui fonctionne" in text
    assert 'name="reissue"' in text
    assert not ActivationCode.objects.exists()
    one = run_action(
        staff_client, "/admin/roster/user/", "print_activation_letters", ids[:1]
    )
    assert "1 compte sur 1 attend son activation" in html.unescape(one.content.decode())


def test_confirmed_print_action_returns_the_pdf(staff_client, imported):
    ids = [imported.parent.pk, imported.pupil.pk, imported.teacher.pk]
    response = run_action(
        staff_client,
        "/admin/roster/user/",
        "print_activation_letters",
        ids,
        confirmed=True,
    )
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    # Activation codes: never sniffed, never kept by a cache (issue 13).
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    pages = PdfReader(io.BytesIO(response.content)).pages
    assert len(pages) == 2
    assert ActivationCode.objects.filter(issued_by__username="root").count() == 2


def test_print_action_on_a_class_covers_its_pupils_and_guardians(
    staff_client, imported
):
    response = run_action(
        staff_client,
        "/admin/roster/schoolclass/",
        "print_activation_letters",
        [imported.class_4b.pk],
        confirmed=True,
    )
    assert response["Content-Type"] == "application/pdf"
    assert set(ActivationCode.objects.values_list("user__username", flat=True)) == {
        "karim",
        "lea",
        "sophie",
    }


def test_print_action_with_nobody_pending_says_so(staff_client, imported):
    response = run_action(
        staff_client,
        "/admin/roster/user/",
        "print_activation_letters",
        [imported.teacher.pk],
        confirmed=True,
    )
    assert response.status_code == 302
    page = staff_client.get(response["Location"]).content.decode()
    assert "Aucun des comptes sélectionnés n'attend de lettre" in html.unescape(page)


def test_email_action_on_a_school_sends_and_reports(staff_client, imported, mailer):
    response = run_action(
        staff_client,
        "/admin/roster/org/",
        "send_activation_emails",
        [imported.org.pk],
        confirmed=True,
    )
    assert response.status_code == 302
    page = html.unescape(staff_client.get(response["Location"]).content.decode())
    assert "E-mails d'activation : 1 envoyés, 0 en échec" in page
    assert "avec un code valide" in page
    assert [m.rcpt_tos for m in mailer.messages] == [["karim.dubois@example.org"]]


def test_staff_without_user_change_permission_cannot_issue(client, imported):
    clerk = User.objects.create_user(
        "clerk", password="pw-clerk", is_staff=True, role="administrator"
    )
    clerk.user_permissions.add(
        Permission.objects.get(codename="view_schoolclass"),
        Permission.objects.get(codename="change_schoolclass"),
    )
    login_verified(client, clerk)
    response = run_action(
        client,
        "/admin/roster/schoolclass/",
        "print_activation_letters",
        [imported.class_4b.pk],
        confirmed=True,
    )
    assert response.status_code == 403
    assert not ActivationCode.objects.exists()


def test_codes_admin_shows_no_hash_and_cannot_add(staff_client, imported):
    from core.accounts import actions

    actions.issue_code(user=imported.parent, channel="letter")
    listing = staff_client.get("/admin/accounts/activationcode/")
    assert listing.status_code == 200
    row = ActivationCode.objects.get()
    assert row.code_hash not in listing.content.decode()
    detail = staff_client.get(f"/admin/accounts/activationcode/{row.pk}/change/")
    assert row.code_hash not in detail.content.decode()
    assert staff_client.get("/admin/accounts/activationcode/add/").status_code == 403


def test_too_many_letters_at_once_are_refused_with_advice(
    staff_client, imported, monkeypatch
):
    monkeypatch.setattr("core.accounts.admin.ADMIN_LETTER_LIMIT", 2)
    response = run_action(
        staff_client,
        "/admin/roster/org/",
        "print_activation_letters",
        [imported.org.pk],
        confirmed=True,
    )
    assert response.status_code == 302
    page = html.unescape(staff_client.get(response["Location"]).content.decode())
    assert "Plus de 2 lettres à la fois" in page
    assert "make_activation_letters" in page
    assert not ActivationCode.objects.exists()


def test_email_action_with_the_mail_server_down_issues_nothing(
    staff_client, imported, settings
):
    from tests.delivery.smtp_server import free_port

    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    response = run_action(
        staff_client,
        "/admin/roster/user/",
        "send_activation_emails",
        [imported.parent.pk],
        confirmed=True,
    )
    page = html.unescape(staff_client.get(response["Location"]).content.decode())
    assert "Le serveur d'e-mails ne répond pas : aucun code n'a été émis." in page
    assert not ActivationCode.objects.exists()
