"""Log lines: JSON with the request id and user id, the id of a request
kept or replaced, no secret written, the socket's and a task's lines."""

import asyncio
import logging
import re

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from core.logs import TextFormatter
from hub.realtime.consumer import HubConsumer
from hub.realtime.control import recheck_user_sockets
from tests.conftest import login_verified
from tests.hub.helpers import request

NEW_ID = re.compile(r"[0-9a-f]{32}")


def request_lines(lines, request_id: str) -> list[dict]:
    return [r for r in lines.records() if r["request_id"] == request_id]


def test_a_request_logs_json_with_its_request_id_and_user_id(school, json_lines):
    client = Client()
    login_verified(client, school.parent)
    response = client.get("/notifications/", HTTP_X_REQUEST_ID="nginx-0123456789abcdef")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "nginx-0123456789abcdef"
    (line,) = [
        r
        for r in request_lines(json_lines, "nginx-0123456789abcdef")
        if r["logger"] == "hub.requests"
    ]
    assert set(line) == {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "user_id",
    }
    assert line["level"] == "INFO"
    assert line["user_id"] == school.parent.pk
    # The URL pattern, not the path.
    assert line["message"].startswith("GET /notifications/ 200 ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", line["time"])


def test_an_anonymous_request_has_no_user_id(db, json_lines):
    response = Client().get("/login/")
    (line,) = [
        r
        for r in request_lines(json_lines, response["X-Request-ID"])
        if r["logger"] == "hub.requests"
    ]
    assert line["user_id"] is None
    assert line["message"].startswith("GET /login/ 200")


@pytest.mark.parametrize(
    "header",
    [
        "short",
        "has spaces in it",
        "x" * 129,
        "id\nInjected: yes",
        "<script>alert(1)</script>",
        "é-not-ascii-é",
    ],
)
def test_a_malformed_request_id_is_replaced(db, json_lines, header):
    response = Client().get("/login/", HTTP_X_REQUEST_ID=header)
    replaced = response["X-Request-ID"]
    assert replaced != header and NEW_ID.fullmatch(replaced)
    assert request_lines(json_lines, replaced)
    assert header not in json_lines.text


def test_without_a_header_each_request_gets_its_own_id(db):
    client = Client()
    first, second = client.get("/login/"), client.get("/login/")
    assert NEW_ID.fullmatch(first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_no_password_nor_session_key_in_the_logs(school, json_lines, settings):
    secret = "Tr3s-Secret-Passw0rd!"
    school.parent.set_password(secret)
    school.parent.save()
    client = Client()
    wrong = client.post(
        "/login/", {"username": school.parent.username, "password": secret + "x"}
    )
    assert wrong.status_code == 200  # the form again, with its error
    right = client.post(
        "/login/", {"username": school.parent.username, "password": secret}
    )
    assert right.status_code == 302
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    records = json_lines.records()
    # The failed attempt was logged (axes), both requests too...
    (failure,) = [r for r in records if r["logger"] == "axes.handlers.database"]
    assert failure["request_id"] == wrong["X-Request-ID"]
    assert "login failure" in failure["message"]
    # ... without the password, the wrong one, or the session.
    assert secret not in json_lines.text
    assert session_key not in json_lines.text
    # The successful login's line names its user.
    (done,) = [
        r
        for r in request_lines(json_lines, right["X-Request-ID"])
        if r["logger"] == "hub.requests"
    ]
    assert done["user_id"] == school.parent.pk


def test_a_path_is_never_logged_only_its_pattern(db, json_lines):
    """A calendar feed's path is its secret: the request line names the URL
    pattern, and Django's own "Not Found" line no path at all."""
    response = Client().get("/calendar/feed-token-never-logged-0123.ics")
    assert response.status_code == 404
    (line,) = request_lines(json_lines, response["X-Request-ID"])
    assert line["message"].startswith("GET /calendar/<str:token>.ics 404 ")
    response = Client().get("/no/such/page/token-never-logged-4567/")
    assert response.status_code == 404
    lines = request_lines(json_lines, response["X-Request-ID"])
    assert {(r["logger"], r["message"].split(" ms")[0]) for r in lines} >= {
        ("django.request", "Not Found: -")
    }
    assert "never-logged" not in json_lines.text


@pytest.mark.django_db(transaction=True)
async def test_a_sockets_lines_carry_its_request_id_and_user(
    school, json_lines, monkeypatch, sockets
):
    pinged = HubConsumer.HANDLERS["ping"]

    async def logged_ping(self, frame):
        logging.getLogger("hub.consumers").info("ping received")
        await pinged(self, frame)

    monkeypatch.setitem(HubConsumer.HANDLERS, "ping", logged_ping)
    rechecked = HubConsumer.hub_recheck

    async def logged_recheck(self, message):
        logging.getLogger("hub.consumers").info("recheck")
        await rechecked(self, message)

    monkeypatch.setattr(HubConsumer, "hub_recheck", logged_recheck)
    socket = await sockets(
        school.pupil, headers=[(b"x-request-id", b"sock-request-0001")]
    )
    assert (await request(socket, {"type": "ping", "id": 1}))["type"] == "pong"
    (line,) = [r for r in json_lines.records() if r["message"] == "ping received"]
    assert line["request_id"] == "sock-request-0001"
    assert line["user_id"] == school.pupil.pk
    # A message queued to the consumer (a recheck from a commit elsewhere)
    # is handled in the socket's context too.
    await database_sync_to_async(recheck_user_sockets)([school.pupil.pk])
    for _ in range(100):
        queued = [r for r in json_lines.records() if r["message"] == "recheck"]
        if queued:
            break
        await asyncio.sleep(0.05)
    (line,) = queued
    assert line["request_id"] == "sock-request-0001"
    assert line["user_id"] == school.pupil.pk


def test_a_tasks_lines_carry_its_id(school, json_lines):
    from hub.delivery.tasks import withdraw
    from tests.delivery.helpers import run_tasks

    result = withdraw.enqueue(school.parent.pk, ["absence:1"])
    assert run_tasks() == 1
    # django-tasks' own line when the task is done, written in the worker.
    (finished,) = [
        r
        for r in json_lines.records()
        if r["logger"] == "django_tasks" and "state=SUCCESSFUL" in r["message"]
    ]
    assert finished["request_id"] == f"task:{result.id}"
    logging.getLogger("hub").warning("after the task")
    assert json_lines.records()[-1]["request_id"] is None


def test_the_terminal_format_is_readable_and_coloured_only_on_a_terminal():
    record = logging.LogRecord(
        "hub.fanout", logging.WARNING, __file__, 1, "lost %s", ("redis",), None
    )
    record.request_id, record.user_id = "abcdef12", 7
    plain = TextFormatter(colour=False).format(record)
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d WARNING  hub\.fanout \[req abcdef12, user 7\]: lost redis",
        plain,
    )
    coloured = TextFormatter(colour=True).format(record)
    assert "\033[33mWARNING" in coloured and coloured.endswith("lost redis")


def test_log_format_follows_debug_unless_set(monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import core.settings

    def reloaded(**env):
        for name in ("DEBUG", "LOG_FORMAT"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(core.settings)

    try:
        assert reloaded(DEBUG="0").LOG_FORMAT == "json"
        assert reloaded(DEBUG="1").LOG_FORMAT == "text"
        production_text = reloaded(DEBUG="0", LOG_FORMAT="text")
        assert production_text.LOGGING["handlers"]["console"] == {
            "class": "core.logs.ConsoleHandler",
            "log_format": "text",
        }
        assert reloaded(DEBUG="1", LOG_FORMAT="json").LOG_FORMAT == "json"
        with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT='yaml'"):
            reloaded(LOG_FORMAT="yaml")
    finally:
        for name in ("DEBUG", "LOG_FORMAT"):
            monkeypatch.delenv(name, raising=False)
        importlib.reload(core.settings)
