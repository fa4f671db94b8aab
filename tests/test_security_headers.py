"""Finding 9: CSP on every page, no-store on signed-in pages, a production
configuration that `manage.py check --deploy` finds nothing to say about,
and no well-known signing key."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from tests.conftest import login_verified
from tests.test_deploy import load_compose

ROOT = Path(__file__).resolve().parent.parent


def csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:]
        for part in (p.strip() for p in header.split(";"))
        if part
    }


def assert_strict_csp(response):
    policy = csp(response)
    assert policy["script-src"] == ["'self'"], policy
    assert "'unsafe-inline'" not in policy["style-src"]
    assert "'unsafe-eval'" not in " ".join(sum(policy.values(), []))
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.fixture
def superuser(school):
    admin = school.cpe
    admin.is_staff = admin.is_superuser = True
    admin.save()
    return admin


def test_every_kind_of_page_carries_the_policy(client, school, superuser):
    pages = {"login": client.get("/login/"), "activation": client.get("/activer/")}
    login_verified(client, school.parent)
    for path in (
        "/",
        "/timetable/",
        "/absences/",
        "/messages/",
        "/notifications/",
        "/settings/notifications/",
        "/api/notifications/",
        "/no-such-page/",
    ):
        pages[path] = client.get(path)
    login_verified(client, superuser)
    superuser.user_permissions.add(
        Permission.objects.get(
            codename="view_auditentry", content_type__app_label="audit"
        )
    )
    for path in ("/admin/", "/admin/roster/user/", "/audit/", "/delivery/log/"):
        pages[path] = client.get(path)
    for name, response in pages.items():
        assert response.status_code in (200, 404), name
        assert_strict_csp(response)


def test_no_template_has_inline_script_or_style():
    """The policy would block them: scripts and styles live in static files
    (json_script data blocks do not run and are allowed)."""
    offenders = []
    ours = [ROOT / top for top in ("core", "hub", "frontend")]
    for template in (t for top in ours for t in top.glob("**/templates/**/*.html")):
        if "/email/" in str(template):  # e-mails are not served as pages
            continue
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag:
                offenders.append(f"{template}: {tag}")
        if re.search(r"<style\b|\sstyle=\"|\son[a-z]+=\"|javascript:", text):
            offenders.append(str(template))
    assert offenders == []


def test_signed_in_pages_are_not_stored(client, school):
    login_verified(client, school.parent)
    for path in ("/", "/absences/", "/messages/", "/api/notifications/"):
        response = client.get(path)
        assert "no-store" in response["Cache-Control"], path
        assert "private" in response["Cache-Control"], path


def test_static_files_keep_their_caching(client, school, settings):
    from django.test import Client

    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    fresh = Client()
    login_verified(fresh, school.parent)
    response = fresh.get("/static/hub/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def compose_environment(tmp_path: Path) -> dict[str, str]:
    """The ASGI processes' environment in compose.yaml, its defaults taken and
    the variables an operator must give filled with fresh values."""
    required = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "MESSAGE_KEYS": "MT1kFVjWzn9hbrZbQQyhH6xFzU5rxT7TeU2XtTxzO1c=",
        "EMAIL_HOST": "smtp.example.fr",
        "DOCUMENTS_S3_SECRET_KEY": secrets.token_urlsafe(24),
        "MINIO_ROOT_PASSWORD": secrets.token_urlsafe(24),
    }
    env = {}
    for name, value in load_compose()["services"]["asgi-1"]["environment"].items():
        value = str(value)
        match = re.fullmatch(r"\$\{(\w+)(:-|:\?)(.*)\}", value)
        if match:
            var, kind, rest = match.groups()
            value = required[var] if kind == ":?" else rest
        env[name] = value
    # The container's volume paths stand for a folder of this test.
    env["VAR_DIR"] = str(tmp_path)
    env["MEDIA_ROOT"] = str(tmp_path / "media")
    return env


def run_check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **env, "DJANGO_SETTINGS_MODULE": "core.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_production_environment(tmp_path):
    env = compose_environment(tmp_path)
    assert env["SECURE_COOKIES"] == "1" and env["SECURE_SSL_REDIRECT"] == "1"
    assert int(env["SECURE_HSTS_SECONDS"]) >= 31536000
    result = run_check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_check_deploy_does_speak_up_when_https_is_off(tmp_path):
    """The clean result above is not a deaf check."""
    env = compose_environment(tmp_path)
    env.update(SECURE_COOKIES="0", SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="0")
    result = run_check_deploy(env)
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr + result.stdout, check


def run_settings(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env={**base, **env, "DJANGO_SETTINGS_MODULE": "core.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_debug_run_makes_its_own_random_key_once(tmp_path):
    env = {"DEBUG": "1", "VAR_DIR": str(tmp_path)}
    show = "from django.conf import settings; print(settings.SECRET_KEY)"
    first, second = run_settings(env, show), run_settings(env, show)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert key == second.stdout.strip() and len(key) >= 50
    assert "insecure" not in key
    assert (tmp_path / "secret-key").stat().st_mode & 0o077 == 0
    other = run_settings({"DEBUG": "1", "VAR_DIR": str(tmp_path / "b")}, show)
    assert other.stdout.strip() != key


def test_a_run_without_debug_never_signs_with_a_development_key(tmp_path):
    show = "from django.conf import settings; print(settings.SECRET_KEY)"
    env = {"VAR_DIR": str(tmp_path)}
    assert "SECRET_KEY is not set" in run_settings(env, show).stderr
    legacy = "insecure-local-development-key-do-not-use-in-production"
    refused = run_settings({**env, "SECRET_KEY": legacy}, show)
    assert refused.returncode != 0 and "development key" in refused.stderr
    made = run_settings({"DEBUG": "1", "VAR_DIR": str(tmp_path)}, show).stdout.strip()
    reused = run_settings({**env, "SECRET_KEY": made}, show)
    assert reused.returncode != 0 and "development key" in reused.stderr
