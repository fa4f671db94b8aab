"""The stream log and ``send_event``: offsets, transactions, doorbells, kinds."""

import asyncio
import json
import threading

import pytest
from channels.db import database_sync_to_async
from django.db import close_old_connections, connection, transaction
from pydantic import BaseModel, ValidationError

import hub
from hub.events import HubEvent, UnknownEventKind
from hub.models import Event, Stream
from hub.realtime.fanout import fanout_for_running_loop, text_frame
from hub.streams import (
    InvalidStreamName,
    parse_stream,
    positions,
    read_after,
    read_events,
)
from tests.hub.helpers import Ping, aemit, emit


def offsets(name: str) -> list[int]:
    return list(
        Event.objects.filter(stream__name=name)
        .order_by("offset")
        .values_list("offset", flat=True)
    )


class Listener:
    """A stand-in socket: records what the process's fan-out offers it."""

    def __init__(self) -> None:
        self.received: list[dict] = []

    def offer(self, event: dict, text: str, frame: bytes) -> None:
        assert json.loads(text) == event
        assert frame == text_frame(text)  # framed once, by the fan-out
        self.received.append({"type": "hub.doorbell", "event": event})


async def listen(*streams: str):
    """Return this loop's fan-out and a listener following the streams."""
    fanout = fanout_for_running_loop()
    listener = Listener()
    for name in streams:
        await fanout.follow(listener, name)
    return fanout, listener


async def doorbells(fanout, listener, seconds: float = 0.5) -> list[dict]:
    """Return what ``listener`` was offered within ``seconds``."""
    await asyncio.sleep(seconds)
    fanout.unfollow(listener)
    return listener.received


@pytest.mark.django_db
def test_offsets_start_at_1_and_are_gap_free_per_stream():
    for n in range(3):
        emit(["user:1"], n)
    emit(["class:7"])
    emit(["user:1", "class:7"])

    assert offsets("user:1") == [1, 2, 3, 4]
    assert offsets("class:7") == [1, 2]
    assert positions(["user:1", "class:7"]) == {
        "user:1": (Stream.objects.get(name="user:1").epoch, 4),
        "class:7": (Stream.objects.get(name="class:7").epoch, 2),
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_get_distinct_gap_free_offsets():
    if connection.vendor == "sqlite":
        # The in-memory test database (shared cache) answers "table is locked"
        # to a second writer instead of waiting; SQLite serializes writers anyway.
        pytest.skip("needs a server database (DATABASE_URL=postgres://...)")
    errors = []

    def sender(worker: int) -> None:
        try:
            for n in range(5):
                emit(["org:3", f"user:{worker + 1}"], n)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert offsets("org:3") == list(range(1, 21))
    assert offsets("user:1") == [1, 2, 3, 4, 5]


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_to_many_streams_take_offsets_in_batches():
    """Above ``BATCH_FROM`` streams the offsets are taken by a few statements
    (a notice to thousands of guardians); overlapping senders still get
    gap-free offsets and do not deadlock (rows locked in name order)."""
    if connection.vendor == "sqlite":
        pytest.skip("needs a server database (DATABASE_URL=postgres://...)")
    from hub import streams as hub_streams

    errors = []
    shared = [f"user:{n}" for n in range(1, 30)]

    def sender(worker: int) -> None:
        try:
            for n in range(5):
                names = shared[worker:] + [f"class:{worker + 1}"]
                assert len(names) > hub_streams.BATCH_FROM
                emit(list(reversed(names)), n)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert offsets("user:29") == list(range(1, 21))
    assert offsets("user:1") == [1, 2, 3, 4, 5]
    assert offsets("class:2") == [1, 2, 3, 4, 5]


@pytest.mark.django_db
def test_many_streams_get_an_offset_each_in_a_few_queries(
    django_assert_max_num_queries,
):
    emit(["user:3"])
    names = [f"user:{n}" for n in range(1, 1200)]
    # (SQLite splits the bulk inserts of rows into several statements.)
    with transaction.atomic(), django_assert_max_num_queries(25):
        envelopes = hub.send_event(names, Ping(op="ping", n=1))
    assert len(envelopes) == 1199
    assert {(e.stream, e.offset) for e in envelopes if e.stream == "user:3"} == {
        ("user:3", 2)
    }
    assert {e.offset for e in envelopes if e.stream != "user:3"} == {1}


@pytest.mark.django_db
def test_one_event_to_several_streams_gets_an_offset_in_each():
    emit(["class:7"])
    envelopes = emit(["user:1", "class:7", "org:3", "user:1"], n=42)

    assert [(e.stream, e.offset) for e in envelopes] == [
        ("class:7", 2),
        ("org:3", 1),
        ("user:1", 1),
    ]
    assert {(e.kind, e.op) for e in envelopes} == {("test.ping", "ping")}
    assert all(e.data == {"n": 42} for e in envelopes)
    assert read_events("org:3", 0)[0].frame() == envelopes[1].frame()


@pytest.mark.django_db(transaction=True)
def test_send_event_outside_a_transaction_raises():
    with pytest.raises(transaction.TransactionManagementError):
        hub.send_event(["user:1"], Ping(op="ping", n=1))

    assert not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_commit_rings_one_doorbell_per_stream_carrying_the_event():
    layer, channel = await listen("user:1", "class:7")

    envelopes = await aemit(["user:1", "class:7"], n=5)

    received = await doorbells(layer, channel)
    assert sorted(
        (m["type"], m["event"]["stream"], m["event"]["offset"]) for m in received
    ) == [("hub.doorbell", "class:7", 1), ("hub.doorbell", "user:1", 1)]
    frames = {m["event"]["stream"]: m["event"] for m in received}
    assert frames == {e.stream: e.frame() for e in envelopes}


@pytest.mark.django_db(transaction=True)
async def test_rollback_leaves_no_event_and_rings_no_doorbell():
    layer, channel = await listen("user:1")

    @database_sync_to_async
    def fail_after_sending():
        with pytest.raises(RuntimeError), transaction.atomic():
            hub.send_event(["user:1"], Ping(op="ping", n=1))
            raise RuntimeError("the action failed")
        return Event.objects.count()

    assert await fail_after_sending() == 0
    assert await doorbells(layer, channel) == []


@pytest.mark.django_db(transaction=True)
async def test_rolled_back_savepoint_drops_only_its_event_and_doorbell():
    layer, channel = await listen("user:1")

    @database_sync_to_async
    def send_twice_and_roll_one_back():
        with transaction.atomic():
            hub.send_event(["user:1"], Ping(op="ping", n=1))
            with pytest.raises(RuntimeError), transaction.atomic():
                hub.send_event(["user:1"], Ping(op="ping", n=2))
                raise RuntimeError("this part failed")
        return [(e.offset, e.payload["n"]) for e in Event.objects.all()]

    assert await send_twice_and_roll_one_back() == [(1, 1)]
    received = await doorbells(layer, channel)
    assert [m["event"]["offset"] for m in received] == [1]


@pytest.mark.django_db
def test_unknown_kind_raises_unknown_event_kind(monkeypatch):
    class Unnamed(HubEvent):
        op: str

    class NotAHubEvent(BaseModel):
        kind: str = "test.ping"
        op: str = "ping"

    class Forgotten(HubEvent):
        kind = "test.forgotten"
        op: str

    monkeypatch.delitem(hub.events._REGISTRY, "test.forgotten")

    with transaction.atomic():
        for event in (Unnamed(op="x"), NotAHubEvent(), Forgotten(op="x")):
            with pytest.raises(UnknownEventKind):
                hub.send_event(["user:1"], event)
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "name",
    [
        "user:0",
        "user:01",
        "user:-1",
        "user:",
        "user:1\n",
        " user:1",
        "user:1 ",
        "User:1",
        "group:1",
        "class:1:2",
        "org:" + "9" * 19,
        "",
        5,
        None,
    ],
)
@pytest.mark.django_db
def test_malformed_stream_name_raises(name):
    with pytest.raises(InvalidStreamName):
        parse_stream(name)
    with transaction.atomic(), pytest.raises(InvalidStreamName):
        hub.send_event(["user:1", name], Ping(op="ping", n=1))
    assert not Event.objects.exists()


def test_parse_stream_splits_valid_names():
    assert parse_stream("user:5") == ("user", 5)
    assert parse_stream("class:12") == ("class", 12)
    assert parse_stream("org:" + "9" * 18) == ("org", 10**18 - 1)


@pytest.mark.django_db
def test_a_bare_stream_name_is_one_stream():
    (envelope,) = emit("user:1")  # type: ignore[arg-type]
    assert envelope.stream == "user:1"


def test_extra_payload_field_is_rejected_by_pydantic():
    with pytest.raises(ValidationError):
        Ping(op="ping", n=1, typo=2)
    with pytest.raises(ValidationError):
        Ping(op="pong", n=1)
    with pytest.raises(ValidationError):
        Ping(op="ping", n="not a number")


@pytest.mark.django_db(transaction=True)
def test_doorbell_rings_only_after_the_commit(monkeypatch):
    rung = []

    def spy(envelopes):
        rung.append(
            (
                [e.offset for e in envelopes],
                transaction.get_connection().in_atomic_block,
                Event.objects.count(),
            )
        )

    monkeypatch.setattr("hub.realtime.publish.ring", spy)
    with transaction.atomic():
        hub.send_event(["user:1"], Ping(op="ping", n=1))
        assert rung == []

    # Called once, outside the block, when the event is visible to others.
    assert rung == [([1], False, 1)]


@pytest.mark.django_db
def test_lock_streams_creates_and_locks_in_name_order():
    from hub.streams import lock_streams

    with transaction.atomic():
        lock_streams(["user:9", "class:3", "user:10", "user:9"])
    assert sorted(Stream.objects.values_list("name", flat=True)) == [
        "class:3",
        "user:10",
        "user:9",
    ]
    with pytest.raises(InvalidStreamName):
        lock_streams(["nope"])


@pytest.mark.django_db
def test_read_after_gives_positions_and_only_the_replays_within_reach():
    for n in range(1, 5):
        emit(["class:1"], n=n)
    emit(["class:2"], n=1)

    got = read_after(
        {"class:1": 2, "class:2": None, "class:3": 0, "org:1": None}, 5, 10
    )

    epoch = Stream.objects.get(name="class:1").epoch
    assert got["class:1"][:2] == (epoch, 4)
    assert [(e.offset, e.data) for e in got["class:1"][2]] == [
        (3, {"n": 3}),
        (4, {"n": 4}),
    ]
    assert got["class:2"][1:] == (1, [])  # no offset held: from now on
    assert got["class:3"][1:] == (0, [])  # never written: created empty
    assert got["org:1"][1:] == (0, [])
    assert read_after({"class:1": 0}, 3, 10)["class:1"][2] == []  # too far behind
    assert read_after({"class:1": 4}, 3, 10)["class:1"][2] == []  # at the end
    assert [e.offset for e in read_after({"class:1": 0}, 5, 2)["class:1"][2]] == [1, 2]


@pytest.mark.django_db
def test_read_after_reads_several_streams_in_one_query_as_the_log_gives_them(
    django_assert_num_queries,
):
    for n in range(1, 6):
        emit(["class:1", "user:7"], n=n)
    emit(["org:1"], n=1)
    Event.objects.filter(stream__name="user:7", offset=3).delete()  # pruned

    with django_assert_num_queries(2):  # positions, then every replay
        got = read_after({"class:1": 1, "user:7": 1, "org:1": 0}, 10, 3)

    # Same envelopes (ts included) as the log's ORM reader gives.
    assert got["class:1"][2] == read_events("class:1", 1, 4)
    assert [e.offset for e in got["class:1"][2]] == [2, 3, 4]  # limit 3
    assert [e.offset for e in got["user:7"][2]] == [2, 4]  # the caller resets
    assert got["org:1"][2] == read_events("org:1", 0)


@pytest.mark.django_db
def test_streams_never_written_are_created_in_one_statement(
    django_assert_num_queries,
):
    emit(["class:1"], n=1)

    # A socket's first subscribe: what exists is read, the rest created with
    # one INSERT (no transaction of its own, no second read).
    with django_assert_num_queries(2):
        got = positions(["class:1", "user:41", "user:42"])

    rows = {s.name: (s.epoch, s.last_offset) for s in Stream.objects.all()}
    assert got == rows
    assert got["user:41"][1] == got["user:42"][1] == 0
    assert got["user:41"][0] != got["user:42"][0]  # an epoch each
    with django_assert_num_queries(1):  # all there now: one read
        assert positions(["user:41", "user:42"]) == {
            name: rows[name] for name in ("user:41", "user:42")
        }


@pytest.mark.django_db
def test_a_stream_created_meanwhile_keeps_the_other_creators_epoch(monkeypatch):
    from hub import streams

    emit(["user:43"], n=1)
    theirs = Stream.objects.get(name="user:43")
    real_select = streams._select_rows
    reads = []

    def select_missing_it_first(names):
        # The first read misses the row, as when another transaction
        # commits it between this reader's SELECT and its INSERT.
        reads.append(list(names))
        return {} if len(reads) == 1 else real_select(names)

    monkeypatch.setattr(streams, "_select_rows", select_missing_it_first)

    assert positions(["user:43"]) == {"user:43": (theirs.epoch, 1)}
    assert reads == [["user:43"], ["user:43"]]  # read again after the conflict
    assert Stream.objects.filter(name="user:43").count() == 1
