"""Encryption at rest of sensitive text and files (Fernet, via MultiFernet).

One set of keys for everything encrypted at rest (message bodies and files,
and every field or file registered here). Keys come from
``settings.MESSAGE_KEYS``: a list of url-safe base64 Fernet keys, the first
encrypts, all decrypt. Rotation: put a new key first, keep the old ones, run
``manage.py rotate_message_keys`` (it re-encrypts every registered field and
file with the first key), then drop the old keys.

- :class:`EncryptedTextField`: a text column stored as a Fernet token; it
  registers itself for rotation. It cannot be filtered on (``icontains`` on a
  token means nothing); compare with :func:`digest` where equality is needed.
- :func:`register_token_field` / :func:`register_file_field`: a binary field
  holding a token, or a file field whose files hold a token, that the
  rotation must also cover. With ``DEBUG`` and no
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
from django.db import models

__all__ = [
    "EncryptedTextField",
    "InvalidToken",
    "decrypt",
    "decrypt_stream",
    "digest",
    "encrypt",
    "encrypt_stream",
    "fernet",
    "is_current",
    "register_file_field",
    "register_token_field",
    "rotate",
    "token_fields",
    "file_fields",
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


# Plaintext bytes per token of an encrypted stream.
STREAM_CHUNK = 1024 * 1024


def encrypt_stream(source, target, *, chunk_size: int = STREAM_CHUNK) -> None:
    """Write the bytes read from ``source`` to ``target`` encrypted.

    For files too big to encrypt in memory (uploaded rosters): each
    ``chunk_size`` bytes become one Fernet token on a line of its own, so
    memory stays at one chunk. Read back with :func:`decrypt_stream`.
    """
    keys = fernet()
    while chunk := source.read(chunk_size):
        target.write(keys.encrypt(chunk) + b"\n")


def decrypt_stream(source, target) -> None:
    """Write the plaintext of a stream from :func:`encrypt_stream` to
    ``target``; raise ``InvalidToken`` if a chunk does not decrypt."""
    keys = fernet()
    for line in source:
        token = line.strip()
        if token:
            target.write(keys.decrypt(token))


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


# What the rotation covers: (app_label.ModelName, field name) pairs.
_TOKEN_FIELDS: list[tuple[type[models.Model], str]] = []
_FILE_FIELDS: list[tuple[type[models.Model], str]] = []


def _historical(model: type[models.Model]) -> bool:
    # Migrations build models in the module "__fake__": never registered.
    return model.__module__ == "__fake__"


def register_token_field(model: type[models.Model], field: str) -> None:
    """Have the rotation re-encrypt ``model.<field>`` (bytes holding a token)."""
    if not _historical(model) and (model, field) not in _TOKEN_FIELDS:
        _TOKEN_FIELDS.append((model, field))


def register_file_field(model: type[models.Model], field: str) -> None:
    """Have the rotation re-encrypt the files of ``model.<field>``."""
    if not _historical(model) and (model, field) not in _FILE_FIELDS:
        _FILE_FIELDS.append((model, field))


def token_fields() -> list[tuple[type[models.Model], str]]:
    """Return the registered token fields (concrete models only)."""
    return [(m, f) for m, f in _TOKEN_FIELDS if not m._meta.abstract]


def file_fields() -> list[tuple[type[models.Model], str]]:
    """Return the registered encrypted file fields (concrete models only)."""
    return [(m, f) for m, f in _FILE_FIELDS if not m._meta.abstract]


# Marks a token in a serialized dump (``dumpdata``/``loaddata``).
SERIALIZED_PREFIX = "fernet:"


class EncryptedTextField(models.BinaryField):
    """Text stored as a Fernet token: Python sees ``str``, the database bytes.

    An empty string is stored as empty bytes (nothing to hide, and "no
    comment" stays cheap to test). Reads that no key can decrypt raise
    ``InvalidToken``: a lost key is an error, never silently empty text.
    """

    description = "Text encrypted at rest (Fernet)"
    # For django-stubs: the attribute's type on a model instance is str.
    _pyi_private_set_type: str
    _pyi_private_get_type: str  # type: ignore[assignment]  # bytes only in the database

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", "")
        kwargs.setdefault("blank", True)
        kwargs["editable"] = kwargs.get("editable", True)
        super().__init__(*args, **kwargs)

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        if cls.__module__ != "__fake__":  # not the migrations' historical models
            register_token_field(cls, name)

    def _check_str_default_value(self):
        # BinaryField refuses a str default; here str is the Python type
        # (the default "" is encrypted, or stored empty, on save).
        return []

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("default") == "":
            kwargs.pop("default")
        if kwargs.get("blank") is True:
            kwargs.pop("blank")
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        token = bytes(value)
        return decrypt(token).decode("utf-8") if token else ""

    def to_python(self, value):
        if isinstance(value, str) and value.startswith(SERIALIZED_PREFIX):
            # What value_to_string wrote (loaddata); anything else is text.
            try:
                return decrypt(value[len(SERIALIZED_PREFIX) :].encode()).decode()
            except InvalidToken:
                return value
        if value is None or isinstance(value, str):
            return value
        token = bytes(value)
        return decrypt(token).decode("utf-8") if token else ""

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        if isinstance(value, str):
            value = encrypt(value) if value else b""
        return super().get_db_prep_value(value, connection, prepared)

    def value_to_string(self, obj):
        # Serialized (dumpdata) as a token too: a dump reveals no text.
        text = str(self.value_from_object(obj) or "")
        return SERIALIZED_PREFIX + encrypt(text).decode() if text else ""

    def formfield(self, **kwargs):
        from django import forms

        return forms.CharField(required=not self.blank, widget=forms.Textarea, **kwargs)
