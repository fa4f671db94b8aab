"""The production files: compose.yaml, nginx config, settings defaults."""

import json
from pathlib import Path

import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_runs_postgres_redis_two_asgi_processes_proxy_and_scheduler():
    services = load_compose()["services"]
    assert {
        "postgres",
        "redis",
        "migrate",
        "asgi-1",
        "asgi-2",
        "proxy",
        "scheduler",
    } <= set(services)
    for name in ("asgi-1", "asgi-2", "scheduler"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
        assert env["DEBUG"] == "0"
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    for name in ("postgres", "redis", "asgi-1", "asgi-2"):
        assert "healthcheck" in services[name], name
    assert services["scheduler"]["command"][:3] == [
        "python",
        "manage.py",
        "run_scheduler",
    ]


def _options(argv: list[str]) -> dict[str, str | bool]:
    """``--name value``, ``--name=value`` and ``--flag`` as a dict."""
    options, rest = {}, list(argv)
    while rest:
        token = rest.pop(0)
        name, equals, value = token.partition("=")
        if equals:
            options[name] = value
        elif rest and not rest[0].startswith("--"):
            options[name] = rest.pop(0)
        else:
            options[name] = True
    return options


def test_asgi_processes_run_uvicorn_with_the_measured_options():
    """docs/decisions/0003: uvicorn in production, with the options the
    topology (and so the benches) run it with; the image's default command is
    the same; a stop leaves time for the hub's drain."""
    from core import settings as production
    from scripts.topology import UVICORN_OPTIONS

    services = load_compose()["services"]
    asgi = [name for name in services if name.startswith("asgi-")]
    assert asgi
    for name in asgi:
        command = services[name]["command"]
        assert command[:2] == ["uvicorn", "core.asgi:application"], name
        options = _options(command[2:])
        assert options["--host"] == "0.0.0.0" and options["--port"] == "8000"
        assert options["--proxy-headers"] is True
        # Issue 13: proxy headers from the proxy only, never "*" (a client
        # would name its own address in X-Forwarded-For).
        assert "--forwarded-allow-ips" not in options
        env = services[name]["environment"]
        proxy = services["proxy"]["networks"]["default"]["ipv4_address"]
        assert env["FORWARDED_ALLOW_IPS"] == proxy
        assert _options(list(UVICORN_OPTIONS)).items() <= options.items(), name
        assert options["--ws-per-message-deflate"] == "false"
        assert options["--ws"] == "hub.realtime.uvicorn:SlimWebSocketProtocol", name
        # Issue 13: no WebSocket message over the settings' bound is read.
        assert int(options["--ws-max-size"]) == production.HUB_WS_MAX_BYTES, name
        grace = float(services[name]["stop_grace_period"].removesuffix("s"))
        drain = production.HUB_DRAIN_SECONDS + float(
            options["--timeout-graceful-shutdown"]
        )
        assert grace > drain, name
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert json.loads(cmd.removeprefix("CMD ")) == services["asgi-1"]["command"]


def test_every_server_bounds_websocket_messages_by_the_one_setting():
    """Issue 13, finding 3: uvicorn (UVICORN_OPTIONS, hence compose.yaml and
    the Dockerfile, checked above) and Daphne (`make run`'s runserver reads
    the DAPHNE_* settings; the topology passes its options) read no
    WebSocket message over HUB_WS_MAX_BYTES."""
    from core import settings as production
    from scripts.topology import WS_MAX_BYTES, server_argv

    assert WS_MAX_BYTES == production.HUB_WS_MAX_BYTES
    assert production.HUB_WS_MAX_BYTES < 16 * 1024 * 1024  # uvicorn's default
    assert production.HUB_WS_MAX_BYTES > production.HUB_MAX_FRAME_BYTES
    assert production.DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE == WS_MAX_BYTES
    assert production.DAPHNE_WEBSOCKET_MAX_FRAME_SIZE == WS_MAX_BYTES
    for server in ("daphne", "uvicorn"):
        options = _options(server_argv(server, 8000)[3:])
        sizes = [
            value
            for name, value in options.items()
            if name
            in (
                "--ws-max-size",
                "--websocket-max-message-size",
                "--websocket-max-frame-size",
            )
        ]
        assert sizes and all(int(size) == WS_MAX_BYTES for size in sizes), server


def test_the_asgi_processes_websocket_protocol_is_importable_from_the_image():
    """`--ws module:Class` is imported by uvicorn from its working directory
    (the image's WORKDIR, where the Dockerfile copies `hub/`); it must stay a
    subclass of uvicorn's sans-I/O protocol (hub/realtime/uvicorn.py)."""
    from uvicorn.importer import import_from_string
    from uvicorn.protocols.websockets.websockets_sansio_impl import (
        WebSocketsSansIOProtocol,
    )

    command = load_compose()["services"]["asgi-1"]["command"]
    module, _, name = _options(command[2:])["--ws"].partition(":")
    assert issubclass(import_from_string(f"{module}:{name}"), WebSocketsSansIOProtocol)
    dockerfile = (ROOT / "Dockerfile").read_text()
    package = module.split(".")[0]
    assert f"COPY {package} {package}" in dockerfile


def test_compose_runs_task_workers_that_reach_the_smtp_relay():
    services = load_compose()["services"]
    workers = [name for name in services if name.startswith("worker-")]
    assert len(workers) >= 2
    for name in workers:
        assert services[name]["command"][:3] == ["python", "manage.py", "db_worker"]
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["EMAIL_HOST"].startswith("${EMAIL_HOST:?")
        assert "SITE_URL" in env and "VAPID_CONTACT" in env


def test_proxy_balances_websockets_over_every_asgi_process():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    services = load_compose()["services"]
    asgi = [name for name in services if name.startswith("asgi-")]
    for name in asgi:
        assert f"server {name}:8000" in conf
    assert "proxy_set_header Upgrade $http_upgrade" in conf
    mounted = services["proxy"]["volumes"][0].split(":")[0]
    assert (ROOT / mounted).resolve() == (ROOT / "deploy" / "nginx.conf").resolve()


def test_accounts_are_hashed_with_argon2_in_production():
    from core import settings as production

    assert production.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    assert settings.AUTH_USER_MODEL == "roster.User"


def test_healthz_answers_ok(client, db):
    assert client.get("/healthz").json()["status"] == "ok"


def test_proxy_lets_a_whole_roster_upload_through():
    """nginx's body limit for the roster upload page is above the hub's own
    total (which answers with a clear error), and its default 60 MB is not."""
    import re

    from django.urls import reverse

    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    path = reverse("admin:roster_rosterimport_upload")
    block = conf.split(f"location = {path} {{", 1)[1].split("}", 1)[0]
    size = re.search(r"client_max_body_size (\d+)m;", block)
    assert size and int(size.group(1)) * 1024 * 1024 > (
        settings.ROSTER_UPLOAD_MAX_TOTAL_BYTES
    )
    assert "proxy_request_buffering off;" in block


def test_compose_keeps_course_documents_in_its_s3_store():
    """The app services store documents in the compose's S3-compatible
    service (core/documents), whose bucket a one-off job makes first."""
    services = load_compose()["services"]
    assert "s3" in services and "healthcheck" in services["s3"]
    bucket_job = services["s3-bucket"]
    assert bucket_job["depends_on"]["s3"]["condition"] == "service_healthy"
    assert bucket_job["entrypoint"] == ["/bin/sh", "/s3-bucket.sh"]
    assert "./deploy/s3-bucket.sh:/s3-bucket.sh:ro" in bucket_job["volumes"]
    for name in ("asgi-1", "asgi-2", "worker-1", "scheduler"):
        env = services[name]["environment"]
        assert env["DOCUMENTS_S3_BUCKET"]
        assert env["DOCUMENTS_S3_ENDPOINT_URL"].endswith("//s3:9000}")
        assert "DOCUMENTS_S3_SECRET_KEY:?" in env["DOCUMENTS_S3_SECRET_KEY"]
        assert services[name]["depends_on"]["s3-bucket"]["condition"] == (
            "service_completed_successfully"
        )


def test_the_hub_uses_its_own_s3_user_not_the_stores_root():
    """The store's root credentials come from their own variables and reach
    only the store and the bucket job; the hub gets a user of its own."""
    services = load_compose()["services"]
    store, job = services["s3"]["environment"], services["s3-bucket"]["environment"]
    assert "MINIO_ROOT_PASSWORD:?" in store["MINIO_ROOT_PASSWORD"]
    assert store["MINIO_ROOT_USER"].startswith("${MINIO_ROOT_USER")
    assert job["MINIO_ROOT_PASSWORD"] == store["MINIO_ROOT_PASSWORD"]
    assert job["HUB_SECRET_KEY"].startswith("${DOCUMENTS_S3_SECRET_KEY:?")
    for name, service in services.items():
        env = service.get("environment") or {}
        assert not any(key.startswith("MC_HOST_") for key in env), name
        if name not in ("s3", "s3-bucket"):
            assert "MINIO_ROOT" not in str(env), name


def test_the_bucket_job_makes_a_user_limited_to_the_bucket(tmp_path):
    """deploy/s3-bucket.sh run with a stand-in ``mc`` that records its
    calls: bucket, policy naming that bucket only, user, attachment; the
    secrets, full of URL characters, passed as they are."""
    import json
    import os
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    (bin_dir / "mc").write_text(
        "#!/bin/sh\n"
        'printf "%s\\037" "$@" >>"$MC_LOG"; printf "\\n" >>"$MC_LOG"\n'
        'if [ "$2 $3" = "policy create" ]; then cp "$6" "$MC_LOG.policy"; fi\n'
    )
    (bin_dir / "mc").chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "TMPDIR": str(tmp_path),
        "MC_LOG": str(log),
        "MINIO_ROOT_USER": "root",
        "MINIO_ROOT_PASSWORD": "r@o:t/pass word",
        "BUCKET": "documents",
        "HUB_ACCESS_KEY": "hub-documents",
        "HUB_SECRET_KEY": "h@b:se/cret",
    }
    script = ROOT / "deploy" / "s3-bucket.sh"
    result = subprocess.run(
        ["sh", str(script)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    calls = [line.split("\x1f")[:-1] for line in log.read_text().splitlines()]
    assert calls[0] == [
        "alias",
        "set",
        "store",
        "http://s3:9000",
        "root",
        "r@o:t/pass word",
    ]
    assert calls[1] == ["mb", "--ignore-existing", "store/documents"]
    assert calls[2][:4] == ["admin", "policy", "create", "store"]
    policy_name = calls[2][4]
    assert calls[3] == ["admin", "user", "add", "store", "hub-documents", "h@b:se/cret"]
    assert calls[4] == [
        "admin",
        "policy",
        "attach",
        "store",
        policy_name,
        "--user",
        "hub-documents",
    ]
    policy = json.loads((tmp_path / "calls.policy").read_text())
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert resources == {"arn:aws:s3:::documents", "arn:aws:s3:::documents/*"}
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert not any(a.startswith("s3:*") or "Policy" in a for a in actions)
    # The hub's user may not be the root account.
    env["HUB_ACCESS_KEY"] = "root"
    again = subprocess.run(["sh", str(script)], env=env, capture_output=True)
    assert again.returncode != 0


def test_proxy_lets_a_teachers_biggest_document_through():
    """nginx's default body limit is above what the hub takes for a course
    document (core/body_limits.py), which answers too big files itself."""
    import re

    from django.urls import reverse

    from core.body_limits import limit_for

    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    size = re.search(r"^    client_max_body_size (\d+)m;", conf, re.MULTILINE)
    path = reverse("documents:add", args=["class", 1])
    assert size and int(size.group(1)) * 1024 * 1024 >= limit_for(None, path)
