"""Request bodies bounded before Django reads them (issue 13, finding 3).

:class:`BodyLimitMiddleware` wraps the HTTP side of the ASGI application
(``core/asgi.py``), in front of Django, on both servers. A request's body may
be at most:

- ``HTTP_MAX_BODY_BYTES_ANONYMOUS`` (64 KiB) without a valid session: login,
  activation and password forms are a few hundred bytes;
- ``HTTP_MAX_BODY_BYTES`` (7 MiB) for a logged-in user: Django's own
  ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (6 MiB of fields) still applies inside it,
  and an excuse's document (5 MB, ``core.attendance.forms``) fits;
- more on the few URLs that take big files (:func:`limit_for`): a message
  with its attachments (``core.messaging.files``: 5 files of 10 MB), and the
  admin's roster upload (``ROSTER_UPLOAD_MAX_TOTAL_BYTES``, for users who may
  upload rosters: ``core.roster.views.can_upload``), a teacher's course
  document (``DOCUMENTS_MAX_FILE_BYTES``, ``core.documents``), and the
  homework notebook's files (``core.homework.uploads``: a pupil's hand-in,
  one file of 10 MB; a teacher's homework form, 5 files of 10 MB), and a
  school-life notice of the staff (``core.schoollife``: 5 files of 10 MB). Within
  these limits a file too big or one too many gets the form's own French
  message; the pages also check sizes before sending.

A ``Content-Length`` over the limit is answered 413 before a byte of the body
is read; a body without one (chunked) is counted as it comes and, once over
the limit, the application is told the client left (``http.disconnect``:
Django stops reading and answers nothing) and the middleware answers 413.
The session is looked up only for a body past the anonymous limit, so the
usual request costs nothing more.

What the servers do before the application runs: uvicorn reads the body only
as the application asks for it (its buffer pauses the socket past 64 KiB), so
nothing past the limit is read. Daphne (``make run``) receives the whole body
into a temporary file, then queues all of it, in memory, before the
application's first ``receive()``: :func:`bound_daphne_requests` refuses,
before that, a body over what its path could take (the anonymous limit
without a session cookie), and stops Twisted parsing every multipart POST
for ``request.args`` (Daphne never reads it), which cost about ten times the
body in memory. A body Daphne accepts is still held once in memory before
the application runs (bench ``bench/request_bodies.py``, figures in
``bench/README.md``).
"""

from __future__ import annotations

import contextlib
import sys

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import parse_cookie
from django.urls import Resolver404, resolve

MiB = 1024 * 1024

# URL names whose views take files, and who may send them.
MESSAGE_URLS = frozenset(
    {"messaging:new", "messaging:conversation", "messaging:api_messages"}
)
ROSTER_UPLOAD_URL = "admin:roster_rosterimport_upload"
DOCUMENT_URLS = frozenset({"documents:add", "documents:add_version"})
HOMEWORK_HANDIN_URL = "homework:hand_in"
HOMEWORK_TEACHER_URLS = frozenset({"homework:class", "homework:edit"})
NOTICE_URL = "schoollife:compose"


def limit_for(user, path: str) -> int:
    """The largest body ``user`` (a logged-in, active user; ``None``: the user
    who may send the most) may send to ``path``."""
    default = settings.HTTP_MAX_BODY_BYTES
    try:
        name = resolve(path).view_name
    except Resolver404:
        return default
    if name in MESSAGE_URLS:
        from core.messaging.files import MAX_FILE_BYTES, MAX_FILES

        return MAX_FILES * MAX_FILE_BYTES + default
    if name in DOCUMENT_URLS:
        # Course documents (core.documents): only teachers upload them.
        if user is None or user.role == "teacher":
            return settings.DOCUMENTS_MAX_FILE_BYTES + default
        return default
    if name == HOMEWORK_HANDIN_URL or name in HOMEWORK_TEACHER_URLS:
        from core.homework.uploads import MAX_ATTACHMENTS, MAX_FILE_BYTES

        if name == HOMEWORK_HANDIN_URL:
            # One file, from a pupil (core.homework.forms.HandInForm).
            if user is None or user.role == "student":
                return MAX_FILE_BYTES + default
            return default
        # A teacher's homework, with up to MAX_ATTACHMENTS files.
        if user is None or user.role == "teacher":
            return MAX_ATTACHMENTS * MAX_FILE_BYTES + default
        return default
    if name == NOTICE_URL:
        from core.homework.uploads import MAX_ATTACHMENTS, MAX_FILE_BYTES

        # A school-life notice with its files: school-life staff publish them.
        if user is None or user.role == "administrator":
            return MAX_ATTACHMENTS * MAX_FILE_BYTES + default
        return default
    if name == ROSTER_UPLOAD_URL:
        from core.roster.views import can_upload

        if user is None or can_upload(user):
            return settings.ROSTER_UPLOAD_MAX_TOTAL_BYTES + default
    return default


def allowed_bytes(session_key: str | None, path: str) -> int:
    """The largest body this request may have (sync, database): the anonymous
    limit unless ``session_key`` is a valid session of an active user."""
    from hub.realtime.sessions import load_user

    user, _ = load_user(session_key)
    if not (user.is_authenticated and user.is_active):
        return settings.HTTP_MAX_BODY_BYTES_ANONYMOUS
    return limit_for(user, path)


def ceiling(path: str, has_session: bool) -> int:
    """The most any request to ``path`` may send (no database): the
    anonymous limit without a session cookie, else the path's limit for a
    user who may send the most there. What Daphne checks before it buffers a
    body (:func:`bound_daphne_requests`); the middleware then checks the
    session itself."""
    if not has_session:
        return settings.HTTP_MAX_BODY_BYTES_ANONYMOUS
    return limit_for(None, path)


def bound_daphne_requests() -> None:
    """Under Daphne (``make run``, the browser tests), bound what Twisted
    buffers before Daphne runs the application, which it only does once the
    whole body is in (a temporary file, then all of it queued in memory):

    - a ``Content-Length`` over :func:`ceiling` is answered 413 and the
      connection closed when the headers arrive; a body without one is cut
      (413, closed) once it passes the ceiling;
    - Twisted no longer parses multipart and urlencoded POST bodies for
      ``request.args`` (``twisted.web.http.Request.requestReceived``), which
      Daphne never reads: its multipart parser (the ``email`` package) held
      about ten times the body in memory (150 MiB posted: 1.65 GiB).

    Does nothing unless Daphne's HTTP protocol is loaded (it is, before the
    application, under Daphne's command and its ``runserver``)."""
    daphne_http = sys.modules.get("daphne.http_protocol")
    if daphne_http is None:
        return
    request_class = daphne_http.WebRequest
    if getattr(request_class, "hub_bounded", False):
        return
    init = request_class.__init__
    got_length = request_class.gotLength
    handle_chunk = request_class.handleContentChunk
    request_received = request_class.requestReceived

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        # Twisted's Request.__init__ sets it (parsePOSTFormSubmission=True).
        self._parsePOSTFormSubmission = False
        self.hub_body_bytes = 0
        self.hub_refused = False

    def gotLength(self, length):
        got_length(self, length)
        path = getattr(self.channel, "_path", b"/").split(b"?", 1)[0]
        cookies = b";".join(self.requestHeaders.getRawHeaders(b"cookie") or [])
        has_session = settings.SESSION_COOKIE_NAME.encode() + b"=" in cookies
        self.hub_ceiling = ceiling(path.decode("latin1"), has_session)
        if length is not None and length > self.hub_ceiling:
            _refuse(self)

    def handleContentChunk(self, data):
        if self.hub_refused:
            return
        self.hub_body_bytes += len(data)
        if self.hub_body_bytes > self.hub_ceiling:
            _refuse(self)
            return
        handle_chunk(self, data)

    def requestReceived(self, command, path, version):
        if not self.hub_refused:
            request_received(self, command, path, version)

    request_class.__init__ = __init__
    request_class.gotLength = gotLength
    request_class.handleContentChunk = handleContentChunk
    request_class.requestReceived = requestReceived
    request_class.hub_bounded = True


def _refuse(request) -> None:
    """Answer 413 on a Twisted request's connection and close it."""
    request.hub_refused = True
    body = b"Request body too large.\n"
    request.channel.transport.write(
        b"HTTP/1.1 413 Request Entity Too Large\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    )
    request.channel.loseConnection()
    with contextlib.suppress(Exception):
        request.content.close()


class BodyLimitMiddleware:
    """ASGI middleware: 413 for a body over its limit (module docstring)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = _Request(scope, receive, send)
        declared = request.content_length
        if declared is not None and declared > settings.HTTP_MAX_BODY_BYTES_ANONYMOUS:
            if declared > await request.allowed():
                await request.refuse()
                return
        await self.app(scope, request.receive, request.send)
        if request.refused and not request.started:
            await request.refuse()


class _Request:
    """One HTTP request's count of body bytes and its answer's state."""

    def __init__(self, scope, receive, send) -> None:
        self.scope = scope
        self.server_receive = receive
        self.server_send = send
        self.received = 0
        self.limit: int | None = None  # once known (a session was looked up)
        self.refused = False
        self.started = False
        self.content_length = None
        cookie = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    self.content_length = int(value)
                except ValueError:
                    self.content_length = None
            elif name == b"cookie":
                cookie = value.decode("latin1")
        self.cookie = cookie

    async def allowed(self) -> int:
        if self.limit is None:
            key = None
            if self.cookie:
                key = parse_cookie(self.cookie).get(settings.SESSION_COOKIE_NAME)
            # Channels' wrapper hands the connection back after the call:
            # this runs outside Django's request, whose end would not.
            self.limit = await database_sync_to_async(allowed_bytes)(
                key, self.scope.get("path", "")
            )
        return self.limit

    async def receive(self):
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self.server_receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > settings.HTTP_MAX_BODY_BYTES_ANONYMOUS:
                if self.received > await self.allowed():
                    self.refused = True
                    return {"type": "http.disconnect"}
        return message

    async def send(self, message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.server_send(message)

    async def refuse(self) -> None:
        """Answer 413 and close the connection (the rest of the body is not
        read)."""
        self.started = True
        body = b"Request body too large.\n"
        await self.server_send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await self.server_send({"type": "http.response.body", "body": body})
