"""Which browser subscriptions the hub will push to (RFC 8030, RFC 8291 §3).

Checked once, when a browser subscribes (:func:`hub.delivery.actions
.subscribe`): a stored subscription is known to aim at an allowed push
service with usable keys, so the push transport never checks it again.
"""

import base64
import binascii
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from hub.delivery.vapid import b64url

MAX_ENDPOINT = 2000  # characters (PushSubscription.endpoint)
B64URL_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


class InvalidSubscription(ValueError):
    """A subscription the hub will not push to; the message says why."""


def validate_subscription(
    info: object, *, allowed_hosts: Sequence[str], allow_http: bool
) -> dict:
    """Check a browser's ``PushSubscription.toJSON()`` and return it cleaned.

    ``info``: ``{"endpoint": str, "keys": {"p256dh": str, "auth": str}}``
    (other members ignored). The endpoint must be an ``https://`` URL (also
    ``http://`` if ``allow_http``) of at most 2000 characters, without user
    info, whose host equals one of ``allowed_hosts`` or is a subdomain of a
    named one (never of an IP address): a subscription cannot aim the worker
    at an internal address. ``p256dh`` must be a 65-byte uncompressed point on
    P-256 and ``auth`` 16 bytes (RFC 8291 §3), both base64url, padding
    optional. Returns ``{"endpoint", "keys": {"p256dh", "auth"}}`` with the
    keys unpadded. Raises :class:`InvalidSubscription`.
    """
    if not isinstance(info, Mapping):
        raise InvalidSubscription("a subscription must be a JSON object")
    endpoint = _check_endpoint(info.get("endpoint"), allowed_hosts, allow_http)
    keys = info.get("keys")
    if not isinstance(keys, Mapping):
        raise InvalidSubscription("the subscription has no keys object")
    p256dh = _decode_key(keys.get("p256dh"), "p256dh")
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise InvalidSubscription(
            "keys.p256dh must be a 65-byte uncompressed P-256 point"
        )
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise InvalidSubscription("keys.p256dh is not a point on P-256") from None
    auth = _decode_key(keys.get("auth"), "auth")
    if len(auth) != 16:
        raise InvalidSubscription("keys.auth must be 16 bytes")
    return {
        "endpoint": endpoint,
        "keys": {"p256dh": b64url(p256dh), "auth": b64url(auth)},
    }


def _check_endpoint(
    endpoint: Any, allowed_hosts: Sequence[str], allow_http: bool
) -> str:
    """Return the endpoint normalised (scheme and host lower case, no
    trailing dot), so one browser is one row; raise :class:`InvalidSubscription`."""
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidSubscription("the subscription has no endpoint")
    if len(endpoint) > MAX_ENDPOINT:
        raise InvalidSubscription(f"the endpoint is over {MAX_ENDPOINT} characters")
    if not endpoint.isascii() or not endpoint.isprintable() or " " in endpoint:
        raise InvalidSubscription("the endpoint has spaces or non-ASCII characters")
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise InvalidSubscription("the endpoint is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_http and scheme == "http"):
        raise InvalidSubscription("the endpoint must be an https:// URL")
    if "@" in parts.netloc:
        raise InvalidSubscription("the endpoint must not contain user info")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidSubscription("the endpoint has no host")
    if not _host_allowed(host, allowed_hosts):
        raise InvalidSubscription(
            f"the endpoint host {host!r} is not an allowed push service"
        )
    # Push services listen on 443: another port of an allowed host is not one
    # (http:// endpoints, tests only, keep theirs).
    if scheme == "https" and parts.port not in (None, 443):
        raise InvalidSubscription("the endpoint must use the default https port")
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return parts._replace(scheme=scheme, netloc=netloc).geturl()


def _host_allowed(host: str, allowed_hosts: Sequence[str]) -> bool:
    for allowed in allowed_hosts:
        allowed = allowed.lower().rstrip(".")
        if host == allowed:
            return True
        if not _is_ip(allowed) and host.endswith("." + allowed):
            return True
    return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _decode_key(value: Any, name: str) -> bytes:
    text = value.rstrip("=") if isinstance(value, str) else ""
    if not text or not set(text) <= B64URL_CHARS or len(value) - len(text) > 2:
        raise InvalidSubscription(f"keys.{name} is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidSubscription(f"keys.{name} is not base64url") from None
