"""The socket protocol under arbitrary frames: every frame gets an answer or
a documented close, never a crash, and the socket keeps serving.

Each example opens a socket as a pupil of the two-school fixture, sends a
burst of generated frames (JSON of every shape, known frame types with wrong
fields, streams of another school, non-JSON text, binary), then a ``ping``.
The server must answer the ping (having answered each frame with an
``error`` or its normal reply) or close with a documented code.
"""

import json

import pytest
from channels.db import database_sync_to_async
from hypothesis import event, given
from hypothesis import strategies as st

from tests.conftest import build_school
from tests.hub.helpers import TIMEOUT, connect_as

pytestmark = pytest.mark.django_db(transaction=True)

# Closes the protocol documents for a misbehaving client (docs/protocol.md).
ALLOWED_CLOSES = {4413, 4429}
TYPES = ["ping", "subscribe", "unsubscribe", "resume", "seen", "typing", "hello", "x"]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(max_size=10), inner, max_size=5),
    ),
    max_leaves=20,
)
stream_names = st.one_of(
    st.sampled_from(
        ["user:1", "user:999999", "class:1", "class:3", "org:2", "org:1", "x", ""]
    ),
    st.text(max_size=20),
)
position = st.fixed_dictionaries(
    {"epoch": st.one_of(st.text(max_size=14), json_scalars), "offset": json_values}
)
protocol_frames = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(TYPES)},
        optional={
            "id": json_values,
            "streams": st.one_of(
                st.lists(stream_names, max_size=6),
                st.dictionaries(stream_names, position, max_size=4),
                json_values,
            ),
            "stream": st.one_of(stream_names, json_values),
            "offsets": st.one_of(st.lists(json_scalars, max_size=5), json_values),
            "conversation": json_values,
        },
    ),
    st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    json_values,
)
frames = st.one_of(
    protocol_frames.map(lambda f: ("text", json.dumps(f))),
    st.text(max_size=200).map(lambda t: ("text", t)),
    st.binary(max_size=200).map(lambda b: ("bytes", b)),
)


async def _exchange(pupil, burst, note=event) -> tuple[list[dict], int | None]:
    """Send ``burst`` then a ping; return (frames received, close code or None)."""
    socket = await connect_as(pupil)
    received: list[dict] = []
    try:
        for kind, payload in burst:
            # send_input, not send_to: an empty frame is a frame too.
            await socket.send_input({"type": "websocket.receive", kind: payload})
        await socket.send_to(text_data=json.dumps({"type": "ping", "id": "last"}))
        while True:
            message = await socket.receive_output(timeout=TIMEOUT)
            if message["type"] == "websocket.close":
                return received, message.get("code", 1000)
            frame = json.loads(message["text"])
            note(f"reply:{frame.get('type')}:{frame.get('code', '')}")
            received.append(frame)
            if frame == {"type": "pong", "id": "last"}:
                return received, None
    finally:
        await socket.disconnect(timeout=TIMEOUT)


def _well_formed(real_streams: list[str]):
    """Frames of the protocol's shape naming real streams, the pupil's and
    the other school's, with positions right, stale or nonsensical."""
    names = st.sampled_from(real_streams)
    positions = st.fixed_dictionaries(
        {
            "epoch": st.one_of(st.text(max_size=14), st.just("0" * 12)),
            "offset": st.one_of(st.integers(-5, 10**6), json_scalars),
        }
    )
    return st.one_of(
        st.builds(
            lambda streams, id_: {"type": "subscribe", "streams": streams, "id": id_},
            st.lists(names, max_size=4),
            json_scalars,
        ),
        st.builds(
            lambda streams: {"type": "resume", "streams": streams},
            st.dictionaries(names, positions, max_size=3),
        ),
        st.builds(
            lambda streams: {"type": "unsubscribe", "streams": streams},
            st.lists(names, max_size=3),
        ),
        st.builds(
            lambda stream, offsets: {
                "type": "seen",
                "stream": stream,
                "offsets": offsets,
            },
            names,
            st.lists(st.integers(-3, 10**4), max_size=4),
        ),
    ).map(lambda f: ("text", json.dumps(f)))


@given(data=st.data())
async def test_any_burst_of_frames_is_answered_or_closed_as_documented(data):
    school = await database_sync_to_async(_school)()
    real = sorted(school.pupil_streams | school.foreign_streams)
    burst = data.draw(
        st.lists(st.one_of(frames, _well_formed(real)), min_size=1, max_size=12)
    )
    received, close = await _exchange(school.pupil, burst)
    assert close is None or close in ALLOWED_CLOSES, (close, received)
    for frame in received:
        assert isinstance(frame.get("type"), str), frame
        text = json.dumps(frame)
        assert "Traceback" not in text and "Exception" not in text, frame
        if frame["type"] == "error":
            assert isinstance(frame.get("code"), str), frame
        if frame["type"] == "event":
            # Only the pupil's own streams (nothing of the other school).
            assert frame["stream"] in school.pupil_streams, frame


def _school():
    from core.roster.models import User

    existing = User.objects.filter(username="lea").first()
    if existing is None:
        school = build_school()
    else:
        school = _Fixture(existing)
    from core.roster.streams import readable_streams

    school.pupil_streams = set(readable_streams(school.pupil))
    other = User.objects.get(username="ines")  # the other school's pupil
    school.foreign_streams = set(readable_streams(other))
    return school


class _Fixture:
    def __init__(self, pupil):
        self.pupil = pupil


async def test_a_seen_frame_naming_a_list_gets_bad_seen(transactional_db):
    """Found by the fuzzing (on PostgreSQL + Redis): ``"stream": []`` was
    looked up in the socket's positions and crashed it (unhashable list)."""
    school = await database_sync_to_async(_school)()
    received, close = await _exchange(
        school.pupil,
        [("text", json.dumps({"type": "seen", "stream": [], "offsets": []}))],
        note=lambda _: None,
    )
    assert close is None
    assert received[0]["type"] == "error" and received[0]["code"] == "bad_seen"
