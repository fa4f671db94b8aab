"""Human-typable one-time codes: generation, normalisation, keyed hashing.

A code is 10 characters from a 30-symbol alphabet without the look-alikes
(0/O, 1/I/L, U), about 49 bits, printed ``XXXX-XXXX-XX``. What a person
types is normalised (case, spaces, dashes) before it is hashed.
"""

import secrets

from django.utils.crypto import salted_hmac

ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0, O, 1, I, L, U
LENGTH = 10
_SALT = "core.accounts.activation-code"


def new_code() -> str:
    """Return a fresh random code, grouped ``XXXX-XXXX-XX``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return grouped(raw)


def grouped(raw: str) -> str:
    """Return ``raw`` (normalised) as ``XXXX-XXXX-XX``."""
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise(typed: str) -> str:
    """Return what a person typed as the code's 10 bare symbols (maybe invalid).

    Case, spaces and dashes do not matter; the letters O, I and L typed by
    mistake for the digits 0 and 1 are not in the alphabet, so they simply
    make the code wrong.
    """
    return "".join(ch for ch in typed.upper() if ch.isalnum())


def digest(code: str) -> str:
    """Return the keyed hash (hex) of a code as typed or as issued."""
    return salted_hmac(_SALT, normalise(code), algorithm="sha256").hexdigest()
