"""compose.yaml's stack, started as a new region's IT team would, without Docker.

SLOW (about 30 s). Docker's daemon runs neither here nor in CI, so this reads
compose.yaml and runs each service of the hub's image as a local process:
its own ``command`` and ``environment`` (``${VAR:-default}`` and
``${VAR:?message}`` filled from an operator's values below, in which
``ALLOWED_HOSTS`` names the operator's domain only), in the order of its
``depends_on``; ``migrate``, ``asgi-1`` and ``asgi-2`` (uvicorn with the
compose argv, each on a free port), the workers and the scheduler; then the
``proxy``: the real nginx with deploy/nginx.conf, rewritten only for the
upstream addresses, the listening ports and the certificate's paths
(a self-signed certificate made here).

What compose's containers reach by host name is local: ``postgres`` the local
PostgreSQL (a fresh database, dropped afterwards), ``redis`` the local Redis
(a channel prefix of this run's), ``pgbouncer`` a real PgBouncer in
transaction pooling mode before that database (tests/pgbouncer.py; the hub's
processes go through it, ``migrate`` direct, as in compose), ``s3`` moto's S3 server (``moto_server``,
the bucket the ``s3-bucket`` job would make made with boto3).

Each service's healthcheck runs exactly as compose.yaml writes it, only the
host and port changed; the hub's must pass before the proxy starts, as
compose's ``service_healthy`` wants. Then, through nginx over HTTPS: a page,
a login and the hub's WebSocket receiving an event.

Runs on the PostgreSQL + Redis pass of the suite (``.ci/run``'s second);
needs ``nginx`` and ``pgbouncer`` (``.ci/run`` installs them): missing in CI, the test fails;
elsewhere it is skipped with the reason.
"""

import datetime as dt
import http.client
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import psycopg
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.sync.client import connect

from tests.pgbouncer import PgBouncer, pgbouncer_binary

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
# .ci/run exports CI=1 (and CI services CI=true): any value is CI.
IN_CI = bool(os.environ.get("CI"))
DOMAIN = "hub.example.test"
TIMEOUT = 60

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not DATABASE_URL.startswith(("postgres://", "postgresql://")) or not REDIS_URL,
        reason="slow compose test: runs on the PostgreSQL + Redis pass "
        "(DATABASE_URL=postgres://..., REDIS_URL=redis://...)",
    ),
]


def _require(command: str) -> str:
    path = shutil.which(command)
    if path is None:
        message = f"`{command}` is not installed (Debian package: see .ci/run)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# compose.yaml's interpolation ---------------------------------------------

VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, values: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?message}`` and ``${VAR?message}``; ``$$`` is a dollar."""

    def one(match: re.Match) -> str:
        name, operator, argument = match.groups()
        given = values.get(name)
        empty = given is None or (given == "" and operator and operator[0] == ":")
        if operator in (":?", "?") and empty:
            raise AssertionError(f"compose needs {name}: {argument}")
        if operator in (":-", "-") and empty:
            return argument
        return given or ""

    return VARIABLE.sub(one, str(value).replace("$$", "\0")).replace("\0", "$")


# The operator's certificate ------------------------------------------------


def write_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for DOMAIN and 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(DOMAIN),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    chain, private = folder / "fullchain.pem", folder / "privkey.pem"
    chain.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return chain, private


# The stack ------------------------------------------------------------------


class Stack:
    """compose.yaml's services as local processes; see the module docstring."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
        self.services = self.compose["services"]
        self.processes: dict[str, subprocess.Popen] = {}
        self.pgbouncer: PgBouncer | None = None
        self.ports = {name: _free_port() for name in self.hub_servers()}
        self.http_port, self.https_port = _free_port(), _free_port()
        self.origin = f"https://{DOMAIN}:{self.https_port}"
        self.postgres = urllib.parse.urlsplit(DATABASE_URL)._replace(path="/postgres")
        self.database = f"hub_deploy_compose_{secrets.token_hex(4)}"
        self.prefix = f"compose{secrets.token_hex(4)}"
        # What an operator puts in .env (compose.yaml's header comment).
        self.operator = {
            "SECRET_KEY": secrets.token_urlsafe(40),
            "MESSAGE_KEYS": _fernet_key(),
            "ALLOWED_HOSTS": DOMAIN,
            "CSRF_TRUSTED_ORIGINS": self.origin,
            "SITE_URL": self.origin,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(_free_port()),  # no relay: nothing is sent here
            "MINIO_ROOT_PASSWORD": secrets.token_urlsafe(12),
            "DOCUMENTS_S3_SECRET_KEY": secrets.token_urlsafe(12),
        }

    def hub_servers(self) -> list[str]:
        return [name for name in self.services if name.startswith("asgi-")]

    def hub_services(self) -> list[str]:
        """The services of the hub's image (built from the Dockerfile)."""
        return [name for name, s in self.services.items() if s.get("build") == "."]

    # Environment ---------------------------------------------------------

    def environment(self, name: str) -> dict[str, str]:
        """The service's environment with the local servers for its hosts."""
        env = {
            key: interpolate(value, self.operator)
            for key, value in self.services[name]["environment"].items()
        }
        database = urllib.parse.urlsplit(env["DATABASE_URL"])
        if database.hostname == "pgbouncer":
            # The pgbouncer service, in transaction pooling mode as compose's.
            assert env["DATABASE_POOLER"] == "pgbouncer", name
            assert self.services["pgbouncer"]["environment"]["POOL_MODE"] == (
                "transaction"
            )
            env["DATABASE_URL"] = self.pgbouncer.url
        else:
            assert database.hostname == "postgres", env["DATABASE_URL"]
            assert not env.get("DATABASE_POOLER"), name
            env["DATABASE_URL"] = self.postgres._replace(
                path=f"/{self.database}"
            ).geturl()
        assert urllib.parse.urlsplit(env["REDIS_URL"]).hostname == "redis"
        env["REDIS_URL"] = REDIS_URL
        env["HUB_CHANNEL_PREFIX"] = self.prefix
        s3 = urllib.parse.urlsplit(env["DOCUMENTS_S3_ENDPOINT_URL"])
        assert s3.hostname == "s3", env["DOCUMENTS_S3_ENDPOINT_URL"]
        env["DOCUMENTS_S3_ENDPOINT_URL"] = self.s3_url
        proxy = self.services["proxy"]["networks"]["default"]["ipv4_address"]
        assert env["FORWARDED_ALLOW_IPS"] == proxy
        env["FORWARDED_ALLOW_IPS"] = "127.0.0.1"  # the local proxy's address
        for key in ("VAR_DIR", "MEDIA_ROOT"):
            assert env[key].startswith("/var/lib/hub"), key
            env[key] = env[key].replace("/var/lib/hub", str(self.folder / "var"))
        return {
            "PATH": os.environ["PATH"],
            "HOME": str(self.folder),
            "LANG": "C.UTF-8",
            **env,
        }

    def argv(self, name: str) -> list[str]:
        """The service's command, on this port and interpreter."""
        argv = list(self.services[name]["command"])
        if argv[0] == "uvicorn":
            argv[:1] = [sys.executable, "-m", "uvicorn"]
            argv = [
                {"--host=0.0.0.0": "--host=127.0.0.1"}.get(
                    arg, arg.replace("--port=8000", f"--port={self.ports[name]}")
                )
                for arg in argv
            ]
            assert f"--port={self.ports[name]}" in argv, argv
        elif argv[0] == "python":
            argv[0] = sys.executable
        return argv

    def healthcheck(self, name: str) -> list[str]:
        """The service's healthcheck ``test``, for its local host and port."""
        kind, *command = self.services[name]["healthcheck"]["test"]
        if name == "postgres":
            assert kind == "CMD-SHELL", kind
            command = [*command[0].split(), "-h", self.postgres.hostname or ""]
            return [*command, "-p", str(self.postgres.port or 5432)]
        redis = urllib.parse.urlsplit(REDIS_URL)
        assert kind == "CMD", kind
        if name == "redis":
            host = ["-h", redis.hostname or "", "-p", str(redis.port or 6379)]
            return [command[0], *host, *command[1:]]
        if command[0] == "python":
            command[0] = sys.executable
        port = self.ports[name]
        return [arg.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for arg in command]

    # Lifecycle -----------------------------------------------------------

    def start(self) -> None:
        (self.folder / "var").mkdir()
        self._start_s3()
        with psycopg.connect(self.postgres.geturl(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.database}"')
        for name in ("postgres", "redis"):
            self.wait_healthy(name)
        server = {
            "HOST": self.postgres.hostname,
            "PORT": self.postgres.port or 5432,
            "USER": self.postgres.username,
        }
        self.pgbouncer = PgBouncer(server, self.database, alias=self.database)
        self.pgbouncer.start()
        env = self.environment("migrate")
        self.run("migrate", self.argv("migrate"), env)
        # What the Dockerfile does at build time.
        self.run(
            "collectstatic",
            [sys.executable, "manage.py", "collectstatic", "--noinput"],
            env,
        )
        for name in self.hub_services():
            if name == "migrate":
                continue
            self._check_depends_on(name)
            self.spawn(name, self.argv(name), self.environment(name))
        for name in self.hub_servers():
            self.wait_healthy(name)
        self._check_depends_on("proxy")
        self._start_proxy()

    def _check_depends_on(self, name: str) -> None:
        """What ``name`` waits for has happened (the order above is compose's)."""
        for other, condition in self.services[name]["depends_on"].items():
            condition = condition["condition"]
            if condition == "service_completed_successfully":
                assert other in ("migrate", "s3-bucket"), (name, other)
            elif other in self.processes:
                assert condition == "service_healthy", (name, other)
                self.wait_healthy(other)

    def _start_s3(self) -> None:
        import boto3

        port = _free_port()
        self.s3_url = f"http://127.0.0.1:{port}"
        self.spawn(
            "s3",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            {**os.environ},
        )
        env = self.environment("migrate")
        client = boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            region_name=env["DOCUMENTS_S3_REGION"],
            aws_access_key_id=env["DOCUMENTS_S3_ACCESS_KEY"],
            aws_secret_access_key=env["DOCUMENTS_S3_SECRET_KEY"],
        )
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                client.create_bucket(Bucket=env["DOCUMENTS_S3_BUCKET"])
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _start_proxy(self) -> None:
        nginx = _require("nginx")
        chain, key = write_certificate(self.folder)
        conf = (ROOT / "deploy" / "nginx.conf").read_text()
        for name in self.hub_servers():
            conf = conf.replace(
                f"server {name}:8000", f"server 127.0.0.1:{self.ports[name]}"
            )
        conf = conf.replace("listen 80;", f"listen 127.0.0.1:{self.http_port};")
        conf = conf.replace("listen 443 ", f"listen 127.0.0.1:{self.https_port} ")
        conf = conf.replace("/etc/nginx/tls/fullchain.pem", str(chain))
        conf = conf.replace("/etc/nginx/tls/privkey.pem", str(key))
        assert "asgi-" not in conf and "/etc/nginx" not in conf
        site = self.folder / "default.conf"
        site.write_text(conf)
        # The image's /etc/nginx/nginx.conf: the site in an http block.
        temp = self.folder / "nginx"
        temp.mkdir()
        main = self.folder / "nginx.conf"
        main.write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"daemon off;\nworker_processes 1;\npid {temp}/nginx.pid;\n"
            f"error_log {temp}/error.log;\nevents {{}}\nhttp {{\n"
            f"  access_log {temp}/access.log;\n"
            f"  client_body_temp_path {temp}/body;\n"
            f"  proxy_temp_path {temp}/proxy;\n"
            f"  fastcgi_temp_path {temp}/fastcgi;\n"
            f"  uwsgi_temp_path {temp}/uwsgi;\n"
            f"  scgi_temp_path {temp}/scgi;\n"
            f"  include {site};\n}}\n"
        )
        self.spawn(
            "proxy",
            [nginx, "-p", str(temp), "-e", str(temp / "error.log"), "-c", str(main)],
            {**os.environ},
        )
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.https_port), 1).close()
                return
            except OSError:
                self.assert_running("proxy")
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.1)

    def run(self, name: str, argv: list[str], env: dict[str, str]) -> str:
        result = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"{name}: {result.stderr[-3000:]}"
        return result.stdout

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def assert_running(self, name: str) -> None:
        code = self.processes[name].poll()
        assert code is None, f"{name} exited with {code}:\n{self.log(name)}"

    def check(self, name: str) -> subprocess.CompletedProcess:
        """Run ``name``'s healthcheck once, within its compose timeout."""
        timeout = float(self.services[name]["healthcheck"]["timeout"].rstrip("s"))
        return subprocess.run(
            self.healthcheck(name),
            capture_output=True,
            text=True,
            timeout=timeout + 5,
        )

    def wait_healthy(self, name: str) -> None:
        """As compose: retry the healthcheck (faster than its interval) until
        it passes; fail with its last output after TIMEOUT."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            if name in self.processes:
                self.assert_running(name)
            result = self.check(name)
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{name}'s healthcheck never passed: {result.stderr[-2000:]}"
                    f"\n{name}'s log:\n{self.log(name)}"
                )
            time.sleep(0.5)

    def stop(self) -> None:
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.pgbouncer is not None:
            self.pgbouncer.stop()
        with psycopg.connect(self.postgres.geturl(), autocommit=True) as connection:
            connection.execute(
                f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'
            )

    # Clients ---------------------------------------------------------------

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.folder / "fullchain.pem"))

    def https(self, method: str, path: str, body: str = "", headers=None):
        """A request to nginx's HTTPS port for the operator's domain."""
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, context=self.tls(), timeout=20
        )
        headers = {"Host": f"{DOMAIN}:{self.https_port}", **(headers or {})}
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response, response.read().decode()

    def shell(self, code: str) -> str:
        """``manage.py shell -c`` with the services' environment."""
        argv = [sys.executable, "manage.py", "shell", "--no-imports", "-c", code]
        return self.run("shell", argv, self.environment("migrate")).strip()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    _require("nginx")
    _require("pg_isready")
    _require("redis-cli")
    _require(pgbouncer_binary() or "pgbouncer")
    running = Stack(tmp_path_factory.mktemp("compose"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


def test_every_healthcheck_passes(stack):
    """compose.yaml's healthchecks, as written, pass on the running stack;
    the only one not run is the S3 store's (``mc``: moto stands for MinIO)."""
    checked = []
    for name, service in stack.services.items():
        if "healthcheck" not in service:
            continue
        if name == "s3":
            assert service["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]
            continue
        result = stack.check(name)
        assert result.returncode == 0, (name, result.stderr)
        checked.append(name)
    assert {"postgres", "redis", "asgi-1", "asgi-2"} <= set(checked)
    for name in stack.hub_services():
        if name != "migrate":
            stack.assert_running(name)
    stack.assert_running("proxy")


def _cookies(response) -> dict[str, str]:
    jar = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


def test_the_proxy_serves_pages_over_https_only(stack):
    response, page = stack.https("GET", "/login/")
    assert response.status == 200, page[:500]
    assert 'name="csrfmiddlewaretoken"' in page
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    script = re.search(r'src="(/static/[^"]+\.js)"', page)
    assert script, page[:2000]
    response, body = stack.https("GET", script.group(1))
    assert response.status == 200 and body
    # Plain HTTP is redirected; the health probes are not published.
    plain = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=10)
    plain.request("GET", "/login/", headers={"Host": DOMAIN})
    redirect = plain.getresponse()
    assert redirect.status == 301
    assert redirect.headers["Location"] == f"https://{DOMAIN}/login/"
    for path in ("/healthz", "/readyz"):
        assert stack.https("GET", path)[0].status == 404


EMIT = """
from typing import Literal
from django.db import transaction
import hub
from hub.events import HubEvent

class ComposeTick(HubEvent):
    kind = "test.compose"
    notify = False
    op: Literal["tick"]
    n: int

with transaction.atomic():
    hub.send_event(["user:{pk}"], ComposeTick(op="tick", n=7))
"""


def test_a_user_logs_in_and_gets_an_event_over_the_proxys_websocket(stack):
    password = secrets.token_urlsafe(16)
    pk = stack.shell(
        "from core.roster.models import User; "
        f"print(User.objects.create_user(username='lea', password='{password}', "
        "role=User.Role.STUDENT, first_name='Léa', last_name='Dubois').pk)"
    )
    response, _ = stack.https("GET", "/login/")
    csrf = _cookies(response)["csrftoken"]
    response, page = stack.https(
        "POST",
        "/login/",
        body=urllib.parse.urlencode(
            {"csrfmiddlewaretoken": csrf, "username": "lea", "password": password}
        ),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
            "Referer": f"{stack.origin}/login/",
            "Origin": stack.origin,
        },
    )
    assert response.status == 302, page[:2000]
    session = _cookies(response)["sessionid"]

    raw = socket.create_connection(("127.0.0.1", stack.https_port), timeout=20)
    with connect(
        f"wss://{DOMAIN}:{stack.https_port}/ws/",
        sock=raw,
        ssl=stack.tls(),
        server_hostname="127.0.0.1",
        origin=stack.origin,
        additional_headers={"Cookie": f"sessionid={session}"},
        open_timeout=20,
    ) as ws:
        assert json.loads(ws.recv(timeout=20))["type"] == "hello"
        stream = f"user:{pk}"
        ws.send(json.dumps({"type": "subscribe", "id": "s", "streams": [stream]}))
        reply = json.loads(ws.recv(timeout=20))
        assert reply["type"] == "subscribed", reply
        stack.shell(EMIT.format(pk=pk))
        frame = json.loads(ws.recv(timeout=20))
        assert frame["type"] == "event", frame
        assert (frame["stream"], frame["kind"], frame["data"]) == (
            stream,
            "test.compose",
            {"n": 7},
        )
