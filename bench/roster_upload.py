"""Upload one big roster file through the admin's upload page; measure the
server's time and peak memory, under Daphne (``make run``) and uvicorn
(production, ``compose.yaml``).

    .venv/bin/python bench/roster_upload.py --megabytes 300 600

Each run: a throwaway SQLite database in a temporary folder, migrated, with
one staff member who may add roster imports; then, for each server, a real
server process on a free port, a login through ``/admin/login/`` and one
multipart POST of a generated CSV of ``--megabytes`` MiB per size (streamed
from memory, one MiB at a time, with its Content-Length) to
``/admin/roster/rosterimport/upload/``. It prints the answer (303/302 to the
import's page, or 200 with the form's error past ``ROSTER_UPLOAD_MAX_BYTES``),
the wall time of the POST and the server's peak RSS (``VmHWM``) before and
after. No task worker runs: the import stays queued; only the upload is
measured.
"""

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
ROW = b"sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role\r\n"


# bench.lead's authenticator app (staff pass a second factor).
TOTP_KEY = os.urandom(20).hex()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_mib(pid: int) -> tuple[int, int]:
    """Return (VmRSS, VmHWM) of ``pid`` in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) // 1024
    return values["VmRSS"], values["VmHWM"]


class Session:
    """Cookies and CSRF token of one logged-in admin on ``port``."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        content = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            for key, morsel in SimpleCookie(header).items():
                self.cookies[key] = morsel.value
        conn.close()
        return response, content.decode("utf-8", "replace")

    def token(self, path: str) -> str:
        _, html = self.request("GET", path)
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]

    def login(self, username: str, password: str) -> None:
        form = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": self.token("/admin/login/"),
                "username": username,
                "password": password,
                "next": "/admin/",
            }
        )
        response, _ = self.request(
            "POST",
            "/admin/login/",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status == 302, "login failed"
        # Staff pass a second factor (core/twofactor): the app's code.
        from django_otp.oath import totp

        form = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": self.token("/connexion/verification/"),
                "code": f"{totp(bytes.fromhex(TOTP_KEY)):06d}",
                "next": "/admin/",
            }
        )
        response, _ = self.request(
            "POST",
            "/connexion/verification/",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status == 302, "second factor refused"


def upload(session: Session, megabytes: int):
    """POST one generated file of ``megabytes`` MiB; return (status, where, s)."""
    path = "/admin/roster/rosterimport/upload/"
    token = session.token(path)
    boundary, size, body = csv_upload(token, megabytes)

    started = time.monotonic()
    response, html = session.request(
        "POST",
        path,
        body(),
        {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(size),
        },
    )
    elapsed = time.monotonic() - started
    error = re.search(r'<ul class="errorlist[^"]*"[^>]*><li>(.*?)</li>', html)
    where = response.headers.get("Location") or (error[1] if error else "")
    return response.status, where, elapsed


def csv_upload(token: str, megabytes: int):
    """A multipart roster upload of a generated CSV of ``megabytes`` MiB,
    streamed one MiB at a time: ``(boundary, size, body generator factory)``."""
    boundary = "----roster-bench-boundary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        f"{token}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="files"; filename="users.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    chunk = ROW * (MiB // len(ROW))

    def body():
        yield head
        for _ in range(megabytes):
            yield chunk
        yield tail

    return boundary, len(head) + len(chunk) * megabytes + len(tail), body


def bench_site(var_dir: Path) -> dict[str, str]:
    """Migrate a throwaway SQLite hub in ``var_dir`` with one IT lead who may
    import rosters for their school (``bench.lead`` / ``bench-pw-1``, second
    factor :data:`TOTP_KEY`); return the servers' environment."""
    env = {
        **os.environ,
        "DEBUG": "1",
        "SECRET_KEY": "bench",
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'bench.sqlite3'}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("REDIS_URL", None)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=REPO, env=env, check=True)
    seed = (
        "from django.contrib.auth.models import Permission\n"
        "from django_otp.plugins.otp_totp.models import TOTPDevice\n"
        "from core.roster.models import Org, User\n"
        "u = User.objects.create_user('bench.lead', password='bench-pw-1',"
        " role='administrator', is_staff=True)\n"
        "u.user_permissions.add(Permission.objects.get(codename='add_rosterimport'))\n"
        "u.orgs.add(Org.objects.create(name='Collège du banc', uai='0350099Z'))\n"
        f"TOTPDevice.objects.create(user=u, name='bench', key='{TOTP_KEY}')\n"
    )
    subprocess.run([*manage, "shell", "-c", seed], cwd=REPO, env=env, check=True)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, nargs="+", default=[100, 600])
    parser.add_argument("--servers", nargs="+", default=["daphne", "uvicorn"])
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="roster-upload-bench-"))
    env = bench_site(var_dir)
    try:
        for server in args.servers:
            port = free_port()
            command = {
                "daphne": [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "core.asgi:application",
                ],
                "uvicorn": [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "core.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--ws=hub.realtime.uvicorn:SlimWebSocketProtocol",
                    "--lifespan=off",
                    "--no-access-log",
                ],
            }[server]
            process = subprocess.Popen(command, cwd=REPO, env=env)
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), 0.5).close()
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.2)
                session = Session(port)
                session.login("bench.lead", "bench-pw-1")
                for megabytes in args.megabytes:
                    before = peak_mib(process.pid)
                    status, where, elapsed = upload(session, megabytes)
                    after = peak_mib(process.pid)
                    print(
                        f"{server:8} {megabytes:5} MiB: HTTP {status} in {elapsed:6.1f} s; "
                        f"server RSS {before[0]} -> {after[0]} MiB, peak {after[1]} MiB; "
                        f"{where}"
                    )
            finally:
                process.terminate()
                process.wait(20)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
