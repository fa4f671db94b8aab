"""Calls of the module routers' tests: a token's client, JSON in and out."""

from core.audit.models import AuditEntry
from tests.api.helpers import bearer, token_for


def api(user, scopes=("read", "write")):
    """A client sending a new token of ``user`` with ``scopes``."""
    return bearer(token_for(user, scopes))


def get(user, url: str, **params):
    """GET ``url`` as ``user``: ``(status, JSON body or None)``."""
    response = api(user).get(url, params)
    return response.status_code, _body(response)


def post(user, url: str, payload=None, scopes=("read", "write")):
    """POST ``payload`` (JSON) as ``user``: ``(status, JSON body or None)``."""
    response = api(user, scopes).post(
        url, payload or {}, content_type="application/json"
    )
    return response.status_code, _body(response)


def _body(response):
    if response.get("Content-Type", "").startswith("application/json"):
        return response.json()
    return None


def audited(action: str) -> int:
    """How many audit rows of ``action`` there are."""
    return AuditEntry.objects.filter(action=action).count()
