"""`make run` on another port: links, the mailbox and taken ports (issue 16)."""

import os
import socket
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from core.env import local_site_url


def _settings_of(env: dict[str, str]) -> list[str]:
    """Return SITE_URL and EMAIL_PORT as a fresh process sees them."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SITE_URL", "EMAIL_PORT", "EMAIL_HOST", "HOST", "PORT"}
    }
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from core.accounts.actions import activation_link; "
        "from core.roster.models import User; "
        "from core.timetable.views import feed_url; "
        "print(settings.SITE_URL); print(settings.EMAIL_PORT); "
        "print(activation_link(User(username='x'), 'c')); print(feed_url('t'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "core.settings_test", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def test_links_and_mailbox_follow_port_in_every_process():
    # `make demo-after`, `send_activation_emails`… in another terminal with
    # the same PORT link to the server that runs, and mail its mailbox.
    site, mail_port, *links = _settings_of({"PORT": "8100"})
    assert site == "http://127.0.0.1:8100"
    assert mail_port == "8125"
    # An activation letter's link and a calendar subscription's address.
    assert len(links) == 2
    assert all(link.startswith("http://127.0.0.1:8100/") for link in links)
    assert _settings_of({})[:2] == ["http://127.0.0.1:8000", "8025"]
    explicit = _settings_of(
        {"PORT": "8100", "SITE_URL": "https://ent.example.fr/", "EMAIL_PORT": "587"}
    )
    assert explicit[:2] == ["https://ent.example.fr", "587"]


def test_a_port_that_is_no_port_is_named():
    with pytest.raises(subprocess.CalledProcessError) as error:
        _settings_of({"PORT": "80x"})
    assert "PORT='80x' is not a TCP port" in error.value.stderr


def test_local_site_url_of_wildcard_and_ipv6_addresses():
    assert local_site_url("0.0.0.0", 8100) == "http://127.0.0.1:8100"
    assert local_site_url("::1", 8000) == "http://[::1]:8000"
    assert local_site_url("localhost", 8000) == "http://localhost:8000"


@pytest.fixture
def local_env(monkeypatch):
    """No SITE_URL, relay or mailbox port given, as a newcomer runs it."""
    for name in ("SITE_URL", "EMAIL_HOST", "EMAIL_PORT"):
        # Set first so that what run_demo sets is undone after the test.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setattr(settings, "SITE_URL", settings.SITE_URL)
    monkeypatch.setattr(settings, "EMAIL_PORT", settings.EMAIL_PORT)
    monkeypatch.setattr(settings, "EMAIL_HOST", "127.0.0.1")
    monkeypatch.setattr(settings, "TIMETABLE_DEFAULT_WEEK", "")


@pytest.mark.django_db
def test_run_demo_on_port_8100_prints_and_links_8100(local_env):
    out = StringIO()
    call_command("run_demo", "--port", "8100", "--no-serve", stdout=out)
    assert "http://127.0.0.1:8100/timetable/" in out.getvalue()
    assert "(boîte mail locale, port 8125)" in out.getvalue()
    assert settings.SITE_URL == os.environ["SITE_URL"] == "http://127.0.0.1:8100"
    assert settings.EMAIL_PORT == 8125 and os.environ["EMAIL_PORT"] == "8125"


def _listening(port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def _free_port_pair() -> tuple[int, socket.socket]:
    """Return a free HTTP port whose mailbox port (+25) someone listens on."""
    for _ in range(20):
        taken = _listening()
        port = taken.getsockname()[1] - 25
        try:
            _listening(port).close()
        except OSError:
            taken.close()
            continue
        return port, taken
    raise AssertionError("no free pair of ports")


@pytest.mark.django_db
def test_a_taken_http_port_stops_before_the_banner_with_a_sentence(local_env):
    out = StringIO()
    with _listening() as taken:
        port = taken.getsockname()[1]
        with pytest.raises(CommandError) as error:
            call_command("run_demo", "--port", str(port), stdout=out)
    assert f"Le port {port} (127.0.0.1) pour le hub (HTTP) est déjà utilisé" in str(
        error.value
    )
    # Its own data too: on the same VAR_DIR both hubs would share the
    # database and task queue, e-mails naming either hub's port.
    assert f"PORT={port + 1} VAR_DIR=var/port-{port + 1} make run" in str(error.value)
    assert out.getvalue() == ""


@pytest.mark.django_db
def test_a_taken_mailbox_port_stops_before_the_banner_with_a_sentence(local_env):
    out = StringIO()
    port, taken = _free_port_pair()
    with taken:
        with pytest.raises(CommandError) as error:
            call_command("run_demo", "--port", str(port), stdout=out)
    message = str(error.value)
    assert f"Le port {port + 25} (127.0.0.1) pour la boîte mail locale" in message
    assert "EMAIL_PORT=" in message
    assert out.getvalue() == ""
