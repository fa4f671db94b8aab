"""Activation e-mails and password-reset e-mails, through a real SMTP server
(aiosmtpd, ``smtp_server``), and the links they carry followed to the end."""

import html
import io
import re
from urllib.parse import parse_qs, urlsplit

from django.core.management import call_command

from core.accounts import actions
from core.accounts.models import ActivationCode
from core.audit.models import AuditEntry
from core.roster.models import User
from tests.accounts.logs import capture_all_logs

CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}\b")
LINK = re.compile(r"https://ent\.example\.org/\S+")


def parts(received):
    message = received.message
    text = message.get_body(("plain",)).get_content()
    markup = message.get_body(("html",)).get_content()
    return text, markup


def test_activation_emails_go_to_pending_users_with_an_address(imported, mailer):
    users = User.objects.filter(
        pk__in=[
            imported.parent.pk,  # pending, has an address
            imported.other_parent.pk,  # pending, no address
            imported.teacher.pk,  # active already
        ]
    )
    imported.teacher.email = "alice@example.org"
    imported.teacher.save()
    report = actions.send_activation_emails(users=users, issued_by=imported.cpe)
    assert report.sent == ["karim"]
    assert report.failed == []
    assert sorted(report.skipped) == ["alice", "sophie"]
    assert len(mailer.messages) == 1
    received = mailer.messages[0]
    assert received.rcpt_tos == ["karim.dubois@example.org"]
    message = received.message
    assert message["Subject"] == "Activez votre compte Hub ENT"
    assert message["Auto-Submitted"] == "auto-generated"
    text, markup = parts(received)
    assert "Bonjour Karim Dubois," in text
    assert "Identifiant : karim" in text
    code = CODE.findall(text)[0]
    link = LINK.findall(text)[0]
    assert link.startswith("https://ent.example.org/activer/#")
    assert parse_qs(urlsplit(link).fragment) == {"login": ["karim"], "code": [code]}
    assert "Collège Victor Hugo" in text
    assert "Activer mon compte" in markup and code in markup
    assert html.escape(link) in markup or link in html.unescape(markup)
    row = ActivationCode.objects.get(user=imported.parent)
    assert row.channel == "email"
    assert (row.expires_at - row.created_at).days == 3


def test_emailed_code_activates_the_account_once(client, imported, mailer):
    actions.send_activation_emails(users=User.objects.filter(pk=imported.parent.pk))
    text, _ = parts(mailer.messages[0])
    code = CODE.findall(text)[0]
    first = client.post("/activer/", {"login": "karim", "code": code})
    assert first.status_code == 302
    done = client.post(
        "/activer/mot-de-passe/",
        {
            "email": "karim.dubois@example.org",
            "new_password1": "Tilleul-2026!",
            "new_password2": "Tilleul-2026!",
        },
    )
    assert done.status_code == 302 and done["Location"] == "/"
    entry = AuditEntry.objects.get(action="account.activated")
    assert entry.detail["email_changed"] is False
    assert entry.detail["channel"] == "email"


def test_holder_of_a_letter_code_gets_no_email_unless_reissued(imported, mailer):
    letter_code = actions.issue_code(user=imported.parent, channel="letter")[1]
    karim = User.objects.filter(pk=imported.parent.pk)
    report = actions.send_activation_emails(users=karim)
    assert report.skipped == ["karim"] and mailer.messages == []
    assert actions.check_code(login="karim", code=letter_code) is not None
    report = actions.send_activation_emails(users=karim, reissue=True)
    assert report.sent == ["karim"]
    assert actions.check_code(login="karim", code=letter_code) is None


def test_command_refuses_when_the_mail_server_is_down(imported, settings):
    from django.core.management import CommandError

    from core.accounts.models import ActivationCode
    from tests.delivery.smtp_server import free_port

    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    try:
        call_command("send_activation_emails", "--org", "0350001A")
    except CommandError as error:
        assert "ne répond pas" in str(error)
        assert "aucun code n'a été émis" in str(error)
    else:
        raise AssertionError("CommandError expected")
    assert not ActivationCode.objects.exists()


def test_refused_address_is_reported_and_its_code_revoked(imported, mailer):
    mailer.faults.refuse.add("karim.dubois@example.org")
    report = actions.send_activation_emails(
        users=User.objects.filter(pk=imported.parent.pk)
    )
    assert report.failed == ["karim"] and report.sent == []
    assert not actions.live_codes(imported.parent).exists()


def test_command_sends_to_a_class(imported, mailer):
    stdout = io.StringIO()
    call_command(
        "send_activation_emails", "--org", "0350001A", "--class", "4e B", stdout=stdout
    )
    assert [m.rcpt_tos for m in mailer.messages] == [["karim.dubois@example.org"]]
    assert "1 envoyé(s)" in stdout.getvalue()


def test_no_code_or_link_in_the_logs_when_sending(imported, mailer):
    mailer.faults.refuse.add("lea@example.org")
    imported.pupil.email = "lea@example.org"
    imported.pupil.save()
    with capture_all_logs() as lines:
        actions.send_activation_emails(
            users=User.objects.filter(pk__in=[imported.parent.pk, imported.pupil.pk])
        )
    logged = "\n".join(lines)
    assert "activation e-mail to user" in logged  # the failure was logged
    text, _ = parts(mailer.messages[0])
    for secret in CODE.findall(text) + LINK.findall(text):
        assert secret not in logged


# Password reset -------------------------------------------------------------


def ask_reset(client, address):
    return client.post("/mot-de-passe/oublie/", {"email": address})


def test_reset_link_by_email_sets_a_new_password(client, school, mailer):
    school.parent.email = "karim@example.org"
    school.parent.save()
    response = ask_reset(client, "KARIM@example.org")
    assert response.status_code == 302
    assert response["Location"] == "/mot-de-passe/oublie/envoye/"
    assert len(mailer.messages) == 1
    text, markup = parts(mailer.messages[0])
    assert mailer.messages[0].message["Subject"] == (
        "Réinitialisation de votre mot de passe Hub ENT"
    )
    assert "« karim »" in text
    link = LINK.findall(text)[0]
    assert html.escape(link) in markup
    # The token rides in the fragment: the page's script POSTs it.
    path, fragment = urlsplit(link).path, parse_qs(urlsplit(link).fragment)
    assert path == "/mot-de-passe/nouveau/"
    uid, token = fragment["uid"][0], fragment["token"][0]
    assert token not in path
    page = client.get(path)
    assert "accounts/reset-link.js" in page.content.decode()
    # Django's pattern from here: the token moves to the session.
    hop = client.post(path, {"uid": uid, "token": token})
    assert hop.status_code == 302 and token not in hop["Location"]
    assert hop["Location"] == f"/mot-de-passe/nouveau/{uid}/set-password/"
    form = client.get(hop["Location"])
    assert 'name="new_password1"' in form.content.decode()
    done = client.post(
        hop["Location"],
        {"new_password1": "Nouveau-2026!", "new_password2": "Nouveau-2026!"},
    )
    assert done.status_code == 302
    assert done["Location"] == "/mot-de-passe/nouveau/termine/"
    assert User.objects.get(pk=school.parent.pk).check_password("Nouveau-2026!")
    assert AuditEntry.objects.filter(action="account.password_reset").count() == 1
    # Single use.
    again = client.post(path, {"uid": uid, "token": token})
    assert again.status_code == 200
    assert "Ce lien ne fonctionne plus" in html.unescape(again.content.decode())


def test_reset_of_unknown_or_not_activated_address_sends_nothing_same_page(
    client, imported, mailer
):
    unknown = ask_reset(client, "nobody@example.org")
    pending = ask_reset(client, "karim.dubois@example.org")  # unusable password
    assert unknown.status_code == pending.status_code == 302
    assert unknown["Location"] == pending["Location"]
    assert mailer.messages == []


def test_reset_mails_to_one_address_are_limited_same_page(client, school, mailer):
    # Found by a fresh-user trial: 15 requests sent 15 e-mails in seconds.
    from core.accounts import throttle

    school.parent.email = "karim@example.org"
    school.parent.save()
    answers = [ask_reset(client, "karim@example.org") for _ in range(10)]
    assert len({a["Location"] for a in answers}) == 1
    assert len(mailer.messages) == throttle.RESET_LIMIT
    # Another family's address from the same client still gets its e-mail.
    school.other_parent.email = "sophie@example.org"
    school.other_parent.save()
    ask_reset(client, "sophie@example.org")
    assert len(mailer.messages) == throttle.RESET_LIMIT + 1


def reset_link(mailer) -> tuple[str, str, str]:
    """Return (path, uid, token) of the last reset e-mail's link."""
    text = mailer.messages[-1].message.get_body(("plain",)).get_content()
    link = urlsplit(LINK.findall(text)[0])
    fragment = parse_qs(link.fragment)
    return link.path, fragment["uid"][0], fragment["token"][0]


def test_reset_link_with_a_wrong_token_says_so(client, school, mailer):
    school.parent.email = "karim@example.org"
    school.parent.save()
    ask_reset(client, "karim@example.org")
    path, uid, token = reset_link(mailer)
    for data in [
        {"uid": uid, "token": token[:-1] + "x"},
        {"uid": "zz", "token": token},
        {},
    ]:
        page = client.post(path, data)
        assert page.status_code == 200
        assert "Ce lien ne fonctionne plus" in html.unescape(page.content.decode())


def test_reset_never_logs_the_token(client, school, mailer):
    school.parent.email = "karim@example.org"
    school.parent.save()
    with capture_all_logs() as lines:
        ask_reset(client, "karim@example.org")
        path, uid, token = reset_link(mailer)
        client.get(path)
        hop = client.post(path, {"uid": uid, "token": token})
        client.post(
            hop["Location"],
            {"new_password1": "Nouveau-2026!", "new_password2": "Nouveau-2026!"},
        )
    assert User.objects.get(pk=school.parent.pk).check_password("Nouveau-2026!")
    assert token not in "\n".join(lines)


def test_the_schools_named_in_the_emails_are_read_once_for_all(imported, mailer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for user in (imported.pupil, imported.other_child, imported.other_parent):
        user.email = f"{user.username}@example.org"
        user.save(update_fields=["email"])
    users = User.objects.filter(
        pk__in=[
            imported.parent.pk,
            imported.pupil.pk,
            imported.other_child.pk,
            imported.other_parent.pk,
        ]
    )
    with CaptureQueriesContext(connection) as queries:
        report = actions.send_activation_emails(users=users)
    assert len(report.sent) == 4
    family_reads = [
        q["sql"] for q in queries.captured_queries if "roster_guardianlink" in q["sql"]
    ]
    assert len(family_reads) == 1  # one read of the families, not one per e-mail
    school = {
        m.rcpt_tos[0].split("@")[0]: next(
            line for line in parts(m)[0].splitlines() if "Collège" in line
        )
        for m in mailer.messages
    }
    assert "Victor Hugo" in school["lea"] and "Jules Verne" not in school["lea"]
    assert "Jules Verne" in school["ines"] and "Victor Hugo" not in school["ines"]
    assert "Victor Hugo" in school["karim.dubois"]
    assert "Jules Verne" in school["karim.dubois"]  # Inès's school too
    assert "Victor Hugo" in school["sophie"]
