"""Finding 8: a client cannot choose the address the audit log and throttles see."""

import asyncio

import pytest
from django.contrib.auth.signals import user_login_failed
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory, override_settings

from core.audit.ip import client_ip
from core.audit.models import AuditEntry

FORGED = "198.51.100.66"
REAL = "203.0.113.7"
PROXY = "172.18.0.5"


def request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def scope(peer: str, forwarded: str | None = None) -> dict:
    headers = [(b"host", b"ent.example.fr")]
    if forwarded is not None:
        headers.append((b"x-forwarded-for", forwarded.encode()))
    return {"type": "websocket", "client": (peer, 50000), "headers": headers}


def test_without_proxy_the_header_is_ignored():
    assert client_ip(request(REAL, FORGED)) == REAL
    assert client_ip(scope(REAL, FORGED)) == REAL


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_one_proxy_only_the_address_it_appended_counts():
    # nginx's $proxy_add_x_forwarded_for: what the client sent, then its peer.
    assert client_ip(request(PROXY, f"{FORGED}, {REAL}")) == REAL
    assert client_ip(request(PROXY, REAL)) == REAL
    assert client_ip(scope(PROXY, f"{FORGED}, {REAL}")) == REAL


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_two_proxies_count_two_hops_from_the_right():
    assert client_ip(request(PROXY, f"{FORGED}, {REAL}, 10.0.0.2")) == REAL
    # Fewer hops than proxies: the request did not come through them all.
    assert client_ip(request(PROXY, REAL)) == PROXY


@override_settings(TRUSTED_PROXY_COUNT=1, TRUSTED_PROXIES=["172.16.0.0/12"])
def test_trusted_proxies_read_the_header_only_from_them():
    assert client_ip(request(PROXY, f"{FORGED}, {REAL}")) == REAL
    # A peer outside the proxies' network sends its own header: ignored.
    assert client_ip(request(REAL, FORGED)) == REAL


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_garbage_and_ports_are_handled():
    assert client_ip(request(PROXY, "not-an-ip")) == PROXY
    assert client_ip(request(PROXY, f"{REAL}:4711")) == REAL
    assert client_ip(request(PROXY, "[2001:db8::1]:443")) == "2001:db8::1"
    assert client_ip({"type": "websocket", "headers": []}) is None


@pytest.mark.django_db
def test_a_forged_header_does_not_reach_the_audit_log(client, school):
    client.post(
        "/login/",
        {"username": school.pupil.username, "password": "wrong"},
        REMOTE_ADDR=REAL,
        HTTP_X_FORWARDED_FOR=FORGED,
    )
    entry = AuditEntry.objects.get(action="login.failed")
    assert entry.ip == REAL


def compose_asgi_app():
    """Django's ASGI handler behind uvicorn's proxy-header handling, with the
    options and the environment compose.yaml gives the ASGI processes."""
    from django.core.handlers.asgi import ASGIHandler
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from tests.test_deploy import _options, load_compose

    service = load_compose()["services"]["asgi-1"]
    options = _options(service["command"][2:])
    app = ASGIHandler()
    if options.get("--proxy-headers"):
        app = ProxyHeadersMiddleware(
            app, trusted_hosts=options.get("--forwarded-allow-ips", "127.0.0.1")
        )
    count = str(service["environment"].get("TRUSTED_PROXY_COUNT", "0"))
    return app, int(count.split(":-")[-1].rstrip("}"))


async def post_through_proxy(app, path: str, body: bytes, forwarded: str) -> int:
    """POST as nginx forwards it: from the proxy's address, with the header it
    built with ``$proxy_add_x_forwarded_for`` from the client's own."""
    token = "a" * 32
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": (PROXY, 41000),
        "server": ("asgi-1", 8000),
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"cookie", f"csrftoken={token}".encode()),
            (b"x-forwarded-for", forwarded.encode()),
            (b"x-forwarded-proto", b"http"),
        ],
    }
    body = body + f"&csrfmiddlewaretoken={token}".encode()
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        if incoming:
            return incoming.pop(0)
        await asyncio.Event().wait()  # the client stays until the answer

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"]


@pytest.mark.django_db
def test_in_the_compose_stack_a_guesser_rotating_x_forwarded_for_is_still_throttled(
    settings,
):
    """Behind nginx, each try sends a new forged address; the per-address
    limit of activation codes must still count the one real client."""
    from asgiref.sync import async_to_sync

    from core.accounts import throttle

    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    settings.CACHES = {"default": local, "throttle": {**local, "LOCATION": "t"}}
    app, count = compose_asgi_app()
    settings.TRUSTED_PROXY_COUNT = count
    # As Django's test client does: the test's transaction keeps its connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        for n in range(throttle.IP_LIMIT):
            status = async_to_sync(post_through_proxy)(
                app,
                "/activer/",
                f"login=nobody{n}&code=ABCD-EFGH-JKLM".encode(),
                f"198.51.100.{n}, {REAL}",
            )
            assert status == 200
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert throttle.is_locked(REAL, "someone-else")
    assert not throttle.is_locked("198.51.100.1", "someone-else")


def test_login_failure_signal_without_request_is_safe(db):
    user_login_failed.send(sender=None, credentials={"username": "x", "password": "p"})
    entry = AuditEntry.objects.get(action="login.failed")
    assert entry.ip is None and entry.detail == {"login": "", "locked_out": False}
