"""The fan-out benches' baseline servers: where they come from, how they run.

The baselines are the shared ones (``../shared/bench-baselines``, beside the
repository), copied into ``bench/baselines/`` with a ``PROVENANCE.md`` so the
benches run where that folder is absent; a run says which folder it used and
whether the copies still match the shared folder (:func:`baselines_note`).
Each server runs unmodified from a temporary copy (:func:`baseline_server`):

- ``raw``: ``rawserver.py`` (asyncio, ``websockets.broadcast``, one Redis
  subscription), the client offering no permessage-deflate: the floor for
  Python, like for like with the hub, which never compresses in production;
- ``raw-deflate``: the same, the client offering permessage-deflate as
  browsers do (``websockets`` accepts it);
- ``node``: ``nodeserver.js`` (Node ``ws`` + ``ioredis``, permessage-deflate
  off), a peer from another runtime; its npm packages are installed by the
  bench itself, at the versions of :data:`NODE_PACKAGES`, into
  ``var/bench-node/`` (:func:`node_modules`), nothing global;
- ``channels``: ``labsite.py`` on Daphne with ``LAYER=pubsub``, plain
  Channels as the tutorial builds it.

The baselines use Redis at ``127.0.0.1:6379`` and the pub/sub channel
``school`` as written (pub/sub channels are not per database): a run of
another bench at the same time shows as "frames of another publisher".
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
COPIES = BENCH / "baselines"
SHARED = ROOT.parent / "shared" / "bench-baselines"
FILES = ("rawserver.py", "nodeserver.js", "labsite.py", "client.py")
# Exact versions: a figure of Node ws is a figure of one ws.
NODE_PACKAGES = {"ws": "8.23.1", "ioredis": "5.9.3"}
NODE_CACHE = ROOT / "var" / "bench-node"

# name -> (label, permessage-deflate offered by the client: "browser" means
# as a browser does, unless --no-compression; None never)
SERVERS: dict[str, tuple[str, str | None]] = {
    "raw": (
        "raw floor, uncompressed (rawserver.py: websockets.broadcast + 1 Redis "
        "sub; the client offers no permessage-deflate)",
        None,
    ),
    "raw-deflate": (
        "raw floor, permessage-deflate (rawserver.py; the client offers it, as "
        "browsers do)",
        "deflate",
    ),
    "node": (
        "Node ws (nodeserver.js: ws + ioredis, perMessageDeflate off)",
        "browser",
    ),
    "channels": ("plain Channels (labsite.py on Daphne, LAYER=pubsub)", "browser"),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"server on port {port} exited with {process.returncode}:\n"
                + log.read_text(errors="replace")[-2000:]
            )
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after {seconds} s")


def default_folder() -> Path:
    """``BENCH_BASELINES`` if set, else the copies in ``bench/baselines``."""
    return Path(os.environ.get("BENCH_BASELINES", COPIES))


def baselines_note(folder: Path) -> str:
    """One line on the baselines a run uses: the folder, and how the copies
    compare with ``../shared/bench-baselines`` (absent, identical, differing).
    Exits when ``folder`` lacks a baseline."""
    folder = Path(folder)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise SystemExit(
            f"the baselines folder {folder} lacks {', '.join(missing)} "
            f"(the copies are in {COPIES}; see PROVENANCE.md there)"
        )
    if folder.resolve() != COPIES.resolve():
        return f"baselines: {folder} (--baselines / BENCH_BASELINES)"
    if not SHARED.is_dir():
        return (
            f"baselines: the copies in {COPIES.relative_to(ROOT)} "
            f"({SHARED} is absent: the figures are those of the copies, "
            "see PROVENANCE.md)"
        )
    differ = [
        name
        for name in FILES
        if not (SHARED / name).is_file()
        or (SHARED / name).read_bytes() != (COPIES / name).read_bytes()
    ]
    if differ:
        return (
            f"baselines: the copies in {COPIES.relative_to(ROOT)}; WARNING: "
            f"{', '.join(differ)} differ from {SHARED} (copy them again and "
            "update PROVENANCE.md, or run --baselines "
            f"{SHARED})"
        )
    return f"baselines: the copies in {COPIES.relative_to(ROOT)}, identical to {SHARED}"


def node_binary() -> str:
    node = shutil.which("node") or "/usr/bin/node"
    if not Path(node).exists():
        raise SystemExit("the node baseline needs Node.js (node) on the PATH")
    return node


def node_modules() -> Path:
    """``node_modules`` with :data:`NODE_PACKAGES`, installed on first use
    into :data:`NODE_CACHE` with ``npm install`` (no global install)."""
    modules = NODE_CACHE / "node_modules"

    def installed(name: str) -> str | None:
        try:
            manifest = json.loads((modules / name / "package.json").read_text())
        except (OSError, ValueError):
            return None
        return manifest.get("version")

    if all(installed(n) == v for n, v in NODE_PACKAGES.items()):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("the node baseline needs npm to install ws and ioredis")
    NODE_CACHE.mkdir(parents=True, exist_ok=True)
    (NODE_CACHE / "package.json").write_text(
        json.dumps(
            {
                "name": "hub-bench-node-baseline",
                "private": True,
                "description": "bench/fanout_baselines.py: nodeserver.js's packages",
                "dependencies": NODE_PACKAGES,
            },
            indent=2,
        )
    )
    print(f"   npm install {NODE_PACKAGES} into {NODE_CACHE}", flush=True)
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--save-exact"],
        cwd=NODE_CACHE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode or not all(installed(n) == v for n, v in NODE_PACKAGES.items()):
        raise SystemExit(
            f"npm install failed in {NODE_CACHE} (exit {done.returncode}):\n"
            + (done.stderr or done.stdout)[-2000:]
        )
    return modules


def compression_of(name: str, no_compression: bool) -> str | None:
    """What the client offers to baseline ``name``."""
    offer = SERVERS[name][1]
    if offer == "browser":
        return None if no_compression else "deflate"
    return offer


@contextlib.contextmanager
def baseline_server(name: str, folder: Path, clean_env: dict, daphne_args=()):
    """Run baseline ``name`` (a key of :data:`SERVERS`) from a temporary copy
    of ``folder``; yield ``(process, port)`` once it listens."""
    work = Path(tempfile.mkdtemp(prefix="fanout-baseline-"))
    port = free_port()
    env = dict(clean_env)
    if name in ("raw", "raw-deflate"):
        files = ["rawserver.py"]
        argv = [sys.executable, "rawserver.py", str(port)]
    elif name == "node":
        files = ["nodeserver.js"]
        env["NODE_PATH"] = str(node_modules())
        argv = [node_binary(), "nodeserver.js", str(port)]
    elif name == "channels":
        files = ["labsite.py"]
        env["LAYER"] = "pubsub"
        env["PYTHONPATH"] = str(work)
        argv = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            *daphne_args,
            "labsite:application",
        ]
    else:
        raise ValueError(name)
    for file in files:
        shutil.copy(Path(folder) / file, work / file)
    log = work / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            argv, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(port, server, log)
        yield server, port
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        shutil.rmtree(work, ignore_errors=True)
