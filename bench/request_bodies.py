"""Post a big multipart body to a real server, anonymously and logged in;
measure the server process's memory (issue 13, finding 3).

    .venv/bin/python bench/request_bodies.py --megabytes 150
    .venv/bin/python bench/request_bodies.py --megabytes 150 --servers daphne \\
        --who anonymous --transfer chunked

Each case runs on a fresh server process (so its peak RSS, ``VmHWM``, is the
case's own): a throwaway SQLite database in a temporary folder, migrated,
with one staff member who may add roster imports; the server (Daphne as
``make run`` serves, or uvicorn with ``scripts/topology.py``'s
``UVICORN_OPTIONS`` as ``compose.yaml``) on a free port; for ``logged-in``,
a login through ``/admin/login/``; then one multipart POST of a generated
CSV of ``--megabytes`` MiB to the admin's roster upload
(``/admin/roster/rosterimport/upload/``, the largest body the hub accepts:
``ROSTER_UPLOAD_MAX_TOTAL_BYTES``), streamed from memory one MiB at a time,
with a ``Content-Length`` (``--transfer length``) or chunked
(``--transfer chunked``). It prints the answer's status, the wall time and
the server's RSS before, at its peak and after. No task worker runs: an
accepted import stays queued; only the request is measured.
"""

import argparse
import http.client
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.roster_upload import Session, bench_site, csv_upload, free_port, peak_mib  # noqa: E402
from scripts.topology import UVICORN_OPTIONS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
PATH = "/admin/roster/rosterimport/upload/"


def server_command(server: str, port: int) -> list[str]:
    if server == "daphne":
        return [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "core.asgi:application",
        ]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "core.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *UVICORN_OPTIONS,
    ]


def post(session: Session, megabytes: int, chunked: bool, logged_in: bool):
    """POST the body; return (status, seconds)."""
    token = session.token(PATH) if logged_in else "x" * 64
    boundary, size, body = csv_upload(token, megabytes)

    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    if not chunked:
        headers["Content-Length"] = str(size)
    if session.cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", session.port, timeout=600)
    try:
        conn.request("POST", PATH, body(), headers, encode_chunked=chunked)
        response = conn.getresponse()
        response.read()
        status = response.status
    except (BrokenPipeError, ConnectionResetError):
        # The server answered and closed before the whole body went out.
        try:
            response = conn.getresponse()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = "connection closed"
    finally:
        conn.close()
    return status, time.monotonic() - started


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=150)
    parser.add_argument("--servers", nargs="+", default=["daphne", "uvicorn"])
    parser.add_argument("--who", nargs="+", default=["anonymous", "logged-in"])
    parser.add_argument("--transfer", nargs="+", default=["length", "chunked"])
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="body-bench-"))
    env = bench_site(var_dir)
    try:
        for server in args.servers:
            for who in args.who:
                for transfer in args.transfer:
                    port = free_port()
                    process = subprocess.Popen(
                        server_command(server, port), cwd=REPO, env=env
                    )
                    try:
                        wait_listening(port)
                        session = Session(port)
                        if who == "logged-in":
                            session.login("bench.lead", "bench-pw-1")
                        else:
                            session.request("GET", "/admin/login/")
                        before = peak_mib(process.pid)[0]
                        status, elapsed = post(
                            session,
                            args.megabytes,
                            transfer == "chunked",
                            who == "logged-in",
                        )
                        after, peak = peak_mib(process.pid)
                        print(
                            f"{server:8} {who:10} {transfer:8} {args.megabytes} MiB: "
                            f"HTTP {status} in {elapsed:6.1f} s; server RSS "
                            f"{before} MiB before, peak {peak} MiB, {after} MiB after",
                            flush=True,
                        )
                    finally:
                        process.terminate()
                        process.wait(20)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
