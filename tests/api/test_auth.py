"""Authentication of the API: tokens (unknown, expired, revoked, inactive
user, missing scope), the session with CSRF, the error bodies."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from core.api.models import AccessToken
from core.api.tokens import create_token, revoke_token
from core.audit.models import AuditEntry
from tests.api.helpers import bearer, token_for
from tests.conftest import login_verified

ME = "/api/v1/me"


def test_a_token_reads_as_its_user(school):
    response = bearer(token_for(school.parent)).get(ME)
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "karim"
    assert {c["first_name"] for c in body["children"]} == {"Léa", "Inès"}
    assert response["Cache-Control"] == "no-store"


def test_only_the_hash_is_stored_and_last_use_is_noted(school):
    secret = token_for(school.pupil)
    token = AccessToken.objects.get()
    assert secret not in (token.key_hash, token.prefix)
    assert secret.startswith(token.prefix)
    assert token.last_used_at is None
    bearer(secret).get(ME)
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [
        "Bearer hub_" + "x" * 43,
        "Bearer nothing",
        "Bearer ",
        "Bearer hub_\x00" + "x" * 42,
    ],
)
def test_an_unknown_token_is_401_with_a_clear_error(school, header):
    response = Client(headers={"Authorization": header}).get(ME)
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "detail": "Unknown access token.",
    }
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_no_credentials_is_401(school):
    response = Client().get(ME)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_is_401(school, time_machine):
    secret = token_for(school.pupil, days=30)
    time_machine.move_to(timezone.now() + dt.timedelta(days=30, seconds=1))
    response = bearer(secret).get(ME)
    assert response.status_code == 401
    assert response.json()["detail"] == "This access token has expired."


def test_a_revoked_token_is_401_and_the_revocation_is_audited(school):
    secret = token_for(school.pupil)
    token = AccessToken.objects.get()
    assert revoke_token(user=school.pupil, token_id=token.pk) == token
    response = bearer(secret).get(ME)
    assert response.status_code == 401
    assert response.json()["detail"] == "This access token was revoked."
    actions = list(
        AuditEntry.objects.filter(target_type="access_token").values_list(
            "action", "actor_id", "target_id"
        )
    )
    assert sorted(actions) == [
        ("api.token_created", school.pupil.pk, token.pk),
        ("api.token_revoked", school.pupil.pk, token.pk),
    ]
    assert not AuditEntry.objects.filter(detail__icontains=secret).exists()


def test_someone_else_cannot_revoke_a_token(school):
    token_for(school.pupil)
    token = AccessToken.objects.get()
    assert revoke_token(user=school.parent, token_id=token.pk) is None
    token.refresh_from_db()
    assert token.revoked_at is None


def test_an_inactive_users_token_is_401(school):
    secret = token_for(school.pupil)
    school.pupil.is_active = False
    school.pupil.save()
    response = bearer(secret).get(ME)
    assert response.status_code == 401
    assert response.json()["detail"] == "This account is inactive."


def test_a_token_without_the_scope_is_403(school):
    response = bearer(token_for(school.pupil, scopes=["write"])).get(ME)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert response["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": " ", "scopes": ["read"], "days": 30},
        {"name": "x" * 101, "scopes": ["read"], "days": 30},
        {"name": "app", "scopes": [], "days": 30},
        {"name": "app", "scopes": ["admin"], "days": 30},
        {"name": "app", "scopes": ["read"], "days": 10000},
    ],
)
def test_a_bad_token_request_is_refused_and_creates_nothing(school, kwargs):
    with pytest.raises(ValueError):
        create_token(user=school.pupil, **kwargs)
    assert not AccessToken.objects.exists()
    assert not AuditEntry.objects.filter(action="api.token_created").exists()


def test_the_session_authenticates_the_sites_own_pages(school):
    client = login_verified(Client(), school.pupil)
    response = client.get(ME)
    assert response.status_code == 200
    assert response.json()["username"] == "lea"


def test_a_session_owing_its_second_factor_reads_nothing(school):
    client = Client()
    client.force_login(school.teacher)  # staff: the second factor is owed
    response = client.get(ME)
    assert response.status_code == 302
    assert response["Location"].startswith("/double-authentification/")


def test_a_password_change_revokes_every_token(
    school, django_capture_on_commit_callbacks
):
    secrets = [token_for(school.parent), token_for(school.parent)]
    other = token_for(school.other_parent)
    with django_capture_on_commit_callbacks(execute=True):
        school.parent.set_password("a new password 2026")
        school.parent.save()
    for secret in secrets:
        response = bearer(secret).get(ME)
        assert response.status_code == 401
        assert response.json()["detail"] == "This access token was revoked."
    assert bearer(other).get(ME).status_code == 200
    entry = AuditEntry.objects.get(action="api.tokens_revoked")
    assert entry.target_id == school.parent.pk
    assert entry.detail["reason"] == "password_changed"
    assert len(entry.detail["tokens"]) == 2


def test_a_login_or_a_rename_revokes_nothing(
    school, django_capture_on_commit_callbacks
):
    secret = token_for(school.parent)
    with django_capture_on_commit_callbacks(execute=True):
        school.parent.first_name = "Karim-Paul"
        school.parent.save()
        login_verified(Client(), school.parent)
    assert bearer(secret).get(ME).status_code == 200
