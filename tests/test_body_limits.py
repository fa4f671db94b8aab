"""core.body_limits: request bodies refused with 413 before they are read
(issue 13, finding 3).

The ASGI application of ``core/asgi.py`` is driven message by message (a
server's ``receive`` that counts what the application pulled), and served by
a real uvicorn server for the raw-socket checks.
"""

import asyncio
import os
import socket as sockets
import subprocess
import time

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import Permission
from django.urls import reverse

from core.asgi import application
from core.body_limits import BodyLimitMiddleware, limit_for
from core.messaging.files import MAX_FILE_BYTES, MAX_FILES
from scripts.topology import free_ports, server_argv
from tests.conftest import make_user
from tests.hub.helpers import login
from tests.test_uvicorn_ws import serve

pytestmark = pytest.mark.django_db(transaction=True)

KiB = 1024
MiB = 1024 * KiB


class Server:
    """What a server hands the application: ``receive`` gives ``body`` in
    chunks (``chunk`` bytes each; endless with ``endless``), ``send`` keeps
    the answer. ``pulled``: bytes the application read."""

    def __init__(self, size: int, chunk: int = 64 * KiB, endless: bool = False):
        self.left = size
        self.chunk = chunk
        self.endless = endless
        self.pulled = 0
        self.sent: list[dict] = []

    async def receive(self):
        if self.left <= 0 and not self.endless:
            await asyncio.sleep(3600)  # nothing more: the client waits
        size = self.chunk if self.endless else min(self.chunk, self.left)
        self.left -= size
        self.pulled += size
        more = self.endless or self.left > 0
        return {"type": "http.request", "body": b"x" * size, "more_body": more}

    async def send(self, message):
        self.sent.append(message)

    @property
    def status(self):
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None


CSRF = "k" * 32  # a CSRF secret, as the cookie and the header carry it


def scope(path: str, *, length: int | None, cookie: str | None = None, ctype=None):
    headers = [(b"host", b"testserver")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    if cookie:
        cookies = f"{settings.SESSION_COOKIE_NAME}={cookie}; csrftoken={CSRF}"
        headers += [(b"cookie", cookies.encode()), (b"x-csrftoken", CSRF.encode())]
    if ctype:
        headers.append((b"content-type", ctype.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


async def cookie_of(user) -> str:
    client = await sync_to_async(login)(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def call(app, scope, server, timeout=20):
    await asyncio.wait_for(app(scope, server.receive, server.send), timeout)


class Recorder:
    """An inner application that reads the whole body, then answers 200."""

    def __init__(self):
        self.called = False
        self.read = 0

    async def __call__(self, scope, receive, send):
        self.called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            self.read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def test_an_anonymous_content_length_over_the_limit_is_refused_unread():
    server = Server(150 * MiB)
    await call(application, scope("/login/", length=150 * MiB), server)
    assert server.status == 413
    assert server.pulled == 0


async def test_an_anonymous_chunked_body_is_stopped_at_the_limit():
    """No Content-Length: the body is counted as it comes, and reading stops
    one chunk past the anonymous limit."""
    server = Server(0, chunk=16 * KiB, endless=True)
    await call(application, scope("/login/", length=None), server)
    assert server.status == 413
    limit = settings.HTTP_MAX_BODY_BYTES_ANONYMOUS
    assert limit < server.pulled <= limit + 16 * KiB


async def test_a_forged_session_cookie_gets_the_anonymous_limit():
    inner = Recorder()
    server = Server(MiB)
    cookie = "a" * 32  # the shape of a session key, no such session
    await call(
        BodyLimitMiddleware(inner), scope("/", length=MiB, cookie=cookie), server
    )
    assert server.status == 413
    assert not inner.called and server.pulled == 0


async def test_a_logged_in_user_sends_up_to_the_default_limit(school):
    cookie = await cookie_of(school.parent)
    inner = Recorder()
    server = Server(5 * MiB)
    await call(
        BodyLimitMiddleware(inner), scope("/", length=5 * MiB, cookie=cookie), server
    )
    assert server.status == 200 and inner.read == 5 * MiB

    server = Server(settings.HTTP_MAX_BODY_BYTES + 1)
    big = scope("/", length=settings.HTTP_MAX_BODY_BYTES + 1, cookie=cookie)
    await call(BodyLimitMiddleware(Recorder()), big, server)
    assert server.status == 413 and server.pulled == 0

    # Chunked: stopped just past the limit.
    server = Server(0, chunk=256 * KiB, endless=True)
    inner = Recorder()
    await call(
        BodyLimitMiddleware(inner), scope("/", length=None, cookie=cookie), server
    )
    assert server.status == 413
    assert settings.HTTP_MAX_BODY_BYTES < server.pulled
    assert server.pulled <= settings.HTTP_MAX_BODY_BYTES + 256 * KiB


async def test_urls_taking_files_have_their_own_limits(school):
    cookie = await cookie_of(school.parent)
    new_message = reverse("messaging:new")
    attachments = MAX_FILES * MAX_FILE_BYTES
    assert await sync_to_async(limit_for)(school.parent, new_message) > attachments
    inner = Recorder()
    server = Server(attachments)
    post = scope(new_message, length=attachments, cookie=cookie)
    await call(BodyLimitMiddleware(inner), post, server)
    assert server.status == 200 and inner.read == attachments

    # The roster upload takes a département's files, from those who may
    # upload rosters only.
    upload = reverse("admin:roster_rosterimport_upload")
    size = 100 * MiB
    server = Server(size)
    await call(
        BodyLimitMiddleware(Recorder()),
        scope(upload, length=size, cookie=cookie),
        server,
    )
    assert server.status == 413 and server.pulled == 0

    def make_lead():
        lead = make_user("lead", "administrator", "Anne", "Lead", is_staff=True)
        lead.user_permissions.add(Permission.objects.get(codename="add_rosterimport"))
        lead.orgs.add(school.org)  # school-life staff upload for their own school
        return lead

    lead = await sync_to_async(make_lead)()
    server = Server(size, chunk=4 * MiB)
    inner = Recorder()
    post = scope(upload, length=size, cookie=await cookie_of(lead))
    await call(BodyLimitMiddleware(inner), post, server)
    assert server.status == 200 and inner.read == size
    assert await sync_to_async(limit_for)(lead, upload) == (
        settings.ROSTER_UPLOAD_MAX_TOTAL_BYTES + settings.HTTP_MAX_BODY_BYTES
    )


async def test_djangos_data_upload_limit_still_applies(school):
    """Inside the logged-in limit (7 MiB), Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    (6 MiB of form fields) still refuses the request (400); the same form
    under it is served (the language switch redirects)."""
    cookie = await cookie_of(school.parent)

    async def post_form(size: int) -> int:
        body = b"language=fr&x=" + b"x" * (size - 14)

        class Body(Server):
            async def receive(self):
                if self.left <= 0:
                    await asyncio.sleep(3600)
                self.left = 0
                self.pulled = len(body)
                return {"type": "http.request", "body": body, "more_body": False}

        server = Body(size)
        post = scope(
            reverse("set_language"),
            length=size,
            cookie=cookie,
            ctype="application/x-www-form-urlencoded",
        )
        await call(application, post, server)
        return server.status

    assert await post_form(MiB) == 302
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 512 * KiB
    assert size < settings.HTTP_MAX_BODY_BYTES
    assert await post_form(size) == 400


async def read_status(reader) -> int:
    line = await asyncio.wait_for(reader.readline(), 20)
    return int(line.split()[1])


async def test_a_real_server_answers_413_before_the_body_is_sent():
    """uvicorn, as in production: the headers announce 100 MiB, no byte of
    the body follows, and the answer comes; then a chunked body is cut
    short."""
    async with serve("hub.realtime.uvicorn:SlimWebSocketProtocol", application) as (
        _,
        url,
    ):
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 104857600\r\n\r\n"
        )
        await writer.drain()
        assert await read_status(reader) == 413
        writer.close()

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * (16 * KiB)
        for _ in range(8):  # 128 KiB: twice the anonymous limit
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
        assert await read_status(reader) == 413
        writer.close()


def test_the_anonymous_limit_is_small_and_the_default_holds_djangos():
    assert settings.HTTP_MAX_BODY_BYTES_ANONYMOUS <= 64 * KiB
    assert settings.HTTP_MAX_BODY_BYTES > settings.DATA_UPLOAD_MAX_MEMORY_SIZE


@pytest.fixture
def daphne_port(tmp_path):
    """A Daphne process serving core.asgi (as `make run`'s, on SQLite)."""
    (port,) = free_ports(1)
    env = {
        **os.environ,
        "DEBUG": "1",
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        server_argv("daphne", port), env=env, cwd=settings.BASE_DIR
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                sockets.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(20)


def raw_status(port: int, head: bytes, body: bytes = b"") -> int:
    """Send ``head`` (and ``body``) and read the answer's status line."""
    with sockets.create_connection(("127.0.0.1", port), 20) as conn:
        conn.sendall(head + body)
        line = conn.makefile("rb").readline()
    return int(line.split()[1])


def test_daphne_refuses_an_anonymous_body_before_buffering_it(daphne_port):
    """Daphne buffers a whole body before it runs the application: an
    anonymous 100 MiB Content-Length is answered 413 on its headers alone,
    and a chunked body once past the anonymous limit."""
    head = (
        b"POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
    )
    assert raw_status(daphne_port, head + b"Content-Length: 104857600\r\n\r\n") == 413
    chunk = b"x" * (16 * KiB)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8))
    assert (
        raw_status(daphne_port, head + b"Transfer-Encoding: chunked\r\n\r\n", chunks)
        == 413
    )
    # A small form still reaches Django (its own answer: here the login
    # page's CSRF refusal).
    form = b"username=a&password=b"
    small = head + b"Content-Length: %d\r\n\r\n" % len(form)
    assert raw_status(daphne_port, small, form) == 403


async def test_homework_files_fit_their_urls_limits(school):
    """A pupil's hand-in (one file of 10 MB) and a teacher's homework (5
    files of 10 MB) fit; the form then tells a file too big in French
    (core.homework.uploads) instead of a bare 413. Other people keep the
    default limit on these URLs."""
    from core.homework.uploads import MAX_ATTACHMENTS
    from core.homework.uploads import MAX_FILE_BYTES as HOMEWORK_FILE_BYTES

    default = settings.HTTP_MAX_BODY_BYTES
    hand_in = reverse("homework:hand_in", args=[1])
    teacher_urls = [
        reverse("homework:class", args=[1]),
        reverse("homework:edit", args=[1]),
    ]
    limit = sync_to_async(limit_for)
    assert await limit(school.pupil, hand_in) == HOMEWORK_FILE_BYTES + default
    assert await limit(school.teacher, hand_in) == default
    for url in teacher_urls:
        assert await limit(school.teacher, url) == (
            MAX_ATTACHMENTS * HOMEWORK_FILE_BYTES + default
        )
        assert await limit(school.pupil, url) == default
        assert await limit(None, url) == MAX_ATTACHMENTS * HOMEWORK_FILE_BYTES + default

    # A file just over 10 MB reaches the view (which refuses it in French).
    size = HOMEWORK_FILE_BYTES + 64 * KiB
    assert size > default
    inner = Recorder()
    server = Server(size, chunk=MiB)
    post = scope(hand_in, length=size, cookie=await cookie_of(school.pupil))
    await call(BodyLimitMiddleware(inner), post, server)
    assert server.status == 200 and inner.read == size

    size = MAX_ATTACHMENTS * HOMEWORK_FILE_BYTES
    inner = Recorder()
    server = Server(size, chunk=4 * MiB)
    post = scope(teacher_urls[0], length=size, cookie=await cookie_of(school.teacher))
    await call(BodyLimitMiddleware(inner), post, server)
    assert server.status == 200 and inner.read == size
