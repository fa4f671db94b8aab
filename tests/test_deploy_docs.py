"""What the README tells a region's IT team to run for compose and docker
build: the command names every variable compose.yaml requires, and the build
context leaves out what must not reach the Docker daemon."""

import re
import subprocess
from pathlib import Path

import yaml
from docker.utils.build import exclude_paths

ROOT = Path(__file__).resolve().parent.parent
# ${NAME:?message}: compose refuses to start while NAME is unset or empty.
REQUIRED = re.compile(r"\$\{([A-Z_][A-Z0-9_]*):\?")


def _required_by_compose() -> set[str]:
    text = (ROOT / "compose.yaml").read_text()
    yaml.safe_load(text)  # a file compose can read at all
    return set(REQUIRED.findall(text))


def _readme_compose_command() -> str:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"`([^`]*docker compose up[^`]*)`", readme)
    assert len(commands) == 1, commands
    return commands[0]


def test_the_readme_compose_command_sets_every_required_variable():
    command = _readme_compose_command()
    given = set(re.findall(r"\b([A-Z_][A-Z0-9_]*)=", command))
    assert _required_by_compose() - given == set(), command


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and line[0] != "#"]


def test_the_build_context_leaves_out_secrets_and_local_state(tmp_path):
    kept = (
        "Dockerfile",
        "requirements.lock",
        "core/settings.py",
        "core/accounts/locale/fr/LC_MESSAGES/django.mo",
    )
    left_out = (
        ".git/config",
        ".venv/bin/python",  # make run's virtualenv: hundreds of MB
        "var/hub.sqlite3",  # the demo's database, keys and mailbox
        "var/secret-key",
        "var/message-keys",
        "var/mail/1.eml",
        "deploy/tls/privkey.pem",  # the TLS key stays with nginx
        ".env",  # compose's secrets
        "core/__pycache__/settings.cpython-311.pyc",
        "tests/data/aaf/export.xml",
    )
    for name in kept + left_out:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    context = exclude_paths(str(tmp_path), _dockerignore())
    assert set(kept) <= context
    assert context.isdisjoint(left_out), context & set(left_out)


def test_the_build_context_keeps_what_the_dockerfile_copies():
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            sources += line.split()[1:-1]
    assert "requirements.lock" in sources and "core" in sources
    tracked = subprocess.run(
        ["git", "ls-files", "--", *sources],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked
    context = exclude_paths(str(ROOT), _dockerignore())
    assert set(tracked) - context == set()
