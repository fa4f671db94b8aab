"""The application server's VAPID keys and signatures (RFC 8292).

- :func:`current_key` / :func:`public_key`: the newest active ``VapidKey``
  (generated on first use); its public key is the browser's
  ``applicationServerKey`` (RFC 8292 §3.2).
- :func:`rotate`: a new key; older ones are retired. Subscriptions made with
  a retired key are refused by their push service (RFC 8292 §4.2) until the
  browser re-subscribes, which the page does on its next load when the
  subscription's key differs from :func:`public_key`.
- :class:`VapidSigner`: the ``Authorization: vapid t=…,k=…`` header
  (RFC 8292 §3), one signature per push service (audience) reused for hours.

The model is imported inside the functions that need it, so the signer (and
:mod:`hub.delivery.transports.webpush`, the bench) work without Django set up.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from py_vapid import Vapid

if TYPE_CHECKING:
    from hub.delivery.models import VapidKey

TOKEN_LIFETIME = 12 * 3600  # seconds; RFC 8292 §2 allows at most 24 h
RENEW_BEFORE = 3600  # seconds before expiry at which a token is re-signed


def b64url(data: bytes) -> str:
    """Return ``data`` as base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def generate_keypair() -> tuple[str, str]:
    """Return a new P-256 key pair: ``(PKCS#8 PEM private key, base64url public key)``.

    The public key is the 65-byte uncompressed point (``0x04 || X || Y``), the
    form browsers take as ``applicationServerKey``.
    """
    vapid = Vapid()
    vapid.generate_keys()
    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return vapid.private_pem().decode("ascii"), b64url(public)


def current_key() -> VapidKey:
    """Return the newest active key, creating one if there is none.

    Two processes starting together may both create one: both rows stay
    active (either signature is valid for the subscriptions made with it) and
    the newest is returned from then on.
    """
    from hub.delivery.models import VapidKey

    key = VapidKey.objects.filter(active=True).first()
    if key is None:
        private_pem, public = generate_keypair()
        VapidKey.objects.create(private_pem=private_pem, public_key=public)
        key = VapidKey.objects.filter(active=True).first()
        assert key is not None  # the one just created is active
    return key


def public_key() -> str:
    """Return the base64url ``applicationServerKey`` the browser subscribes with."""
    return current_key().public_key


def rotate() -> VapidKey:
    """Create a new key and retire every other one; return the new key."""
    from django.db import transaction

    from hub.delivery.models import VapidKey

    private_pem, public = generate_keypair()
    with transaction.atomic():
        key = VapidKey.objects.create(private_pem=private_pem, public_key=public)
        VapidKey.objects.exclude(pk=key.pk).filter(active=True).update(active=False)
    return key


def active_signers(contact: str | None = None) -> list[VapidSigner]:
    """Return a signer for every active key, newest first.

    ``contact`` defaults to ``settings.VAPID_CONTACT``. Creates the first key
    if there is none. Give the list to
    :class:`hub.delivery.transports.webpush.WebPushTransport`: a subscription
    is signed with the key it was made with when still active.
    """
    from hub.delivery.models import VapidKey

    current_key()
    contact = contact or settings.VAPID_CONTACT
    return [
        VapidSigner(key.private_pem, contact)
        for key in VapidKey.objects.filter(active=True)
    ]


def audience(endpoint: str) -> str:
    """Return the origin of a push endpoint, the JWT ``aud`` (RFC 8292 §2).

    ``scheme://host`` plus ``:port`` when not the scheme's default; raises
    ``ValueError`` for a URL without an http(s) scheme or host.
    """
    parts = urlsplit(endpoint)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {endpoint[:100]!r}")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == {"http": 80, "https": 443}[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class VapidSigner:
    """Signs VAPID tokens with one private key; no database access.

    ``private_pem``: a P-256 private key in PEM (str or bytes); ``contact``:
    the JWT ``sub``, a ``mailto:`` or ``https:`` URI (RFC 8292 §2.1). Tokens
    last :data:`TOKEN_LIFETIME` seconds and are cached per audience until
    :data:`RENEW_BEFORE` seconds before they expire, so a batch signs once
    per push service, not once per message. Thread-safe. Raises
    ``ValueError`` for a key that is not P-256 or a bad contact.
    """

    def __init__(self, private_pem: str | bytes, contact: str) -> None:
        if isinstance(private_pem, str):
            private_pem = private_pem.encode("ascii")
        private = serialization.load_pem_private_key(private_pem, password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(
            private.curve, ec.SECP256R1
        ):
            raise ValueError("a VAPID key must be a P-256 (secp256r1) private key")
        if not contact.startswith(("mailto:", "https:")):
            raise ValueError("the VAPID contact must be a mailto: or https: URI")
        self._vapid = Vapid(private)
        self.contact = contact
        self.public_key = b64url(
            private.public_key().public_bytes(
                serialization.Encoding.X962,
                serialization.PublicFormat.UncompressedPoint,
            )
        )
        self.signatures = 0  # tokens signed so far (cache misses)
        self._cache: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def authorization(self, endpoint: str, now: float | None = None) -> str:
        """Return the ``Authorization`` header value for a push to ``endpoint``.

        ``vapid t=<JWT>,k=<base64url public key>`` (RFC 8292 §3), the JWT
        carrying ``aud`` (the endpoint's origin), ``exp`` (``now`` + 12 h, in
        Unix seconds) and ``sub``. ``now`` is Unix seconds (default: the
        clock). Raises ``ValueError`` for an endpoint that is not http(s).
        """
        now = time.time() if now is None else now
        aud = audience(endpoint)
        with self._lock:
            cached = self._cache.get(aud)
            if cached is not None and now < cached[0] - RENEW_BEFORE:
                return cached[1]
            exp = int(now) + TOKEN_LIFETIME
            claims = {"aud": aud, "exp": exp, "sub": self.contact}
            header = self._vapid.sign(claims)["Authorization"]
            self._cache[aud] = (exp, header)
            self.signatures += 1
            return header
