"""Small helpers that read typed settings from the environment.

Only ``core/settings.py`` calls them (and ``run_demo``, for the address it
serves on); library code reads ``django.conf.settings``.
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


def env_port(name: str, default: int) -> int:
    """Return ``name`` read as a TCP port (1-65535).

    Raises ``ValueError`` naming the variable on anything else.
    """
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ValueError(f"{name}={raw!r} is not a TCP port (1-65535)")
    return port


# A local run's mailbox listens this far above its HTTP port (8025 beside
# 8000), so two runs side by side never fight over it.
MAILBOX_PORT_OFFSET = 25


def local_site_url(host: str, port: int) -> str:
    """Return the address a local run on ``host:port`` is opened at.

    A wildcard address (``0.0.0.0``, ``::``) is reached as ``127.0.0.1``; an
    IPv6 address is bracketed.
    """
    if host in {"", "0.0.0.0", "::"}:
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


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
