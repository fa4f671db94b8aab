"""Helpers of the API tests: a token for a user, a client that sends it."""

from django.test import Client

from core.api import tokens


def token_for(user, scopes=("read", "write"), days: int = 30) -> str:
    """A new live token of ``user`` with ``scopes``; returns its secret."""
    _token, secret = tokens.create_token(
        user=user, name="test", scopes=list(scopes), days=days
    )
    return secret


def bearer(secret: str) -> Client:
    """A client that sends ``Authorization: Bearer <secret>`` (no session)."""
    return Client(headers={"Authorization": f"Bearer {secret}"})
