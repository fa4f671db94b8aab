"""Login throttling and lockout (django-axes) on every password form.

Five wrong passwords for one login lock that login, whatever the address
they come from; many wrong tries from one address (any logins) lock that
address. A locked login is refused even with the right password until
staff unlock it or the cool-off ends; the page says so in French. Every
failure leaves an audit row.
"""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client

from core.audit.models import AuditEntry
from tests.conftest import login_verified

LOCKED = "Trop de tentatives de connexion"


def attempt(username, password, ip="203.0.113.5", path="/login/", **headers):
    client = Client(REMOTE_ADDR=ip, **headers)
    response = client.post(path, {"username": username, "password": password})
    return client, response


def logged_in(client) -> bool:
    return SESSION_KEY in client.session


def test_five_wrong_passwords_lock_the_login_even_from_different_ips(school):
    for n in range(5):
        _, response = attempt("karim", "wrong", ip=f"198.51.100.{n + 1}")
        assert response.status_code in (200, 429)
    client, response = attempt("karim", "pw-karim", ip="192.0.2.77")
    assert not logged_in(client)
    assert response.status_code == 429
    page = response.content.decode()
    assert LOCKED in page
    assert "réessayez dans 15 minutes" in page
    assert "demandez à votre établissement" in page
    # Another login from the same addresses is not locked.
    client, response = attempt("sophie", "pw-sophie", ip="198.51.100.1")
    assert response.status_code == 302 and logged_in(client)


def test_four_wrong_passwords_do_not_lock(school):
    for _ in range(4):
        attempt("karim", "wrong")
    client, response = attempt("karim", "pw-karim")
    assert response.status_code == 302 and logged_in(client)


def test_many_logins_from_one_address_lock_that_address(school, settings):
    settings.ACCOUNTS_LOGIN_IP_FAILURE_LIMIT = 12
    for n in range(12):
        attempt(f"nobody{n}", "wrong", ip="203.0.113.9")
    client, response = attempt("sophie", "pw-sophie", ip="203.0.113.9")
    assert response.status_code == 429 and not logged_in(client)
    assert LOCKED in response.content.decode()
    # The same person elsewhere logs in.
    client, response = attempt("sophie", "pw-sophie", ip="203.0.113.10")
    assert response.status_code == 302 and logged_in(client)


def test_a_school_address_is_not_locked_by_a_few_families(school):
    """Eleven families behind one address mistyping once each: nobody locked."""
    for n in range(11):
        attempt(f"family{n}", "wrong", ip="203.0.113.20")
    client, response = attempt("sophie", "pw-sophie", ip="203.0.113.20")
    assert response.status_code == 302 and logged_in(client)


def test_a_forged_forwarded_for_does_not_escape_an_address_lock(school, settings):
    settings.ACCOUNTS_LOGIN_IP_FAILURE_LIMIT = 6
    for n in range(6):
        attempt(
            f"nobody{n}", "wrong", ip="203.0.113.9", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}"
        )
    client, response = attempt(
        "sophie", "pw-sophie", ip="203.0.113.9", HTTP_X_FORWARDED_FOR="10.9.9.99"
    )
    assert response.status_code == 429


def test_the_admin_login_form_is_covered(school):
    school.cpe.is_staff = True
    school.cpe.save()
    for _ in range(5):
        attempt("paul", "wrong", path="/admin/login/?next=/admin/")
    client, response = attempt("paul", "pw-paul", path="/admin/login/?next=/admin/")
    assert response.status_code == 429 and not logged_in(client)
    assert LOCKED in response.content.decode()
    # And a lock earned on the admin form holds on the site's form too.
    client, response = attempt("paul", "pw-paul")
    assert response.status_code == 429


def test_the_lock_ends_after_the_cool_off(school):
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            attempt("karim", "wrong")
        client, response = attempt("karim", "pw-karim")
        assert response.status_code == 429
    with time_machine.travel(start + dt.timedelta(minutes=10), tick=False):
        client, response = attempt("karim", "pw-karim")
        assert response.status_code == 429
        assert "réessayez dans 5 minutes" in response.content.decode()
    with time_machine.travel(start + dt.timedelta(minutes=16), tick=False):
        client, response = attempt("karim", "pw-karim")
        assert response.status_code == 302 and logged_in(client)


def test_manage_py_axes_reset_username_unlocks(school):
    for _ in range(5):
        attempt("karim", "wrong")
    assert attempt("karim", "pw-karim")[1].status_code == 429
    call_command("axes_reset_username", "karim")
    client, response = attempt("karim", "pw-karim")
    assert response.status_code == 302 and logged_in(client)


def test_staff_unlock_a_user_from_the_admin(school):
    for _ in range(5):
        attempt("karim", "wrong")
    admin_user = school.cpe
    admin_user.is_staff = True
    admin_user.is_superuser = True
    admin_user.save()
    staff = Client()
    login_verified(staff, admin_user)
    response = staff.post(
        "/admin/roster/user/",
        {"action": "unlock_logins", "_selected_action": [school.parent.pk]},
    )
    assert response.status_code == 302
    client, response = attempt("karim", "pw-karim")
    assert response.status_code == 302 and logged_in(client)
    assert AuditEntry.objects.filter(
        action="account.unlocked", target_id=school.parent.pk, actor_id=admin_user.pk
    ).exists()


def test_staff_without_the_right_cannot_unlock(school):
    for _ in range(5):
        attempt("karim", "wrong")
    teacher = school.teacher
    teacher.is_staff = True
    teacher.save()
    from django.contrib.auth.models import Permission

    teacher.user_permissions.add(Permission.objects.get(codename="view_user"))
    staff = Client()
    login_verified(staff, teacher)
    staff.post(
        "/admin/roster/user/",
        {"action": "unlock_logins", "_selected_action": [school.parent.pk]},
    )
    assert attempt("karim", "pw-karim")[1].status_code == 429


def test_failures_are_audited(school):
    attempt("karim", "wrong", ip="198.51.100.3")
    attempt("nobody", "wrong", ip="198.51.100.3")
    rows = list(AuditEntry.objects.filter(action="login.failed").order_by("pk"))
    # An unknown login is not written down (it may be a password typed in
    # the wrong field).
    assert [r.detail["login"] for r in rows] == ["karim", ""]
    assert rows[0].target_id == school.parent.pk and rows[1].target_id == 0
    assert {r.ip for r in rows} == {"198.51.100.3"}
    assert all(r.detail["locked_out"] is False for r in rows)
    for _ in range(4):
        attempt("karim", "wrong")
    attempt("karim", "pw-karim")
    last = AuditEntry.objects.filter(action="login.failed").order_by("pk").last()
    assert last.detail == {"login": "karim", "locked_out": True}


def test_a_right_password_clears_this_device_s_wrong_tries(school):
    for _ in range(4):
        attempt("karim", "wrong")
    assert attempt("karim", "pw-karim")[1].status_code == 302
    for _ in range(4):
        attempt("karim", "wrong")
    client, response = attempt("karim", "pw-karim")
    assert response.status_code == 302 and logged_in(client)


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_the_lock_page_is_french_and_says_who_to_contact(school, path):
    for _ in range(5):
        attempt("karim", "wrong", path=path)
    _, response = attempt("karim", "wrong", path=path)
    page = response.content.decode()
    assert response.status_code == 429
    assert "Trop de tentatives de connexion" in page
    assert "demandez à votre établissement de débloquer votre compte" in page


def test_a_password_reset_lifts_the_lock_of_that_login(school, mailer):
    """The lock page offers "Mot de passe oublié ?": proving the mailbox
    with a reset lifts the lock of that login."""
    from tests.accounts.test_emails import reset_link

    school.parent.email = "karim.dubois@example.org"
    school.parent.save()
    for _ in range(5):
        attempt("karim", "wrong")
    assert attempt("karim", "pw-karim")[1].status_code == 429
    client = Client()
    client.post("/mot-de-passe/oublie/", {"email": "karim.dubois@example.org"})
    path, uid, token = reset_link(mailer)
    hop = client.post(path, {"uid": uid, "token": token})
    done = client.post(
        hop["Location"],
        {"new_password1": "Nouveau-2026!", "new_password2": "Nouveau-2026!"},
    )
    assert done.status_code == 302
    client, response = attempt("karim", "Nouveau-2026!")
    assert response.status_code == 302 and logged_in(client)
