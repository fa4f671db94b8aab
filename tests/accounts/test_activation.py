"""The activation pages: /activer/ (login + code), then the password and
e-mail address; one error for every wrong case; guessing locked out; codes
never in the logs."""

import datetime as dt
import html as html_lib
import re

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.utils import timezone

from core.accounts import actions, throttle
from core.accounts.models import ActivationCode
from core.audit.models import AuditEntry
from core.roster.models import User
from tests.accounts.logs import capture_all_logs
from tests.conftest import login_verified

WRONG = "Cet identifiant et ce code n'ouvrent aucun compte"
LOCKED = "Trop d'essais erronés"


def text(response) -> str:
    return html_lib.unescape(response.content.decode())


def issue(user, channel=ActivationCode.Channel.LETTER):
    return actions.issue_code(user=user, channel=channel)[1]


def step1(client, login, code, **extra):
    return client.post("/activer/", {"login": login, "code": code}, **extra)


def activate(
    client, login, code, *, email="karim@example.org", password="Tilleul-2026!"
):
    first = step1(client, login, code)
    assert first.status_code == 302, text(first)[:2000]
    assert first["Location"] == "/activer/mot-de-passe/"
    return client.post(
        "/activer/mot-de-passe/",
        {"email": email, "new_password1": password, "new_password2": password},
    )


def test_activation_page_is_public_and_asks_login_and_code(client, db):
    page = client.get("/activer/")
    assert page.status_code == 200
    html = text(page)
    assert "Activer mon compte" in html
    assert 'name="login"' in html and 'name="code"' in html
    assert "accounts/activate.js" in html


def test_guardian_activates_with_code_sets_password_and_lands_home(client, imported):
    code = issue(imported.parent)
    response = activate(client, "karim", code)
    assert response.status_code == 302 and response["Location"] == "/"
    karim = User.objects.get(pk=imported.parent.pk)
    assert karim.check_password("Tilleul-2026!")
    assert karim.email == "karim@example.org"  # the changed address is stored
    assert int(client.session[SESSION_KEY]) == karim.pk
    home = text(client.get("/"))
    assert "Votre compte est activé" in home
    assert "Léa Dubois" in home and "Inès Dubois" in home
    row = ActivationCode.objects.get(user=karim)
    assert row.used_at is not None
    entry = AuditEntry.objects.get(action="account.activated")
    assert (entry.actor_id, entry.target_id) == (karim.pk, karim.pk)
    assert entry.detail["email_changed"] is True
    assert entry.ip == "127.0.0.1"


def test_code_is_accepted_in_any_case_with_spaces_or_without_dashes(client, imported):
    code = issue(imported.parent)
    typed = " " + code.lower().replace("-", " ") + " "
    assert step1(client, "karim", typed).status_code == 302


def test_login_may_be_typed_in_capitals(client, imported):
    assert step1(client, " Karim ", issue(imported.parent)).status_code == 302


def test_deactivated_account_cannot_activate(client, imported):
    code = issue(imported.pupil)
    User.objects.filter(pk=imported.pupil.pk).update(is_active=False)
    assert WRONG in text(step1(client, "lea", code))


def test_account_deactivated_between_the_steps_cannot_finish(client, imported):
    code = issue(imported.pupil)
    step1(client, "lea", code)
    User.objects.filter(pk=imported.pupil.pk).update(is_active=False)
    response = client.get("/activer/mot-de-passe/")
    assert response.status_code == 302 and response["Location"] == "/activer/"


def test_known_email_is_prefilled_on_step_two(client, imported):
    code = issue(imported.parent)
    step1(client, "karim", code)
    html = text(client.get("/activer/mot-de-passe/"))
    assert 'value="karim.dubois@example.org"' in html
    assert "Compte de Karim Dubois" in html
    imported.parent.first_name = "Inès"
    imported.parent.save()
    assert "Compte d’Inès Dubois" in text(client.get("/activer/mot-de-passe/"))


def test_pupil_may_activate_without_email_guardian_may_not(client, imported):
    code = issue(imported.parent)
    response = activate(client, "karim", code, email="")
    assert response.status_code == 200
    assert not User.objects.get(pk=imported.parent.pk).has_usable_password()
    assert ActivationCode.objects.get(user=imported.parent).used_at is None

    client.logout()
    code = issue(imported.pupil)
    response = activate(client, "lea", code, email="")
    assert response.status_code == 302
    assert User.objects.get(pk=imported.pupil.pk).check_password("Tilleul-2026!")


def test_weak_password_is_refused_by_django_validators_and_code_kept(client, imported):
    code = issue(imported.parent)
    response = activate(client, "karim", code, password="123")
    assert response.status_code == 200
    html = text(response)
    assert "Votre compte n'est pas encore activé" in html
    assert "trop court" in html
    assert ActivationCode.objects.get(user=imported.parent).used_at is None
    # The code still works for a second try in the same session.
    again = client.post(
        "/activer/mot-de-passe/",
        {
            "email": "karim@example.org",
            "new_password1": "Tilleul-2026!",
            "new_password2": "Tilleul-2026!",
        },
    )
    assert again.status_code == 302


def wrong_cases(imported):
    """Yield (login, code) pairs that must all fail alike."""
    parent = imported.parent
    good = issue(parent)
    yield "personne", good  # unknown login
    yield "karim", "ABCD-EFGH-JK"  # wrong code
    yield "karim", "nonsense"  # malformed
    yield "lea", good  # someone else's code
    expired = issue(imported.pupil)
    ActivationCode.objects.filter(user=imported.pupil).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    yield "lea", expired
    used = issue(imported.other_parent)
    ActivationCode.objects.filter(user=imported.other_parent).update(
        used_at=timezone.now()
    )
    yield "sophie", used
    revoked = issue(imported.other_child)
    issue(imported.other_child)  # a newer code revokes it
    yield "ines", revoked


def test_every_wrong_case_gets_the_same_error(client, imported):
    pages = []
    for login, code in wrong_cases(imported):
        response = step1(client, login, code)
        assert response.status_code == 200, (login, code)
        html = text(response)
        assert WRONG in html
        error = re.search(r'<div class="message message--error".*?</div>', html, re.S)
        pages.append(error.group(0))
        assert SESSION_KEY not in client.session
    assert len(set(pages)) == 1


def test_code_works_only_once(client, imported):
    code = issue(imported.parent)
    assert activate(client, "karim", code).status_code == 302
    other = type(client)()
    response = step1(other, "karim", code)
    assert WRONG in text(response)


def test_step_two_without_step_one_goes_back_with_the_error(client, imported):
    response = client.get("/activer/mot-de-passe/", follow=True)
    assert response.redirect_chain == [("/activer/", 302)]
    assert WRONG in text(response)


def test_code_spent_in_another_tab_is_refused_at_step_two(client, imported):
    code = issue(imported.parent)
    step1(client, "karim", code)
    other = type(client)()
    assert activate(other, "karim", code).status_code == 302
    response = client.post(
        "/activer/mot-de-passe/",
        {
            "email": "x@example.org",
            "new_password1": "Autre-2026!",
            "new_password2": "Autre-2026!",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/activer/"
    assert User.objects.get(pk=imported.parent.pk).check_password("Tilleul-2026!")


def test_new_code_issued_between_the_steps_ends_the_old_one(client, imported):
    code = issue(imported.parent)
    step1(client, "karim", code)
    issue(imported.parent)
    response = client.get("/activer/mot-de-passe/")
    assert response.status_code == 302 and response["Location"] == "/activer/"


def test_step_two_expires_after_half_an_hour(client, imported):
    code = issue(imported.parent)
    step1(client, "karim", code)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=31)):
        response = client.get("/activer/mot-de-passe/")
    assert response.status_code == 302


def test_ten_wrong_codes_lock_the_login_even_for_the_right_code(client, imported):
    code = issue(imported.parent)
    for n in range(throttle.LIMIT):
        # From different addresses: the login's own counter locks.
        response = step1(client, "karim", "ABCD-EFGH-JK", REMOTE_ADDR=f"10.0.0.{n}")
        assert WRONG in text(response)
    response = step1(client, "karim", code, REMOTE_ADDR="10.0.1.1")
    assert response.status_code == 200
    assert LOCKED in text(response)
    assert SESSION_KEY not in client.session
    # Another login from another address is not locked.
    assert (
        step1(client, "lea", issue(imported.pupil), REMOTE_ADDR="10.0.1.2").status_code
        == 302
    )


def test_families_behind_one_address_keep_trying_past_one_logins_limit(
    client, imported
):
    for n in range(throttle.LIMIT + 5):
        step1(client, f"famille{n}", "ABCD-EFGH-JK", REMOTE_ADDR="10.8.8.8")
    response = step1(client, "karim", issue(imported.parent), REMOTE_ADDR="10.8.8.8")
    assert response.status_code == 302


def test_wrong_tries_from_one_address_lock_it_for_every_login(client, imported):
    for n in range(throttle.IP_LIMIT):
        step1(client, f"personne{n}", "ABCD-EFGH-JK", REMOTE_ADDR="10.9.9.9")
    response = step1(client, "karim", issue(imported.parent), REMOTE_ADDR="10.9.9.9")
    assert LOCKED in text(response)
    assert (
        step1(
            client, "karim", issue(imported.parent), REMOTE_ADDR="10.9.9.8"
        ).status_code
        == 302
    )


def test_lock_ends_after_the_window(client, imported, settings):
    # In memory: time_machine moves Python's clock, not Redis's expiry.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    code = issue(imported.parent)
    for _ in range(throttle.LIMIT):
        step1(client, "karim", "ABCD-EFGH-JK")
    assert LOCKED in text(step1(client, "karim", code))
    with time_machine.travel(
        timezone.now() + dt.timedelta(seconds=throttle.WINDOW + 1)
    ):
        assert step1(client, "karim", code).status_code == 302


def test_codes_never_reach_the_logs(client, imported):
    with capture_all_logs() as lines:
        code = issue(imported.parent)
        step1(client, "karim", "ABCD-EFGH-JK")
        activate(client, "karim", code)
        step1(client, "karim", code)  # spent: refused
    logged = "\n".join(lines)
    assert "accounts_activationcode" in logged  # the queries were logged
    assert code not in logged and code.replace("-", "") not in logged


def test_authenticated_page_links_and_login_page_links(client, imported):
    login = text(client.get("/login/"))
    assert 'href="/mot-de-passe/oublie/"' in login and "Mot de passe oublié ?" in login
    assert 'href="/activer/"' in login
    login_verified(client, imported.teacher)
    settings_page = text(client.get("/settings/notifications/"))
    assert 'href="/settings/password/"' in settings_page
    assert "Modifier mon mot de passe" in settings_page  # Django's words


@pytest.mark.parametrize("method", ["put", "delete"])
def test_activation_refuses_other_methods(client, db, method):
    assert getattr(client, method)("/activer/").status_code == 405
