"""Every page and form under arbitrary requests: no 500, no raw user text.

Each example picks a person (anonymous, pupil, guardian, teacher, school-life
staff, the other school's teacher), a route of the product (every URL pattern
outside the admin, path arguments filled with real ids of the fixture or
forged ones), a method, and a body built from every form field name of the
product plus noise, with hostile values (markup, scripts, huge numbers,
broken dates, control characters, random files). The answer must not be a
server error (the test client re-raises an exception a view lets escape),
and no response (nor the next page load) may carry the markup raw.
"""

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from core.attendance import actions as attendance
from tests.conftest import build_school, login_verified, make_occurrence
from tests.messaging.helpers import send, start

MARKER = '<script>alert("fuzz")</script>'
HOSTILE = st.sampled_from(
    [
        MARKER,
        '"><img src=x onerror=alert(1)>',
        "javascript:alert(1)",
        "0",
        "-1",
        "99999999999999999999999",
        "1e309",
        "NaN",
        "2026-02-30",
        "25:61",
        "\x00",
        "\u202e\u0000\ud7ff",
        "",
        " ",
        "a" * 5000,
        "on",
        "true",
        "present",
        "absent",
        "late",
        "medical",
        "all",
        "creator",
        "[]",
        "{}",
    ]
)
VALUES = st.one_of(HOSTILE, st.text(max_size=40), st.integers().map(str))


def _routes() -> list[str]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    return sorted(
        route
        for route in walk(get_resolver().url_patterns)
        if not route.startswith("admin/")
    )


def _field_names() -> list[str]:
    """Every field name of every form of the product (and some of its JSON)."""
    from core.accounts import forms as accounts
    from core.attendance import forms as attendance_forms
    from core.messaging import forms as messaging
    from hub.delivery import forms as delivery

    names = set()
    for module in (accounts, attendance_forms, messaging, delivery):
        for value in vars(module).values():
            fields = getattr(value, "base_fields", None)
            if isinstance(fields, dict):
                names.update(fields)
    names.update(
        ["username", "password", "next", "code", "q", "ids", "after", "before"]
    )
    return sorted(names)


PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


@pytest.fixture
def world(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    school = build_school()
    now = timezone.now()
    occurrence = make_occurrence(
        school.class_4b, now - dt.timedelta(minutes=10), teachers=[school.teacher]
    )
    roll_call = attendance.take_roll_call(
        occurrence=occurrence,
        teacher=school.teacher,
        marks={school.pupil.pk: ("absent", None)},
    )
    record = roll_call.records.get(student=school.pupil)
    excuse = attendance.submit_excuse(
        record=record, guardian=school.parent, reason="medical", comment="fièvre"
    )
    conversation = start(school, school.teacher, [school.parent])
    message = send(conversation, school.parent, body="Merci")
    ids = [
        occurrence.pk,
        record.pk,
        excuse.pk,
        conversation.pk,
        message.pk,
        school.class_4b.pk,
        school.other_class.pk,
        0,
        1,
        2**31,
    ]
    people = {
        "anonymous": None,
        "pupil": school.pupil,
        "guardian": school.parent,
        "other guardian": school.other_parent,
        "teacher": school.teacher,
        "school-life staff": school.cpe,
        "other school's teacher": school.outsider,
    }
    clients = {}
    for name, user in people.items():
        client = Client()
        if user is not None:
            login_verified(client, user)
        clients[name] = client
    return {"ids": ids, "clients": clients, "routes": _routes()}


def _fill(route: str, draw, ids) -> str:
    def value(match):
        converter = match.group(1) or "str"
        if converter in ("int", "id"):
            return str(draw(st.sampled_from(ids)))
        return (
            draw(
                st.one_of(
                    st.text(
                        alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", max_size=30
                    ),
                    st.sampled_from(["x", "MQ", "set-password"]),
                )
            ).strip("/")
            or "x"
        )

    return "/" + PARAM.sub(value, route)


@settings(max_examples=4 * settings().max_examples)  # many routes × people
@given(data=st.data())
def test_no_request_breaks_a_page_or_echoes_markup(world, data):
    draw = data.draw
    person = draw(st.sampled_from(sorted(world["clients"])))
    client = world["clients"][person]
    path = _fill(draw(st.sampled_from(world["routes"])), draw, world["ids"])
    fields = draw(
        st.dictionaries(
            st.one_of(st.sampled_from(_field_names()), st.text(max_size=10)),
            st.one_of(VALUES, st.lists(VALUES, max_size=3)),
            max_size=8,
        )
    )
    if draw(st.booleans()):
        name = draw(st.sampled_from(["document", "files", "file", "attachment"]))
        fields[name] = SimpleUploadedFile(
            draw(st.sampled_from(["a.pdf", "x.hta", "..\\..\\etc", "é.png", ""]))
            or "f",
            draw(st.binary(max_size=300)),
        )
    method = draw(st.sampled_from(["get", "post", "post-json"]))
    if method == "get":
        plain = {k: v for k, v in fields.items() if isinstance(v, str | list)}
        response = client.get(path, plain)
    elif method == "post":
        response = client.post(path, fields)
    else:
        body = draw(
            st.one_of(st.text(max_size=200), st.just('{"body": "' + "x" * 10 + '"}'))
        )
        response = client.post(path, body, content_type="application/json")
    assert response.status_code < 500, (person, method, path, fields)
    _assert_no_raw_markup(response)
    if response.status_code in (301, 302, 303) and response.get(
        "Location", ""
    ).startswith("/"):
        _assert_no_raw_markup(client.get(response["Location"]))


def _assert_no_raw_markup(response) -> None:
    if getattr(response, "streaming", False):
        return
    kind = response.get("Content-Type", "")
    if "html" in kind:
        assert MARKER not in response.content.decode("utf-8", "replace")
