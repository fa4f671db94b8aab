"""Personal access tokens: create, revoke, and find the token of a request.

The one place that reads or writes :class:`core.api.models.AccessToken`;
creation and revocation land in the audit log (the secret never does).
"""

import datetime as dt
import hashlib
import secrets
from functools import partial

from django.db import transaction
from django.utils import timezone

from core.api.models import SCOPES, AccessToken
from core.audit import log as audit

# How long a new token lives, in days: the choices offered.
LIFETIMES = (30, 90, 365)
PREFIX = "hub_"
# "hub_" + 43 characters of token_urlsafe(32): 256 random bits.
SECRET_LENGTH = len(PREFIX) + 43
# A token's last use is written at most this often (one write per minute
# per token, not one per request).
TOUCH_EVERY = dt.timedelta(minutes=1)


class TokenRejected(Exception):
    """A token that opens nothing (``status`` 401) or not this (403)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def key_hash(secret: str) -> str:
    """The stored form of a token's secret (hex SHA-256)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(
    *, user, name: str, scopes: list[str], days: int
) -> tuple[AccessToken, str]:
    """Create a token of ``user``; return it and its secret (shown once)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("a token's name has 1 to 100 characters")
    if not scopes or not set(scopes) <= set(SCOPES):
        raise ValueError(f"unknown scopes: {scopes!r}")
    if days not in LIFETIMES:
        raise ValueError(f"a token lives {LIFETIMES} days, not {days!r}")
    secret = PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        token = AccessToken.objects.create(
            user=user,
            name=name,
            prefix=secret[: len(PREFIX) + 6],
            key_hash=key_hash(secret),
            scopes=sorted(set(scopes)),
            created_at=now,
            expires_at=now + dt.timedelta(days=days),
        )
        audit.record(
            actor=user,
            action="api.token_created",
            target_type="access_token",
            target_id=token.pk,
            detail={
                "name": token.name,
                "scopes": token.scopes,
                "expires_at": token.expires_at.isoformat(),
            },
        )
    return token, secret


def revoke_token(*, user, token_id: int) -> AccessToken | None:
    """Revoke ``user``'s live token ``token_id``; its open sockets close.

    Returns the token, or ``None`` when ``user`` has no such live token.
    """
    from hub.realtime.control import close_token_sockets

    with transaction.atomic():
        token = (
            AccessToken.objects.live()
            .select_for_update()
            .filter(user=user, pk=token_id)
            .first()
        )
        if token is None:
            return None
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            actor=user,
            action="api.token_revoked",
            target_type="access_token",
            target_id=token.pk,
            detail={"name": token.name},
        )
        transaction.on_commit(partial(close_token_sockets, token.pk, "token_revoked"))
    return token


def revoke_all(user_id: int, reason: str) -> int:
    """Revoke every live token of the user ``user_id`` (their password
    changed: a token made by whoever knew the old one must not outlive it);
    return how many. One audit row ``api.tokens_revoked``."""
    from hub.realtime.control import close_token_sockets

    with transaction.atomic():
        ids = list(
            AccessToken.objects.live()
            .select_for_update()
            .filter(user_id=user_id)
            .values_list("pk", flat=True)
        )
        if not ids:
            return 0
        AccessToken.objects.filter(pk__in=ids).update(revoked_at=timezone.now())
        audit.record(
            actor=None,
            action="api.tokens_revoked",
            target_type="user",
            target_id=user_id,
            subject_id=user_id,
            detail={"reason": reason, "tokens": ids},
        )
        for token_id in ids:
            transaction.on_commit(partial(close_token_sockets, token_id, reason))
    return len(ids)


def tokens_of(user) -> list[AccessToken]:
    """``user``'s tokens, newest first (revoked and expired ones included)."""
    return list(AccessToken.objects.filter(user=user))


def authenticate(secret: str, scope: str) -> AccessToken:
    """The live token of ``secret``, its ``user`` loaded, if it has ``scope``.

    Raises :class:`TokenRejected`: 401 for an unknown, revoked or expired
    token or an inactive user's, 403 for a token without ``scope``.
    """
    token = None
    if len(secret) == SECRET_LENGTH and secret.startswith(PREFIX):
        token = (
            AccessToken.objects.select_related("user")
            .filter(key_hash=key_hash(secret))
            .first()
        )
    if token is None:
        raise TokenRejected(401, "invalid_token", "Unknown access token.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenRejected(401, "invalid_token", "This access token was revoked.")
    if token.expires_at <= now:
        raise TokenRejected(401, "invalid_token", "This access token has expired.")
    if not token.user.is_active:
        raise TokenRejected(401, "invalid_token", "This account is inactive.")
    if scope not in token.scopes:
        raise TokenRejected(
            403,
            "insufficient_scope",
            f"This access token does not have the {scope!r} scope.",
        )
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
