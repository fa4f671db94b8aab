""" "Mes appareils": one's sessions listed, ended one by one or all at once;
and the e-mail on a login from a new device (real SMTP server)."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.test import Client

from core.accounts.models import UserSession
from core.audit.models import AuditEntry
from tests.delivery.helpers import run_tasks

FIREFOX = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0.0.0 Safari/537.36"
)


def device(agent=FIREFOX, ip="203.0.113.5") -> Client:
    return Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)


def log_in(client: Client, username: str) -> Client:
    response = client.post(
        "/login/", {"username": username, "password": "pw-" + username}
    )
    assert response.status_code == 302, response.status_code
    return client


def logged_in(client: Client) -> bool:
    response = client.get("/settings/sessions/")
    return response.status_code == 200 and SESSION_KEY in client.session


def rows_of(user) -> list[UserSession]:
    return list(UserSession.objects.filter(user=user).order_by("pk"))


# The page ---------------------------------------------------------------------


def test_the_page_lists_my_sessions_only_and_marks_this_one(school):
    laptop = log_in(device(FIREFOX, "203.0.113.5"), "karim")
    phone = log_in(device(IPHONE, "198.51.100.7"), "karim")
    log_in(device(CHROME), "sophie")
    page = laptop.get("/settings/sessions/")
    assert page.status_code == 200
    assert page["Cache-Control"].startswith("max-age=0")
    html = page.content.decode()
    assert "Mes appareils" in html
    assert html.count('data-session="') == 2
    assert "Firefox" in html and "Windows" in html
    assert "Mobile Safari" in html and "iOS" in html
    assert "203.0.113.5" in html and "198.51.100.7" in html
    assert "Chrome" not in html  # Sophie's
    assert html.count("Cet appareil") == 1
    laptop_row, phone_row = rows_of(school.parent)
    current = html.split("session--current")[1].split("</li>")[0]
    assert f'value="{laptop_row.pk}"' in current
    assert "Déconnecter tous les autres appareils" in html
    assert "Déconnecter tous les appareils" in html
    assert logged_in(phone)


def test_the_page_needs_a_login(client, db):
    response = client.get("/settings/sessions/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_logging_out_one_device_ends_only_that_session(
    school, django_capture_on_commit_callbacks
):
    laptop = log_in(device(FIREFOX), "karim")
    phone = log_in(device(IPHONE), "karim")
    tablet = log_in(device(CHROME), "karim")
    _, phone_row, _ = rows_of(school.parent)
    with django_capture_on_commit_callbacks(execute=True):
        response = laptop.post("/settings/sessions/", {"end": phone_row.pk})
    assert response.status_code == 302
    assert response["Location"] == "/settings/sessions/"
    page = laptop.get("/settings/sessions/").content.decode()
    assert "1 appareil a été déconnecté." in page
    assert page.count('data-session="') == 2
    assert not logged_in(phone)
    assert logged_in(laptop) and logged_in(tablet)
    assert not UserSession.objects.filter(pk=phone_row.pk).exists()
    entry = AuditEntry.objects.get(action="account.sessions_ended")
    assert entry.actor_id == school.parent.pk
    assert entry.detail == {"count": 1, "sessions": [phone_row.pk]}


def test_log_out_all_other_devices_keeps_this_one(school):
    laptop = log_in(device(FIREFOX), "karim")
    phone = log_in(device(IPHONE), "karim")
    tablet = log_in(device(CHROME), "karim")
    sophie = log_in(device(CHROME), "sophie")
    response = laptop.post("/settings/sessions/", {"end": "others"})
    assert response.status_code == 302
    assert logged_in(laptop)
    assert not logged_in(phone) and not logged_in(tablet)
    assert logged_in(sophie)
    assert len(rows_of(school.parent)) == 1


def test_log_out_all_devices_ends_this_one_too(school):
    laptop = log_in(device(FIREFOX), "karim")
    phone = log_in(device(IPHONE), "karim")
    response = laptop.post("/settings/sessions/", {"end": "all"})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert not logged_in(laptop) and not logged_in(phone)
    assert rows_of(school.parent) == []


def test_another_users_session_cannot_be_ended(school):
    karim = log_in(device(FIREFOX), "karim")
    sophie = log_in(device(CHROME), "sophie")
    (sophie_row,) = rows_of(school.other_parent)
    karim.post("/settings/sessions/", {"end": sophie_row.pk})
    assert logged_in(sophie)
    assert not AuditEntry.objects.filter(action="account.sessions_ended").exists()


def test_logout_removes_the_row(school):
    laptop = log_in(device(FIREFOX), "karim")
    assert len(rows_of(school.parent)) == 1
    laptop.post("/logout/")
    assert rows_of(school.parent) == []


def test_a_password_change_ends_the_other_sessions_and_they_leave_the_list(school):
    laptop = log_in(device(FIREFOX), "karim")
    phone = log_in(device(IPHONE), "karim")
    response = laptop.post(
        "/settings/password/",
        {
            "old_password": "pw-karim",
            "new_password1": "Nouveau-2026!",
            "new_password2": "Nouveau-2026!",
        },
    )
    assert response.status_code == 302
    assert not logged_in(phone)
    html = laptop.get("/settings/sessions/").content.decode()
    assert html.count('data-session="') == 1
    assert html.count("Cet appareil") == 1
    assert len(rows_of(school.parent)) == 1


def test_last_activity_is_kept_at_most_every_few_minutes(school):
    start = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        laptop = log_in(device(FIREFOX), "karim")
    with time_machine.travel(start + dt.timedelta(minutes=2), tick=False):
        laptop.get("/")
    (row,) = rows_of(school.parent)
    assert row.last_activity == start
    with time_machine.travel(start + dt.timedelta(minutes=7), tick=False):
        laptop.get("/")
    (row,) = rows_of(school.parent)
    assert row.last_activity == start + dt.timedelta(minutes=7)
    assert row.created_at == start


# The new-device e-mail ----------------------------------------------------------


@pytest.fixture
def karim_with_mail(school):
    school.parent.email = "karim.dubois@example.org"
    school.parent.save()
    return school.parent


def login_and_send(client, username, capture) -> None:
    with capture(execute=True):
        log_in(client, username)
    run_tasks()


def test_a_login_from_a_new_device_is_emailed(
    karim_with_mail, mailer, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    laptop = device(FIREFOX)
    login_and_send(laptop, "karim", capture)  # the first device: nothing to say
    assert mailer.messages == []
    assert laptop.cookies["hub_device"]["httponly"]
    laptop.post("/logout/")
    login_and_send(laptop, "karim", capture)  # the same browser again
    assert mailer.messages == []

    start = dt.datetime(2026, 3, 2, 19, 45, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        login_and_send(device(IPHONE, "198.51.100.7"), "karim", capture)
    assert len(mailer.messages) == 1
    received = mailer.messages[0]
    assert received.rcpt_tos == ["karim.dubois@example.org"]
    message = received.message
    assert message["Subject"] == "Nouvelle connexion à votre compte Hub ENT"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Bonjour Karim Dubois," in text
    assert "le 2 mars 2026 à 20:45" in text  # Paris time
    assert "navigateur Mobile Safari sur iOS" in text
    assert "https://ent.example.org/settings/sessions/" in text
    assert 'href="https://ent.example.org/settings/sessions/"' in html


def test_no_email_without_an_address_or_on_the_first_login(
    school, mailer, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    login_and_send(device(FIREFOX), "sophie", capture)
    login_and_send(device(IPHONE), "sophie", capture)  # new, but no address
    assert mailer.messages == []


def test_a_mail_server_down_does_not_fail_the_login_or_the_task(
    karim_with_mail, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # nothing listens
    capture = django_capture_on_commit_callbacks
    login_and_send(device(FIREFOX), "karim", capture)
    client = device(IPHONE)
    login_and_send(client, "karim", capture)  # run_tasks raises on a failed task
    assert logged_in(client)


def test_the_migration_lists_the_sessions_already_logged_in(school):
    """Sessions opened before "Mes appareils" existed get their row."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module(
        "core.accounts.migrations.0003_sessions_of_users_logged_in"
    )
    laptop = log_in(device(FIREFOX), "karim")
    anonymous = Client()
    anonymous.get("/login/")  # a session with no login (CSRF only)
    UserSession.objects.all().delete()
    migration.list_logged_in_sessions(apps, None)
    (row,) = rows_of(school.parent)
    assert row.session_key == laptop.session.session_key
    assert UserSession.objects.count() == 1
    assert laptop.post("/settings/sessions/", {"end": "all"}).status_code == 302
    assert not logged_in(laptop)
