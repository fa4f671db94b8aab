"""Small helpers that read typed settings from the environment.

Only ``core/settings.py`` calls them; library code reads ``django.conf.settings``.
"""

import os

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """Return the variable ``name``, or ``default`` when it is unset."""
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """Return ``name`` read as a boolean (1/true/yes/on, 0/false/no/off).

    Raises ``ValueError`` on any other spelling, so a typo never silently turns
    DEBUG on or off.
    """
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def env_list(name: str, default: list[str]) -> list[str]:
    """Return ``name`` split on commas, blanks removed, or ``default``."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def local_secret_key(var_dir) -> str:
    """Return the signing key of a local DEBUG run, made once in ``var_dir``.

    A random key written to ``var_dir/secret-key`` (mode 0600) the first
    time, as ``MESSAGE_KEYS`` are: no well-known key ever signs a session,
    and a server open to the network in DEBUG cannot be forged into.
    """
    import secrets
    from pathlib import Path

    path = Path(var_dir) / "secret-key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50) + "\n")
    return path.read_text().strip()
