"""The WebSocket consumer through the real ASGI stack (Origin check, session).

Each test opens sockets as the conftest personas, emits ``test.ping`` events
in committed transactions (the doorbell rings on commit) and reads frames.
"""

import datetime
import json

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.test import override_settings
from django.utils import timezone

from core.roster.models import GuardianLink, User
from hub.models import Event, Stream
from hub.realtime.protocol import MAX_ERRORS, RATE_BURST
from tests.hub.helpers import (
    aemit,
    assert_serving,
    assert_silent,
    connect_as,
    login,
    receive,
    receive_close,
    request,
    ring,
)

pytestmark = pytest.mark.django_db(transaction=True)


def user_stream(user) -> str:
    return f"user:{user.pk}"


async def subscribe(socket, *streams: str) -> dict:
    """Subscribe and return the ``subscribed`` frame's streams."""
    reply = await request(
        socket, {"type": "subscribe", "id": "s", "streams": list(streams)}
    )
    assert reply["type"] == "subscribed", reply
    assert reply["id"] == "s"
    return reply["streams"]


async def events(socket, count: int) -> list[tuple[str, int, dict]]:
    """Read ``count`` frames, which must be events: ``(stream, offset, data)``."""
    frames = [await receive(socket) for _ in range(count)]
    assert all(f["type"] == "event" for f in frames), frames
    return [(f["stream"], f["offset"], f["data"]) for f in frames]


@database_sync_to_async
def epoch_of(name: str) -> str:
    return Stream.objects.get(name=name).epoch


def without_doorbells(monkeypatch):
    """Make commits ring nothing, as if Redis dropped every doorbell."""
    monkeypatch.setattr("hub.realtime.publish.ring", lambda envelopes: None)


# Connecting -----------------------------------------------------------------


async def test_hello_lists_the_streams_the_user_may_read(school, sockets):
    socket = await sockets(school.parent)

    assert socket.hello == {
        "type": "hello",
        "user": school.parent.pk,
        "streams": socket.hello["streams"],
        "heartbeat": 25,
        "max_frame": 65536,
    }
    assert socket.hello["streams"][0] == user_stream(school.parent)
    assert set(socket.hello["streams"]) == {
        user_stream(school.parent),
        f"class:{school.class_4b.pk}",
        f"class:{school.other_class.pk}",
        f"org:{school.org.pk}",
        f"org:{school.other_org.pk}",
    }


async def test_no_session_is_closed_with_4401(school, sockets):
    socket = await sockets(None, expect_hello=False)

    assert socket.accepted
    assert await receive_close(socket) == ([], 4401)


async def test_connecting_while_the_process_drains_gets_bye_then_4503(school, sockets):
    from hub.realtime import lifecycle

    lifecycle.draining.set()
    try:
        socket = await sockets(school.parent, expect_hello=False)
        frames, code = await receive_close(socket)
    finally:
        lifecycle.draining.clear()
    assert frames[0]["type"] == "websocket.send"
    assert json.loads(frames[0]["text"]) == {"type": "bye", "reason": "restart"}
    assert code == 4503


async def test_unknown_session_is_closed_with_4401(school, sockets):
    socket = await sockets(None, cookie="not-a-session", expect_hello=False)

    assert await receive_close(socket) == ([], 4401)


@pytest.mark.parametrize(
    "change",
    [
        {"expire_date": timezone.now() - datetime.timedelta(seconds=1)},
        {"session_data": "eyJfYXV0aF91c2VyX2lkIjoiMSJ9:forged:signature"},
    ],
    ids=["expired", "tampered"],
)
async def test_expired_or_tampered_session_is_closed_with_4401(school, sockets, change):
    from django.contrib.sessions.models import Session

    socket = await connect_as(school.pupil)
    await socket.disconnect()
    await database_sync_to_async(
        Session.objects.filter(session_key=socket.cookie).update
    )(**change)

    again = await sockets(None, cookie=socket.cookie, expect_hello=False)

    assert await receive_close(again) == ([], 4401)


async def test_inactive_user_is_closed_with_4401(school, sockets):
    socket = await connect_as(school.pupil)
    await socket.disconnect()
    school.pupil.is_active = False
    await database_sync_to_async(school.pupil.save)()

    again = await sockets(None, cookie=socket.cookie, expect_hello=False)

    assert await receive_close(again) == ([], 4401)


async def test_foreign_origin_is_rejected_at_handshake(school, sockets):
    socket = await sockets(
        school.parent, origin=b"http://evil.example", expect_hello=False
    )

    assert socket.accepted is False


@pytest.mark.parametrize(
    "origin, host",
    [
        (b"http://127.0.0.1:8000", b"127.0.0.1:8000"),  # the page's own
        (b"http://LOCALHOST:8000", b"localhost:8000"),
        (b"http://localhost", b"localhost"),  # port 80, the SITE_URL
        (b"https://ent.example.fr", b"hub:8000"),  # CSRF_TRUSTED_ORIGINS
        (b"https://lycee.ent.example.fr", b"hub:8000"),  # https://*.ent.example.fr
    ],
)
@override_settings(
    ALLOWED_HOSTS=["127.0.0.1", "localhost", ".ent.example.fr"],
    CSRF_TRUSTED_ORIGINS=["https://ent.example.fr", "https://*.ent.example.fr"],
    SITE_URL="http://localhost",
)
async def test_an_origin_of_the_page_or_a_trusted_one_is_accepted(school, origin, host):
    from hub.realtime.app import SocketApp

    socket = await connect_as(school.parent, origin=origin, host=host)
    await socket.disconnect()
    assert SocketApp({}).origin_allowed(origin.decode(), host.decode())


@pytest.mark.parametrize(
    "origin, host",
    [
        # Another port or scheme of the same host: another origin (another
        # site), also when a proxy sends the Host without its port.
        (b"http://127.0.0.1:9999", b"127.0.0.1:8000"),
        (b"http://127.0.0.1", b"127.0.0.1:8000"),
        (b"https://localhost", b"localhost"),  # port 443, socket not over TLS
        # A proxy that drops the port from Host: port 80 is not SITE_URL's.
        (b"http://localhost", b"localhost"),
        (b"ws://127.0.0.1:8000", b"127.0.0.1:8000"),
        (b"chrome-extension://127.0.0.1:8000", b"127.0.0.1:8000"),
        (b"http://127.0.0.1:8000/", b"127.0.0.1:8000"),  # not an origin's form
        # Same as Host, but not a host this site serves.
        (b"http://evil.example:8000", b"evil.example:8000"),
        (b"http://ent.example.fr", b"hub:8000"),  # trusted only over https
        (b"https://ent.example.fr.evil.example", b"hub:8000"),
        (b"http://127.0.0.1:99999", b"127.0.0.1:99999"),  # not a port
        (b"null", b"127.0.0.1:8000"),
        (b"http://127.0.0.1:8000", None),  # no Host: not the page's own
    ],
)
@override_settings(
    ALLOWED_HOSTS=["127.0.0.1", "localhost", ".ent.example.fr"],
    CSRF_TRUSTED_ORIGINS=["https://ent.example.fr", "https://*.ent.example.fr"],
)
async def test_an_origin_of_another_site_is_rejected_at_handshake(
    school, sockets, origin, host
):
    socket = await sockets(school.parent, origin=origin, host=host, expect_hello=False)

    assert socket.accepted is False


@override_settings(
    ALLOWED_HOSTS=[".ent.example.fr"],
    CSRF_TRUSTED_ORIGINS=[],
    SITE_URL="https://ent.example.fr/",
)
def test_over_tls_the_pages_own_origin_is_https():
    # A TLS site behind a proxy: uvicorn's --proxy-headers make the scope's
    # scheme "wss" from X-Forwarded-Proto; a plain-http page is another site.
    from hub.realtime.app import SocketApp

    allowed = SocketApp({}).origin_allowed
    assert allowed("https://ent.example.fr", "ent.example.fr", secure=True)
    assert not allowed("http://ent.example.fr", "ent.example.fr", secure=True)
    assert not allowed("https://ent.example.fr", "ent.example.fr", secure=False)
    # A port-less Host makes the page's own origin only if it is SITE_URL's.
    assert not allowed("http://ent.example.fr", "ent.example.fr", secure=False)
    assert not allowed("https://lycee.ent.example.fr", "lycee.ent.example.fr", True)
    assert allowed("http://ent.example.fr:8080", "ent.example.fr:8080")


@pytest.mark.parametrize(
    "headers",
    [
        [(b"host", b"127.0.0.1:9999"), (b"host", b"127.0.0.1:8000")],
        [(b"origin", b"http://127.0.0.1:9999"), (b"origin", b"http://127.0.0.1:8000")],
    ],
    ids=["two-hosts", "two-origins"],
)
async def test_a_repeated_host_or_origin_is_rejected_at_handshake(school, headers):
    from channels.testing import WebsocketCommunicator

    from core.asgi import application

    base = [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")]
    names = {name for name, _ in headers}
    communicator = WebsocketCommunicator(
        application,
        "/ws/",
        headers=[h for h in base if h[0] not in names] + headers,
    )
    accepted, _ = await communicator.connect(timeout=5)
    assert accepted is False


async def test_missing_origin_is_rejected_at_handshake(school, sockets):
    socket = await sockets(school.parent, origin=None, expect_hello=False)

    assert socket.accepted is False


async def test_ping_gets_pong_with_the_same_id(school, sockets):
    socket = await sockets(school.pupil)

    assert await request(socket, {"type": "ping", "id": 7}) == {"type": "pong", "id": 7}
    assert await request(socket, {"type": "ping"}) == {"type": "pong", "id": None}


# Live events ------------------------------------------------------------------


async def test_subscribed_live_event_arrives_exactly_once(school, sockets):
    socket = await sockets(school.parent)
    name = user_stream(school.parent)
    await aemit([name])  # before subscribing: not sent

    streams = await subscribe(socket, name)
    assert streams == {name: {"epoch": await epoch_of(name), "offset": 1}}
    await aemit([name], n=2)

    frame = await receive(socket)
    assert frame == {
        "type": "event",
        "stream": name,
        "epoch": await epoch_of(name),
        "offset": 2,
        "kind": "test.ping",
        "op": "ping",
        "data": {"n": 2},
        "ts": frame["ts"],
    }
    await assert_silent(socket)


async def test_event_reaches_every_subscriber_of_a_class_and_no_one_else(
    school, sockets
):
    name = f"class:{school.class_4b.pk}"
    teacher = await sockets(school.teacher)
    parent = await sockets(school.parent)
    outsider = await sockets(school.outsider)
    await subscribe(teacher, name)
    await subscribe(parent, name)
    await subscribe(outsider, f"class:{school.other_class.pk}")

    await aemit([name], n=3)

    assert await events(teacher, 1) == [(name, 1, {"n": 3})]
    assert await events(parent, 1) == [(name, 1, {"n": 3})]
    await assert_silent(outsider)


async def test_events_of_one_commit_on_several_streams_each_arrive_once(
    school, sockets
):
    socket = await sockets(school.parent)
    names = [user_stream(school.parent), f"org:{school.other_org.pk}"]
    await subscribe(socket, *names)

    await aemit(names, n=9)

    assert sorted(await events(socket, 2)) == sorted(
        (name, 1, {"n": 9}) for name in names
    )
    await assert_silent(socket)


async def test_duplicate_doorbell_is_ignored(school, sockets):
    socket = await sockets(school.pupil)
    name = user_stream(school.pupil)
    await subscribe(socket, name)
    (envelope,) = await aemit([name])
    assert await events(socket, 1) == [(name, 1, {"n": 1})]

    await ring(envelope.frame())
    await ring(envelope.frame())

    await assert_silent(socket)
    await assert_serving(socket)


async def test_lost_doorbells_are_filled_from_the_log_in_order(
    school, sockets, monkeypatch
):
    socket = await sockets(school.pupil)
    name = user_stream(school.pupil)
    await subscribe(socket, name)
    await aemit([name], n=1)
    assert await events(socket, 1) == [(name, 1, {"n": 1})]

    without_doorbells(monkeypatch)
    await aemit([name], n=2)
    (envelope,) = await aemit([name], n=3)
    await assert_silent(socket)
    # Only the doorbell of offset N+2 arrives.
    await ring(envelope.frame())

    assert await events(socket, 2) == [(name, 2, {"n": 2}), (name, 3, {"n": 3})]
    await assert_silent(socket)


async def test_log_poll_delivers_events_written_without_a_doorbell_once(
    school, sockets, monkeypatch, settings
):
    """The embedded default: another process wrote the event, no doorbell."""
    settings.HUB_POLL_SECONDS = 0.05
    socket = await sockets(school.pupil)
    name = user_stream(school.pupil)
    await subscribe(socket, name)
    without_doorbells(monkeypatch)
    await aemit([name], n=1)
    await aemit([name], n=2)

    assert await events(socket, 2) == [(name, 1, {"n": 1}), (name, 2, {"n": 2})]
    await assert_silent(socket)
    await assert_serving(socket)


async def test_log_poll_drops_a_stream_whose_link_another_process_ended(
    school, sockets, monkeypatch, settings
):
    """The embedded default: a roster import in the task worker ended the
    link; its control message reaches no socket of this process, the poll
    sees it before it delivers the class's next event."""
    settings.HUB_POLL_SECONDS = 0.05
    socket = await sockets(school.parent)
    name = f"class:{school.class_4b.pk}"
    await subscribe(socket, name)
    without_doorbells(monkeypatch)
    links = GuardianLink.objects.filter(guardian=school.parent, student=school.pupil)
    # No signal, as from another process: the rows are gone, nothing told.
    await database_sync_to_async(links._raw_delete)(links.db)
    await aemit([name])

    assert await receive(socket) == {
        "type": "unsubscribed",
        "streams": [name],
        "reason": "forbidden",
    }
    await assert_silent(socket)
    await assert_serving(socket)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"is_active": False}, "deactivated"),
        ({"password": "argon2$another"}, "password_changed"),
    ],
)
async def test_log_poll_closes_a_socket_whose_account_another_process_changed(
    school, sockets, settings, change, reason
):
    settings.HUB_POLL_SECONDS = 0.05
    socket = await sockets(school.parent)
    await subscribe(socket, user_stream(school.parent))
    users = User.objects.filter(pk=school.parent.pk)
    await database_sync_to_async(users.update)(**change)  # update(): no signal

    frames, code = await receive_close(socket)
    assert [json.loads(f["text"]) for f in frames] == [
        {"type": "bye", "reason": reason}
    ]
    assert code == 4403


async def test_replayed_frame_equals_the_live_frame(school, sockets):
    name = user_stream(school.pupil)
    live = await sockets(school.pupil)
    await subscribe(live, name)
    epoch = (await subscribe(live, name))[name]["epoch"]
    await aemit([name], n=5)
    live_frame = await receive(live)

    late = await sockets(school.pupil)
    await late.send_json_to(
        {"type": "resume", "streams": {name: {"epoch": epoch, "offset": 0}}}
    )

    assert await receive(late) == live_frame


async def test_doorbell_of_a_new_epoch_resets_the_stream(school, sockets):
    socket = await sockets(school.pupil)
    name = user_stream(school.pupil)
    old = (await subscribe(socket, name))[name]["epoch"]
    (envelope,) = await aemit([name])
    await events(socket, 1)

    await database_sync_to_async(Stream.objects.filter(name=name).update)(
        epoch="rebuilt0001", last_offset=0
    )
    frame = dict(envelope.frame(), epoch="rebuilt0001", offset=1)
    await ring(frame)

    assert await receive(socket) == {
        "type": "reset",
        "stream": name,
        "epoch": "rebuilt0001",
        "offset": 0,
        "reason": "epoch",
    }
    assert old != "rebuilt0001"


async def test_stale_doorbell_of_an_old_epoch_is_ignored(school, sockets):
    socket = await sockets(school.pupil)
    name = user_stream(school.pupil)
    await subscribe(socket, name)
    (envelope,) = await aemit([name])
    await events(socket, 1)

    frame = dict(envelope.frame(), epoch="gone00000000", offset=2)
    await ring(frame)

    await assert_silent(socket)


async def test_gap_older_than_retention_resets_a_live_socket(
    school, sockets, monkeypatch
):
    socket = await sockets(school.pupil)
    name = user_stream(school.pupil)
    await subscribe(socket, name)
    without_doorbells(monkeypatch)
    for n in range(3):
        (envelope,) = await aemit([name], n=n)
    await database_sync_to_async(
        Event.objects.filter(stream__name=name, offset__lt=3).delete
    )()

    await ring(envelope.frame())

    reset = await receive(socket)
    assert (reset["type"], reset["reason"], reset["offset"]) == (
        "reset",
        "retention",
        3,
    )
    await assert_silent(socket)


async def test_unsubscribed_stream_gets_no_more_events(school, sockets):
    socket = await sockets(school.pupil)
    name = user_stream(school.pupil)
    await subscribe(socket, name)

    reply = await request(socket, {"type": "unsubscribe", "id": 2, "streams": [name]})
    await aemit([name])

    assert reply == {"type": "unsubscribed", "id": 2, "streams": [name]}
    await assert_silent(socket)


async def test_subscribing_again_keeps_the_position(school, sockets, monkeypatch):
    socket = await sockets(school.pupil)
    name = user_stream(school.pupil)
    await subscribe(socket, name)
    without_doorbells(monkeypatch)
    (envelope,) = await aemit([name])

    # The socket has not sent offset 1 yet: it must not skip it.
    assert (await subscribe(socket, name))[name]["offset"] == 0
    await ring(envelope.frame())
    assert await events(socket, 1) == [(name, 1, {"n": 1})]


# Resume -----------------------------------------------------------------------


async def test_resume_replays_missed_events_in_order_then_resumed(school, sockets):
    name = f"class:{school.class_4b.pk}"
    for n in range(1, 5):
        await aemit([name], n=n)
    epoch = await epoch_of(name)
    socket = await sockets(school.teacher)

    await socket.send_json_to(
        {"type": "resume", "id": "r1", "streams": {name: {"epoch": epoch, "offset": 1}}}
    )

    assert await events(socket, 3) == [(name, n, {"n": n}) for n in (2, 3, 4)]
    assert await receive(socket) == {
        "type": "resumed",
        "id": "r1",
        "streams": {name: {"epoch": epoch, "offset": 4}},
    }
    await aemit([name], n=5)
    assert await events(socket, 1) == [(name, 5, {"n": 5})]
    await assert_silent(socket)


async def test_resume_at_the_end_replays_nothing(school, sockets):
    name = user_stream(school.cpe)
    await aemit([name])
    epoch = await epoch_of(name)
    socket = await sockets(school.cpe)

    reply = await request(
        socket, {"type": "resume", "streams": {name: {"epoch": epoch, "offset": 1}}}
    )

    assert reply["type"] == "resumed"
    assert reply["streams"] == {name: {"epoch": epoch, "offset": 1}}


async def test_resume_with_null_position_follows_from_now(school, sockets):
    name = user_stream(school.cpe)
    await aemit([name])
    socket = await sockets(school.cpe)

    reply = await request(socket, {"type": "resume", "streams": {name: None}})

    assert reply["streams"][name]["offset"] == 1
    await aemit([name], n=2)
    assert await events(socket, 1) == [(name, 2, {"n": 2})]


async def resume_and_expect_reset(socket, name, position, reason, offset):
    await socket.send_json_to({"type": "resume", "streams": {name: position}})
    reset = await receive(socket)
    epoch = await epoch_of(name)
    assert reset == {
        "type": "reset",
        "stream": name,
        "epoch": epoch,
        "offset": offset,
        "reason": reason,
    }
    resumed = await receive(socket)
    assert resumed["type"] == "resumed"
    assert resumed["streams"] == {name: {"epoch": epoch, "offset": offset}}


async def test_resume_from_the_future_resets(school, sockets):
    name = user_stream(school.pupil)
    await aemit([name])
    socket = await sockets(school.pupil)

    await resume_and_expect_reset(
        socket, name, {"epoch": await epoch_of(name), "offset": 9}, "future", 1
    )


async def test_resume_with_a_wrong_epoch_resets(school, sockets):
    name = user_stream(school.pupil)
    await aemit([name])
    socket = await sockets(school.pupil)

    await resume_and_expect_reset(
        socket, name, {"epoch": "0123456789ab", "offset": 0}, "epoch", 1
    )


async def test_resume_behind_retention_resets(school, sockets):
    name = user_stream(school.pupil)
    for n in range(3):
        await aemit([name], n=n)
    await database_sync_to_async(
        Event.objects.filter(stream__name=name, offset__lte=2).delete
    )()
    socket = await sockets(school.pupil)

    await resume_and_expect_reset(
        socket, name, {"epoch": await epoch_of(name), "offset": 0}, "retention", 3
    )


async def test_resume_after_every_event_was_pruned_resets(school, sockets):
    name = user_stream(school.pupil)
    await aemit([name])
    await aemit([name])
    await database_sync_to_async(Event.objects.all().delete)()
    socket = await sockets(school.pupil)

    await resume_and_expect_reset(
        socket, name, {"epoch": await epoch_of(name), "offset": 1}, "retention", 2
    )


async def test_resume_too_far_behind_resets(school, sockets):
    name = user_stream(school.pupil)
    for n in range(5):
        await aemit([name], n=n)
    socket = await sockets(school.pupil)

    with override_settings(HUB_REPLAY_LIMIT=3):
        await resume_and_expect_reset(
            socket,
            name,
            {"epoch": await epoch_of(name), "offset": 1},
            "too_far_behind",
            5,
        )


@pytest.mark.parametrize(
    "streams",
    [
        [],
        {},
        "user:1",
        {"user:1": {"epoch": "x"}},
        {"user:1": {"epoch": "x", "offset": -1}},
        {"user:1": {"epoch": "x", "offset": True}},
        {"user:1": {"epoch": 5, "offset": 1}},
        {"user:1": 3},
    ],
)
async def test_malformed_resume_is_an_invalid_frame(school, sockets, streams):
    socket = await sockets(school.pupil)

    reply = await request(socket, {"type": "resume", "id": 1, "streams": streams})

    assert (reply["type"], reply["code"], reply["id"]) == ("error", "invalid_frame", 1)
    await assert_serving(socket)


# Access -----------------------------------------------------------------------


async def test_parent_of_other_child_cannot_subscribe(school, sockets):
    socket = await sockets(school.other_parent)
    for name in (
        user_stream(school.parent),
        f"class:{school.other_class.pk}",
        f"org:{school.other_org.pk}",
        "class:999999",
        "user:1\n",
        "bogus",
    ):
        reply = await request(socket, {"type": "subscribe", "id": 4, "streams": [name]})
        assert (reply["type"], reply["code"], reply["id"]) == ("error", "forbidden", 4)

    await assert_serving(socket)


async def test_forbidden_stream_refuses_the_whole_frame(school, sockets):
    socket = await sockets(school.other_parent)
    own = user_stream(school.other_parent)

    other = user_stream(school.parent)
    reply = await request(
        socket, {"type": "subscribe", "id": 1, "streams": [own, other, "x" * 300]}
    )
    await aemit([own])

    assert reply == {
        "type": "error",
        "code": "forbidden",
        "message": f"no such stream or not allowed: {other}",
        "streams": [other, "x" * 100],
        "id": 1,
    }
    await assert_silent(socket)


async def test_resume_of_a_forbidden_stream_replays_nothing(school, sockets):
    name = user_stream(school.parent)
    await aemit([name])
    socket = await sockets(school.other_parent)

    reply = await request(
        socket,
        {
            "type": "resume",
            "streams": {name: {"epoch": await epoch_of(name), "offset": 0}},
        },
    )

    assert reply["code"] == "forbidden"
    await assert_silent(socket)


async def test_losing_access_unsubscribes_the_socket(school, sockets):
    socket = await sockets(school.parent)
    lost = [f"class:{school.other_class.pk}", f"org:{school.other_org.pk}"]
    kept = f"class:{school.class_4b.pk}"
    await subscribe(socket, kept, *lost)

    await database_sync_to_async(
        GuardianLink.objects.filter(
            guardian=school.parent, student=school.other_child
        ).delete
    )()

    assert await receive(socket) == {
        "type": "unsubscribed",
        "streams": lost,
        "reason": "forbidden",
    }
    await aemit(lost + [kept])
    assert await events(socket, 1) == [(kept, 1, {"n": 1})]
    await assert_silent(socket)


async def test_leaving_an_org_unsubscribes_its_staff(school, sockets):
    socket = await sockets(school.cpe)
    names = [f"class:{school.class_3a.pk}", f"org:{school.org.pk}"]
    own = user_stream(school.cpe)
    await subscribe(socket, own, *names)

    await database_sync_to_async(school.cpe.orgs.remove)(school.org)

    assert await receive(socket) == {
        "type": "unsubscribed",
        "streams": names,
        "reason": "forbidden",
    }
    await assert_serving(socket)


async def test_leaving_a_class_unsubscribes_pupil_and_guardians(school, sockets):
    from core.roster.models import Enrollment

    name = f"class:{school.class_4b.pk}"
    pupil = await sockets(school.pupil)
    parent = await sockets(school.parent)
    classmate = await sockets(school.pupil2)
    for socket in (pupil, parent, classmate):
        await subscribe(socket, name)

    await database_sync_to_async(
        Enrollment.objects.filter(
            user=school.pupil, school_class=school.class_4b
        ).delete
    )()

    for socket in (pupil, parent):
        assert await receive(socket) == {
            "type": "unsubscribed",
            "streams": [name],
            "reason": "forbidden",
        }
    await aemit([name])
    assert await events(classmate, 1) == [(name, 1, {"n": 1})]
    await assert_silent(pupil)
    await assert_silent(parent)


# Bad input --------------------------------------------------------------------


async def test_unknown_frame_type_is_an_error_and_the_socket_keeps_serving(
    school, sockets
):
    socket = await sockets(school.pupil)

    reply = await request(socket, {"type": "ack", "id": "a"})

    assert reply == {
        "type": "error",
        "code": "unknown_type",
        "message": "unknown frame type 'ack'",
        "id": "a",
    }
    await assert_serving(socket)


@pytest.mark.parametrize("text", ["{not json", '{"type": "ping"', "[" * 60_000])
async def test_invalid_json_is_an_error_and_the_socket_keeps_serving(
    school, sockets, text
):
    socket = await sockets(school.pupil)

    await socket.send_to(text_data=text)

    reply = await receive(socket)
    assert (reply["type"], reply["code"]) == ("error", "invalid_json")
    await assert_serving(socket)


async def test_invalid_binary_frame_is_an_error(school, sockets):
    socket = await sockets(school.pupil)

    await socket.send_to(bytes_data=b"\xff\xfe{")

    assert (await receive(socket))["code"] == "invalid_json"
    await assert_serving(socket)


@pytest.mark.parametrize("frame", [[1, 2], "ping", 3, {"id": 1}, {"type": 5}])
async def test_frame_without_a_type_is_an_invalid_frame(school, sockets, frame):
    socket = await sockets(school.pupil)

    reply = await request(socket, frame)

    assert (reply["type"], reply["code"]) == ("error", "invalid_frame")
    await assert_serving(socket)


async def test_frame_over_64_kib_closes_with_4413(school, sockets):
    socket = await sockets(school.pupil)
    padding = "é" * (32 * 1024)  # 64 KiB of UTF-8 in 32 Ki characters

    await socket.send_json_to({"type": "ping", "pad": padding})

    frames, code = await receive_close(socket)
    assert code == 4413
    assert [json.loads(f["text"])["code"] for f in frames] == ["frame_too_big"]


async def test_frame_of_exactly_64_kib_is_accepted(school, sockets):
    socket = await sockets(school.pupil)
    frame = '{"type":"ping","id":1,"pad":"%s"}'
    text = frame % ("x" * (65536 - len(frame % "")))

    await socket.send_to(text_data=text)

    assert await receive(socket) == {"type": "pong", "id": 1}


async def test_too_many_errors_close_with_4429(school, sockets):
    socket = await sockets(school.pupil)

    for _ in range(MAX_ERRORS):
        await socket.send_to(text_data="nope")

    frames, code = await receive_close(socket)
    assert code == 4429
    assert len(frames) == MAX_ERRORS


async def test_flooding_frames_closes_with_4429(school, sockets):
    socket = await sockets(school.pupil)

    for n in range(RATE_BURST + 100):
        await socket.send_json_to({"type": "ping", "id": n})

    frames, code = await receive_close(socket)
    assert code == 4429
    replies = [json.loads(f["text"]) for f in frames]
    assert replies[-1]["code"] == "rate_limited"
    assert len(replies) >= RATE_BURST


async def test_server_keeps_serving_others_while_one_socket_misbehaves(school, sockets):
    name = f"class:{school.class_4b.pk}"
    rude = await sockets(school.pupil)
    polite = await sockets(school.pupil2)
    await subscribe(rude, name)
    await subscribe(polite, name)

    for _ in range(MAX_ERRORS):
        await rude.send_to(text_data="[" * 1000)
    await rude.send_json_to({"type": "ping", "pad": "x" * 70_000})
    await aemit([name])

    frames, code = await receive_close(rude)
    assert code == 4429
    assert await events(polite, 1) == [(name, 1, {"n": 1})]
    await assert_serving(polite)


# Session end ------------------------------------------------------------------


async def test_logout_closes_the_sockets_of_that_session_only(school, sockets):
    phone = await sockets(school.parent)
    phone_tab = await sockets(None, cookie=phone.cookie)  # same session, 2nd tab
    laptop = await sockets(school.parent)  # another session of the same user
    other = await sockets(school.teacher)

    await database_sync_to_async(phone.client.logout)()

    for socket in (phone, phone_tab):
        frames, code = await receive_close(socket)
        assert code == 4403
        assert [json.loads(f["text"]) for f in frames] == [
            {"type": "bye", "reason": "logout"}
        ]
    await assert_serving(laptop)
    await assert_serving(other)
    # The session is gone: the same cookie no longer connects.
    again = await sockets(None, cookie=phone.cookie, expect_hello=False)
    assert await receive_close(again) == ([], 4401)


async def test_a_logout_while_the_session_loads_still_closes_the_socket(
    school, sockets, monkeypatch
):
    # Found by a fresh-user trial: the socket joined its session's control
    # target only after reading the session, so a logout in between was lost.
    import hub.realtime.consumer
    from hub.realtime.sessions import load_user

    phone = await sockets(school.parent)

    def load_then_log_out(cookie):
        loaded = load_user(cookie)
        phone.client.logout()  # commits and publishes after the read
        return loaded

    monkeypatch.setattr(hub.realtime.consumer, "load_user", load_then_log_out)
    tab = await sockets(None, cookie=phone.cookie, expect_hello=False)

    frames, code = await receive_close(tab)
    assert code == 4403
    assert {"type": "bye", "reason": "logout"} in [
        json.loads(f["text"]) for f in frames
    ]


@pytest.mark.parametrize("change", ["password", "deactivation"])
async def test_an_account_change_while_the_user_loads_still_closes_the_socket(
    school, sockets, monkeypatch, change
):
    # The socket joins its user's control target after reading the user: a
    # password change or deactivation committed in between was lost.
    import hub.realtime.consumer
    from hub.realtime.sessions import load_user

    phone = await sockets(school.teacher)

    def load_then_change(cookie):
        loaded = load_user(cookie)
        user = User.objects.get(pk=school.teacher.pk)
        if change == "password":
            user.set_password("a new and long password")
        else:
            user.is_active = False
        user.save()  # commits and publishes after the read
        return loaded

    monkeypatch.setattr(hub.realtime.consumer, "load_user", load_then_change)
    tab = await sockets(None, cookie=phone.cookie, expect_hello=False)

    frames, code = await receive_close(tab)
    assert code == 4403
    assert json.loads(frames[-1]["text"])["type"] == "bye"
    assert (await receive_close(phone))[1] == 4403  # the socket already open


@pytest.mark.parametrize(
    "cookie", ['"\\000abcdefghijklmnop"', "a" * 5000, "short", "ab%00cdefghij"]
)
async def test_a_cookie_that_cannot_be_a_session_key_is_closed_with_4401(
    school, sockets, cookie
):
    socket = await sockets(None, cookie=cookie, expect_hello=False)

    assert await receive_close(socket) == ([], 4401)


async def test_user_logged_out_signal_without_a_session_closes_nothing(school, sockets):
    socket = await sockets(school.cpe)

    await database_sync_to_async(user_logged_out.send)(
        sender=User, request=None, user=school.cpe
    )

    await assert_serving(socket)


async def test_password_change_closes_sockets(school, sockets):
    socket = await sockets(school.teacher)
    other = await sockets(school.pupil)

    @database_sync_to_async
    def change_password():
        user = User.objects.get(pk=school.teacher.pk)
        user.set_password("a new and long password")
        user.save()

    await change_password()

    frames, code = await receive_close(socket)
    assert code == 4403
    assert json.loads(frames[0]["text"]) == {
        "type": "bye",
        "reason": "password_changed",
    }
    await assert_serving(other)
    again = await sockets(None, cookie=socket.cookie, expect_hello=False)
    assert await receive_close(again) == ([], 4401)


async def test_deactivation_closes_sockets(school, sockets):
    socket = await sockets(school.teacher)

    @database_sync_to_async
    def deactivate():
        user = User.objects.get(pk=school.teacher.pk)
        user.is_active = False
        user.save()

    await deactivate()

    frames, code = await receive_close(socket)
    assert code == 4403
    assert json.loads(frames[0]["text"])["reason"] == "deactivated"


async def test_saving_a_user_without_account_changes_keeps_sockets(school, sockets):
    socket = await sockets(school.teacher)

    @database_sync_to_async
    def rename():
        user = User.objects.get(pk=school.teacher.pk)
        user.first_name = "Alicia"
        user.save()

    await rename()

    await assert_serving(socket)


async def test_after_losing_access_subscribing_again_is_forbidden(school, sockets):
    """The streams computed for hello are refreshed when memberships change."""
    socket = await sockets(school.parent)
    lost = f"class:{school.other_class.pk}"
    await subscribe(socket, lost)
    await database_sync_to_async(
        GuardianLink.objects.filter(
            guardian=school.parent, student=school.other_child
        ).delete
    )()
    assert (await receive(socket))["type"] == "unsubscribed"

    reply = await request(socket, {"type": "subscribe", "id": "s", "streams": [lost]})
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply


async def test_access_granted_after_hello_lets_the_socket_subscribe(school, sockets):
    """A stream missing from hello's list is checked in the database."""
    socket = await sockets(school.other_parent)
    name = f"class:{school.other_class.pk}"
    reply = await request(socket, {"type": "subscribe", "id": "s", "streams": [name]})
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply

    await database_sync_to_async(GuardianLink.objects.create)(
        guardian=school.other_parent, student=school.other_child
    )

    assert name in await subscribe(socket, name)


async def test_resume_of_several_streams_replays_each_from_its_own_offset(
    school, sockets
):
    klass, own = f"class:{school.class_4b.pk}", user_stream(school.teacher)
    for n in range(1, 4):
        await aemit([klass, own], n=n)
    await aemit([own], n=4)
    epochs = {name: await epoch_of(name) for name in (klass, own)}
    socket = await sockets(school.teacher)

    await socket.send_json_to(
        {
            "type": "resume",
            "id": "r",
            "streams": {
                klass: {"epoch": epochs[klass], "offset": 2},
                own: {"epoch": epochs[own], "offset": 1},
            },
        }
    )

    assert await events(socket, 4) == [
        (klass, 3, {"n": 3}),
        (own, 2, {"n": 2}),
        (own, 3, {"n": 3}),
        (own, 4, {"n": 4}),
    ]
    assert (await receive(socket))["streams"] == {
        klass: {"epoch": epochs[klass], "offset": 3},
        own: {"epoch": epochs[own], "offset": 4},
    }


async def test_losing_access_before_subscribing_is_seen_by_a_later_subscribe(
    school, sockets
):
    """The streams computed for hello are refreshed even when nothing is followed."""
    socket = await sockets(school.parent)
    lost = f"class:{school.other_class.pk}"
    assert lost in socket.hello["streams"]
    await database_sync_to_async(
        GuardianLink.objects.filter(
            guardian=school.parent, student=school.other_child
        ).delete
    )()
    await assert_serving(socket)  # the recheck was handled before this ping

    reply = await request(socket, {"type": "subscribe", "id": "s", "streams": [lost]})
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply


KEY_A = "issue-13-old-signing-key-" + "a" * 40
KEY_B = "issue-13-new-signing-key-" + "b" * 40


async def test_a_session_signed_with_a_fallback_key_keeps_page_and_socket(school):
    """Issue 13, finding 9: rotating SECRET_KEY (the old one kept in
    SECRET_KEY_FALLBACKS) logs nobody out: Django's pages accept a session
    whose hash the old key made, and so does the socket (it used to flush
    the session, logging the page out too)."""
    with override_settings(SECRET_KEY=KEY_A, SECRET_KEY_FALLBACKS=[]):
        client = await database_sync_to_async(login)(school.parent)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    with override_settings(SECRET_KEY=KEY_B, SECRET_KEY_FALLBACKS=[KEY_A]):
        socket = await connect_as(cookie=cookie)
        assert socket.hello["user"] == school.parent.pk
        await socket.disconnect()
        page = await database_sync_to_async(client.get)("/messages/")
        assert page.status_code == 200
        # Django moved the session to the new key's hash (and a new session
        # key): the page's new cookie opens a socket too.
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        socket = await connect_as(cookie=cookie)
        assert socket.hello["user"] == school.parent.pk
        await socket.disconnect()
    with override_settings(SECRET_KEY=KEY_B, SECRET_KEY_FALLBACKS=[]):
        # Without the fallback, a session of the old key is nobody's.
        with override_settings(SECRET_KEY=KEY_A):
            old = await database_sync_to_async(login)(school.teacher)
        old_cookie = old.cookies[settings.SESSION_COOKIE_NAME].value
        socket = await connect_as(cookie=old_cookie, expect_hello=False)
        _, code = await receive_close(socket)
        assert code == 4401


@override_settings(HUB_MAX_SOCKETS_PER_USER=2, HUB_MAX_SOCKETS_PER_IP=0)
async def test_sockets_beyond_the_users_cap_are_closed_with_4409(school):
    """Issue 13, finding 3: a user's sockets on one process are capped; one
    more is closed with 4409, the others keep serving, and a socket that
    leaves makes room."""
    first = await connect_as(school.parent)
    second = await connect_as(cookie=first.cookie)
    third = await connect_as(cookie=first.cookie, expect_hello=False)
    assert third.accepted
    frames, code = await receive_close(third)
    assert code == 4409 and frames == []
    # Another user is not concerned.
    other = await connect_as(school.teacher)
    await assert_serving(first)
    await assert_serving(second)
    await second.disconnect()
    again = await connect_as(cookie=first.cookie)
    await assert_serving(again)
    for socket in (first, again, other):
        await socket.disconnect()


@override_settings(HUB_MAX_SOCKETS_PER_USER=0, HUB_MAX_SOCKETS_PER_IP=2)
async def test_sockets_beyond_the_addresss_cap_are_closed_before_the_session(school):
    """Sockets from one client address are capped before any database work
    (anonymous ones too); another address is not concerned."""
    one = await connect_as(school.parent, address="203.0.113.7")
    two = await connect_as(school.teacher, address="203.0.113.7")
    refused = await connect_as(None, address="203.0.113.7", expect_hello=False)
    assert refused.accepted
    _, code = await receive_close(refused)
    assert code == 4409
    elsewhere = await connect_as(school.pupil, address="198.51.100.9")
    await assert_serving(one)
    await assert_serving(elsewhere)
    await one.disconnect()
    three = await connect_as(school.cpe, address="203.0.113.7")
    await assert_serving(three)
    for socket in (two, three, elsewhere):
        await socket.disconnect()
