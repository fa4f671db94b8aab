"""Réglages › Accès API: create a token (its secret shown once), list,
revoke; bad input loses nothing."""

import re

from django.test import Client

from core.api.models import AccessToken
from tests.api.helpers import bearer
from tests.conftest import login_verified

PAGE = "/settings/api/"


def test_the_settings_page_links_to_the_tokens(school):
    client = login_verified(Client(), school.parent)
    assert PAGE.encode() in client.get("/settings/notifications/").content


def test_create_use_and_revoke_a_token(school):
    client = login_verified(Client(), school.parent)
    response = client.post(
        PAGE, {"name": "Appli de la région", "scopes": ["read"], "days": "90"}
    )
    assert response.status_code == 200
    secret = re.search(rb'<code id="token-secret">([^<]+)</code>', response.content)
    assert secret is not None
    secret = secret.group(1).decode()
    token = AccessToken.objects.get(user=school.parent)
    assert token.name == "Appli de la région" and token.scopes == ["read"]
    assert (
        response["Cache-Control"].startswith("max-age=0")
        or "no-store" in (response["Cache-Control"])
    )
    assert bearer(secret).get("/api/v1/me").status_code == 200
    # Listed afterwards, without its secret.
    page = client.get(PAGE).content.decode()
    assert "Appli de la région" in page and token.prefix in page
    assert secret not in page
    response = client.post(PAGE, {"revoke": str(token.pk)})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert bearer(secret).get("/api/v1/me").status_code == 401


def test_bad_input_creates_nothing_and_keeps_what_was_typed(school):
    client = login_verified(Client(), school.parent)
    response = client.post(PAGE, {"name": "Mon script", "scopes": [], "days": "90"})
    assert response.status_code == 400
    assert 'value="Mon script"' in response.content.decode()
    response = client.post(PAGE, {"name": "x", "scopes": ["root"], "days": "7"})
    assert response.status_code == 400
    assert not AccessToken.objects.exists()


def test_revoking_another_users_token_does_nothing(school):
    other = login_verified(Client(), school.other_parent)
    other.post(PAGE, {"name": "x", "scopes": ["read"], "days": "30"})
    token = AccessToken.objects.get()
    client = login_verified(Client(), school.parent)
    for value in (str(token.pk), "abc", ""):
        assert client.post(PAGE, {"revoke": value}).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_page_needs_a_login(school):
    response = Client().get(PAGE)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_data_export_lists_the_tokens_without_their_secret(school):
    import io
    import json
    import zipfile

    from core.privacy.export import build_zip
    from tests.api.helpers import token_for

    secret = token_for(school.parent, ["read"])
    token = AccessToken.objects.get()
    archive = zipfile.ZipFile(io.BytesIO(build_zip(school.parent)))
    (row,) = json.loads(archive.read("jetons_api.json"))
    assert row["name"] == "test" and row["scopes"] == ["read"]
    assert row["prefix"] == token.prefix
    assert "jetons_api.json" in archive.read("LISEZMOI.txt").decode()
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert secret.encode() not in everything
    assert token.key_hash.encode() not in everything
