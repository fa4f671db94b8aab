"""A real PgBouncer in transaction pooling mode, in front of one database.

:class:`PgBouncer` writes a ``pgbouncer.ini`` into a temporary folder (one
database, ``pool_mode = transaction``, ``auth_type = trust`` with an auth file
naming the user, a free loopback port, no Unix socket) and runs Debian's
``pgbouncer`` in the foreground as a child process, stopped on exit. Its
pool is small (``pool_size``, 2 by default) so that clients really share
server connections. Run as root, it is told to switch to the ``postgres``
user (``-u``): PgBouncer refuses to run as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import psycopg

from scripts.topology import free_ports

HOST = "127.0.0.1"
# Debian installs it under /usr/sbin, which a user's PATH may lack.
CANDIDATES = ("pgbouncer", "/usr/sbin/pgbouncer")
# Server connections start in this time zone, not the hub's UTC: a transaction
# on one that a client's ``SET TimeZone`` never reached would show it.
SERVER_TIMEZONE = "Europe/Paris"


def pgbouncer_binary() -> str | None:
    """The path of the ``pgbouncer`` program, or ``None`` when not installed."""
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


class PgBouncer:
    """PgBouncer serving ``database`` of the PostgreSQL at ``server`` (a dict
    with ``HOST``, ``PORT``, ``USER``, as Django's settings) as ``alias``."""

    def __init__(
        self, server: dict, database: str, *, alias: str = "hub", pool_size: int = 2
    ) -> None:
        self.server = server
        self.database = database
        self.alias = alias
        self.pool_size = pool_size
        self.user = server["USER"] or "postgres"
        self.port = free_ports(1)[0]
        self.folder: Path | None = None
        self.popen: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The ``DATABASE_URL`` of the database through PgBouncer."""
        user = urllib.parse.quote(self.user, safe="")
        return f"postgres://{user}@{HOST}:{self.port}/{self.alias}"

    @property
    def log(self) -> str:
        path = self.folder / "pgbouncer.log" if self.folder else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> PgBouncer:
        binary = pgbouncer_binary()
        if binary is None:
            raise FileNotFoundError("pgbouncer is not installed")
        self.folder = Path(tempfile.mkdtemp(prefix="hub-pgbouncer-"))
        config = self._write_config()
        argv = [binary, str(config)]
        if os.geteuid() == 0:
            # It refuses root; the postgres user must read and write its files.
            account = pwd.getpwnam("postgres")
            for path in (self.folder, *self.folder.iterdir()):
                os.chown(path, account.pw_uid, account.pw_gid)
            argv[1:1] = ["-u", "postgres"]
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)  # immediate shutdown
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self.popen = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def admin(self, command: str) -> list[dict]:
        """Rows of an admin console command (``SHOW POOLS``...), as dicts."""
        with psycopg.connect(
            host=HOST,
            port=self.port,
            user=self.user,
            dbname="pgbouncer",
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,  # the console speaks simple queries
        ) as connection:
            cursor = connection.execute(command)
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _write_config(self) -> Path:
        server_host = self.server["HOST"] or HOST
        server_port = self.server["PORT"] or "5432"
        auth_file = self.folder / "userlist.txt"
        auth_file.write_text(f'"{self.user}" ""\n')
        config = self.folder / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"{self.alias} = host={server_host} port={server_port} "
            f"dbname={self.database} user={self.user} timezone={SERVER_TIMEZONE}\n"
            "[pgbouncer]\n"
            f"listen_addr = {HOST}\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {auth_file}\n"
            f"admin_users = {self.user}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 500\n"
            # A client waits for a server connection this long, then errors.
            "query_wait_timeout = 30\n"
            f"logfile = {self.folder / 'pgbouncer.log'}\n"
        )
        self.folder.chmod(0o755)
        return config

    def _wait_ready(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"pgbouncer exited with {self.popen.returncode}:\n{self.log}"
                )
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"pgbouncer did not answer within {timeout} s:\n{self.log}"
                    ) from None
                time.sleep(0.1)
