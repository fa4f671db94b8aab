"""A real hub for browser tests: Daphne in a subprocess, its own database, Chromium.

Fixtures:

- ``live_hub`` (session): a :class:`LiveHub` serving ``core.asgi:application``
  with Daphne on a free port, with a fresh database (a new PostgreSQL database
  ``hub_browser_<pid>`` when the run's ``DATABASE_URL`` is PostgreSQL, else a
  temporary SQLite file) migrated and seeded with ``tests.conftest.build_school``
  (personas' passwords are ``"pw-" + username``). ``live_hub.manage(...)`` runs
  a management command against that database and ``live_hub.shell(code)`` runs
  Python in ``manage.py shell`` to seed more data. A private ``redis-server``
  carries the doorbells, so events written by those commands (other
  processes) reach the server's sockets, as in production.
- ``browser`` (session): headless Chromium from ``/usr/bin/chromium`` (never
  downloaded).
- ``page`` (function): a fresh browser context and page, ``base_url`` set to
  the server, 1280x800.
- ``login`` (function): ``login(page, "lea")`` logs in through the login page,
  and through the second factor for staff (enrolment at their first login).

The server's data is shared by every browser test of the session; a test that
changes it (an import) should use data no other test relies on.

Browser tests are plain sync tests marked ``@pytest.mark.browser``, and use no
``db`` fixture: the server owns its database. (Playwright's sync API refuses to
run inside a running asyncio loop, so they cannot be ``async``.)
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENS_DIR = REPO / "var" / "screens"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(
    port: int, timeout: float, process: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before listening"
            )
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), 0.5),
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@dataclass
class LiveHub:
    """The running server: its URL, environment and helpers to act on its data."""

    url: str
    env: dict
    var_dir: Path
    log_path: Path
    processes: list = field(default_factory=list)

    def manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``manage.py *args`` against the server's database; raise on failure."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def shell(self, code: str) -> str:
        """Run Python ``code`` in ``manage.py shell``; return its output."""
        return self.manage("shell", "--no-imports", "-c", code).stdout

    def data_file(self, relative: str) -> Path:
        """Return a file of the tests' data (``tests/data/ical/...``)."""
        return REPO / "tests" / "data" / relative

    def log_tail(self, chars: int = 4000) -> str:
        """Return the end of the server's log (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@contextlib.contextmanager
def fresh_database(var_dir: Path):
    """Yield a DATABASE_URL for a new, empty database; drop it afterwards."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://", "pgsql://")):
        yield f"sqlite:///{var_dir / 'browser.sqlite3'}"
        return
    import dj_database_url
    import psycopg
    from psycopg import sql

    params = dj_database_url.parse(base)
    name = f"hub_browser_{os.getpid()}"
    connect = {
        "host": params.get("HOST") or None,
        "port": params.get("PORT") or None,
        "user": params.get("USER") or None,
        "password": params.get("PASSWORD") or None,
        "dbname": params.get("NAME") or "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**connect) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    scheme, rest = base.split("://", 1)
    authority = rest.split("/", 1)[0]
    query = "?" + rest.split("?", 1)[1] if "?" in rest else ""
    try:
        yield f"{scheme}://{authority}/{name}{query}"
    finally:
        with psycopg.connect(**connect) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def private_redis(var_dir: Path):
    """Yield the URL of a throwaway redis-server, or of the run's REDIS_URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("REDIS_URL"):
            yield os.environ["REDIS_URL"]
            return
        pytest.fail(
            "Browser tests need redis-server (or REDIS_URL): events written by "
            "management commands run in another process than the server, and the "
            "in-memory fan-out cannot carry their doorbells across processes."
        )
    port = free_port()
    log = open(var_dir / "redis.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=var_dir,
    )
    try:
        wait_for_port(port, 15, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)
        log.close()


@pytest.fixture(scope="session")
def live_hub():
    """Serve the hub with Daphne on a fresh, seeded database (see module doc)."""
    var_dir = Path(tempfile.mkdtemp(prefix="hub-browser-"))
    with fresh_database(var_dir) as database_url, private_redis(var_dir) as redis_url:
        env = {
            **os.environ,
            "DEBUG": "1",
            "SECRET_KEY": "test",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "VAR_DIR": str(var_dir),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        port = free_port()
        # E-mails the server sends go nowhere: to a port no one listens on,
        # never to a developer's relay or a running demo's mailbox (8025).
        env.update(
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(free_port()),
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
            EMAIL_USE_TLS="",
            EMAIL_START_TLS="",
            SITE_URL=f"http://127.0.0.1:{port}",
        )
        hub = LiveHub(
            url=f"http://127.0.0.1:{port}",
            env=env,
            var_dir=var_dir,
            log_path=var_dir / "daphne.log",
        )
        hub.manage("migrate", "--noinput")
        hub.shell("from tests.conftest import build_school; build_school()")
        log = open(hub.log_path, "w")  # noqa: SIM115
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "core.asgi:application",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_for_port(port, 60, server)
            except (RuntimeError, TimeoutError) as error:
                pytest.fail(f"Daphne did not start: {error}\n{hub.log_tail()}")
            yield hub
        finally:
            stop(server)
            log.close()
    shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from /usr/bin/chromium (never a downloaded one)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install the distribution's chromium package "
            "(browser tests never download a browser)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, live_hub):
    """A fresh context (no cookies) and page on the live hub, 1280x800, in French."""
    context = browser.new_context(
        base_url=live_hub.url,
        viewport={"width": 1280, "height": 800},
        locale="fr-FR",
        timezone_id="Europe/Paris",
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def second_factors() -> dict[str, list[str]]:
    """The recovery codes :func:`pass_second_factor` was shown at each
    user's enrolment, by username (the server's data lives as long)."""
    return {}


NEW_CODES = """
from core.roster.models import User
from core.twofactor.actions import new_recovery_codes
print(*new_recovery_codes(User.objects.get(username="{username}"), None))
"""


def pass_second_factor(
    page, username: str, codes: dict[str, list[str]], hub=None
) -> None:
    """Pass the second step after the password, as staff do (core/twofactor).

    At enrolment (a member of staff's first login): read the key under the
    QR code, type the app's code (django-otp's TOTP, as a phone computes it),
    keep the 10 recovery codes shown. At the second step: type one of them
    (each works once; a TOTP code works once per 30 s, too seldom for tests).
    """
    from base64 import b32decode

    from django_otp.oath import totp

    if "/double-authentification/activer/" in page.url:
        secret = page.text_content("#totp-secret").replace(" ", "")
        key = b32decode(secret + "=" * (-len(secret) % 8))
        page.fill("#id_code", f"{totp(key):06d}")
        page.click("#enrol-form button[type=submit]")
        page.wait_for_selector("#recovery-codes")
        codes[username] = page.locator("#recovery-codes code").all_text_contents()
        with page.expect_navigation():
            page.click("#recovery-continue")
    elif "/connexion/verification/" in page.url:
        if not codes.get(username) and username in codes and hub is not None:
            # Ten codes, one a login: more journeys log this user in.
            codes[username] = hub.shell(NEW_CODES.format(username=username)).split()
        assert codes.get(username), f"{username} has a second factor the tests lack"
        page.fill("#id_code", codes[username].pop())
        with page.expect_navigation():
            page.click("#verify-form button[type=submit]")
        assert "/connexion/verification/" not in page.url, f"{username}: code refused"


@pytest.fixture
def login(second_factors, live_hub):
    """Return ``login(page, username)``: log in through the login page (and
    the second step for staff: :func:`pass_second_factor`)."""

    def login(page, username: str, password: str | None = None):
        page.goto("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password or "pw-" + username)
        with page.expect_navigation():
            page.click("form.form button[type=submit]")
        assert "/login/" not in page.url, f"login as {username} failed"
        pass_second_factor(page, username, second_factors, live_hub)
        return page

    return login


@pytest.fixture(scope="session")
def screens_dir() -> Path:
    """Return var/screens/ (created), where tests save screenshots to look at."""
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENS_DIR
