"""Encryption at rest of message text and files (Fernet, via MultiFernet).

Keys come from ``settings.MESSAGE_KEYS``: a list of url-safe base64 Fernet
keys, the first encrypts, all decrypt. Rotation: put a new key first, keep
the old ones, run ``manage.py rotate_message_keys`` (it re-encrypts every row
and file with the first key), then drop the old keys. With ``DEBUG`` and no
key set, a key is generated once into ``VAR_DIR/message-keys`` for the local
demo; otherwise a missing key is a configuration error.
"""

import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "InvalidToken",
    "decrypt",
    "digest",
    "encrypt",
    "fernet",
    "is_current",
    "rotate",
]


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    fernets = []
    for index, key in enumerate(keys):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError) as error:
            # Name the position, never the key: the message reaches logs.
            raise ImproperlyConfigured(
                f"MESSAGE_KEYS[{index}] is not a valid Fernet key ({error}); "
                "generate one with Fernet.generate_key()"
            ) from None
    return MultiFernet(fernets)


def _keys() -> tuple[str, ...]:
    keys = tuple(settings.MESSAGE_KEYS)
    if keys:
        return keys
    if not settings.DEBUG:
        raise ImproperlyConfigured(
            "MESSAGE_KEYS is not set: give one or more Fernet keys "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
        )
    path = settings.VAR_DIR / "message-keys"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode() + "\n")
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def fernet() -> MultiFernet:
    """Return the MultiFernet of the configured keys (first one encrypts)."""
    return _fernet_for(_keys())


def encrypt(data: bytes | str) -> bytes:
    """Return the Fernet token of ``data`` (text is UTF-8 encoded)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return fernet().encrypt(data)


def decrypt(token: bytes | memoryview) -> bytes:
    """Return the plaintext of ``token``; raise ``InvalidToken`` if no key fits."""
    return fernet().decrypt(bytes(token))


def rotate(token: bytes | memoryview) -> bytes:
    """Return ``token`` re-encrypted with the first key (RFC-free: Fernet spec)."""
    return fernet().rotate(bytes(token))


def is_current(token: bytes | memoryview) -> bool:
    """Return whether ``token`` is encrypted with the first (current) key."""
    fernet()  # validates every key first
    try:
        Fernet(_keys()[0]).decrypt(bytes(token))
    except InvalidToken:
        return False
    return True


def digest(*parts: str) -> str:
    """Return a hex HMAC-SHA256 of ``parts`` keyed with ``SECRET_KEY``.

    Used to compare contents without storing them in clear.
    """
    mac = hmac.new(settings.SECRET_KEY.encode(), digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part.encode("utf-8"))
        mac.update(b"\x00")
    return mac.hexdigest()
