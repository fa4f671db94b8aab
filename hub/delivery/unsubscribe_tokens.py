"""Signed unsubscribe links (RFC 8058 one-click, in every notification mail).

A token says "unsubscribe this user from this scope" and is signed with
``SECRET_KEY``, so the link needs no login and no database row, and keeps
working in mails years old.
"""

from django.core import signing

from hub.delivery.categories import CATEGORIES

UNSUBSCRIBE_SALT = "delivery.unsubscribe"
UNSUBSCRIBE_ALL = "all"


def unsubscribe_token(user_id: int, scope: str) -> str:
    """Return a signed, URL-safe token for "unsubscribe ``user_id`` from ``scope``".

    ``scope`` is a category key (:data:`~hub.delivery.categories.CATEGORIES`)
    or ``"all"``; anything else raises ``ValueError``. The token is signed with
    ``SECRET_KEY`` (:mod:`django.core.signing`, salt ``delivery.unsubscribe``)
    and does not expire: RFC 8058 links must keep working in old mails.
    """
    if scope != UNSUBSCRIBE_ALL and scope not in CATEGORIES:
        raise ValueError(f"unknown unsubscribe scope {scope!r}")
    return signing.dumps([int(user_id), scope], salt=UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """Return ``(user_id, scope)`` from a token of :func:`unsubscribe_token`.

    Raises :class:`django.core.signing.BadSignature` when the token was
    tampered with, signed with another key or salt, or has the wrong shape.
    The scope may name a category removed since: the caller decides.
    """
    value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    match value:
        case [int() as user_id, str() as scope] if not isinstance(user_id, bool):
            return user_id, scope
    raise signing.BadSignature("unsubscribe token of the wrong shape")
