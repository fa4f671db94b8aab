"""Errors reach Sentry when SENTRY_DSN is set, and the 500 page says the
team was told only then, with the event's id as a reference. A real HTTP
server on 127.0.0.1 stands in for Sentry and reads the envelopes."""

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk
from django.test import Client

from core.sentry import init_sentry

pytestmark = pytest.mark.django_db

SECRET = "Tr3s-Secret-Passw0rd!"


class FakeSentry(ThreadingHTTPServer):
    """Stores each request's path and (decompressed) body."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.arrived = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    def envelopes(self) -> list[list[dict]]:
        """Each envelope's lines, parsed (header, item header, item...)."""
        return [
            [json.loads(line) for line in body.splitlines() if line.strip()]
            for path, body in self.received
            if path.endswith("/envelope/")
        ]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")
        self.server.arrived.set()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def fake_sentry(settings):
    settings.ROOT_URLCONF = "tests.observability.raising_urls"
    server = FakeSentry()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    init_sentry(f"http://publickey@127.0.0.1:{server.server_port}/1", "test")
    try:
        yield server
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)  # off for the next tests
        server.shutdown()
        server.server_close()
    assert not sentry_sdk.is_initialized()


def test_an_error_is_sent_and_the_page_gives_its_reference(fake_sentry, settings):
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = "a-session-key-never-sent-1234"
    response = client.post("/fail/?token=query-token-never-sent", {"password": SECRET})
    assert response.status_code == 500
    sentry_sdk.flush(timeout=5)
    assert fake_sentry.arrived.wait(5)
    assert all(path == "/api/1/envelope/" for path, _ in fake_sentry.received)
    (envelope,) = fake_sentry.envelopes()
    header, item_header, event = envelope[:3]
    assert item_header["type"] == "event"
    assert event["exception"]["values"][-1]["value"] == "the view failed"
    page = response.content.decode()
    assert f"(référence {header['event_id']})" in page
    assert "l’équipe a été prévenue" in page
    # Nothing personal left: not the password, not the session, nor the
    # query string.
    sent = b"".join(body for _, body in fake_sentry.received).decode()
    for secret in (SECRET, "a-session-key-never-sent-1234", "query-token-never-sent"):
        assert secret not in sent


def test_the_json_answer_carries_the_reference_too(fake_sentry):
    client = Client(raise_request_exception=False)
    response = client.get("/fail/", HTTP_ACCEPT="application/json")
    assert response.status_code == 500
    sentry_sdk.flush(timeout=5)
    (envelope,) = fake_sentry.envelopes()
    assert response.json()["reference"] == envelope[0]["event_id"]
    assert response.json()["error"] == "server_error"


def test_without_sentry_the_page_does_not_say_the_team_was_told(settings):
    settings.ROOT_URLCONF = "tests.observability.raising_urls"
    assert not sentry_sdk.is_initialized()
    response = Client(raise_request_exception=False).get("/fail/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "prévenue" not in page and "référence" not in page
    assert "Réessayez plus tard" in page


@pytest.mark.django_db(transaction=True)
async def test_through_the_asgi_application_too(fake_sentry):
    """As uvicorn serves it: the reference is the event the request sent."""
    from asgiref.testing import ApplicationCommunicator

    from core.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/fail/",
        "raw_path": b"/fail/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(10)
    body = (await communicator.receive_output(10))["body"].decode()
    assert start["status"] == 500
    sentry_sdk.flush(timeout=5)
    (envelope,) = fake_sentry.envelopes()
    assert f"(référence {envelope[0]['event_id']})" in body
