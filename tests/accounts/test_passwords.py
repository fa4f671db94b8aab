"""Password change (settings) and reset (e-mail) end the user's other
sessions and close all their sockets; the change keeps the current session."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from core.audit.models import AuditEntry
from core.roster.models import User
from tests.accounts.test_emails import reset_link
from tests.conftest import verify_session


def logged_in(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password="pw-" + username)
    verify_session(client, User.objects.get(username=username))
    assert client.get("/").status_code == 200
    return client


def is_logged_in(client: Client) -> bool:
    response = client.get("/")
    return response.status_code == 200 and SESSION_KEY in client.session


@pytest.fixture
def closed_sockets(monkeypatch):
    """Record ``close_user_sockets(user_id, reason)`` calls of core.roster.socket_access."""
    calls = []
    monkeypatch.setattr(
        "core.roster.socket_access.close_user_sockets",
        lambda user_id, reason: calls.append((user_id, reason)),
    )
    return calls


def test_settings_page_links_to_password_change(school):
    client = logged_in("alice")
    page = client.get("/settings/password/")
    assert page.status_code == 200
    assert 'name="old_password"' in page.content.decode()


def test_password_change_needs_login(client, db):
    response = client.get("/settings/password/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_password_change_keeps_this_session_and_ends_the_others(
    school, closed_sockets, django_capture_on_commit_callbacks
):
    here, elsewhere = logged_in("karim"), logged_in("karim")
    someone_else = logged_in("sophie")
    with django_capture_on_commit_callbacks(execute=True):
        response = here.post(
            "/settings/password/",
            {
                "old_password": "pw-karim",
                "new_password1": "Nouveau-2026!",
                "new_password2": "Nouveau-2026!",
            },
        )
    assert response.status_code == 302
    assert response["Location"] == "/settings/notifications/"
    page = here.get("/settings/notifications/").content.decode()
    assert "Vos autres appareils doivent se reconnecter" in page
    assert is_logged_in(here)
    assert not is_logged_in(elsewhere)
    assert is_logged_in(someone_else)
    assert closed_sockets == [(school.parent.pk, "password_changed")]
    assert User.objects.get(pk=school.parent.pk).check_password("Nouveau-2026!")
    assert AuditEntry.objects.filter(
        action="account.password_changed", target_id=school.parent.pk
    ).exists()


def test_wrong_old_password_changes_nothing(school, closed_sockets):
    here, elsewhere = logged_in("karim"), logged_in("karim")
    response = here.post(
        "/settings/password/",
        {
            "old_password": "wrong",
            "new_password1": "Nouveau-2026!",
            "new_password2": "Nouveau-2026!",
        },
    )
    assert response.status_code == 200
    assert "Rien n" in response.content.decode()
    assert is_logged_in(elsewhere)
    assert closed_sockets == []


def test_password_reset_ends_every_session_and_socket(
    school, mailer, closed_sockets, django_capture_on_commit_callbacks
):
    school.parent.email = "karim@example.org"
    school.parent.save()
    phone, laptop = logged_in("karim"), logged_in("karim")
    browser = Client()
    browser.post("/mot-de-passe/oublie/", {"email": "karim@example.org"})
    path, uid, token = reset_link(mailer)
    hop = browser.post(path, {"uid": uid, "token": token})
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(
            hop["Location"],
            {"new_password1": "Nouveau-2026!", "new_password2": "Nouveau-2026!"},
        )
    assert not is_logged_in(phone)
    assert not is_logged_in(laptop)
    assert not is_logged_in(browser)  # Django does not log in after a reset
    assert closed_sockets == [(school.parent.pk, "password_changed")]
    assert Client().login(username="karim", password="Nouveau-2026!")
