"""Prometheus metrics: who may read /metrics, and that each metric moves
when its thing happens (sockets, events, resumes, resets, slow sockets,
imports, the task queue, finished tasks; push and e-mail outcomes are in
tests/delivery/test_metrics.py)."""

import datetime as dt
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.utils import timezone

from core import metrics
from core.asgi import application
from hub.realtime.consumer import HubConsumer
from hub.realtime.protocol import CLOSE_TOO_SLOW
from tests.hub.helpers import aemit, receive, receive_close, request
from tests.observability.conftest import sample

TOKEN = "s3cret-scrape-token"


async def scrape(headers=(), client=("10.1.2.3", 40000)) -> tuple[int, str]:
    """GET /metrics through the ASGI application; ``(status, body)``."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/metrics",
        "raw_path": b"/metrics",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"asgi-1:8000"), *headers],
        "client": client,
        "server": ("10.1.2.4", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    body = await communicator.receive_output(5)
    await communicator.wait(5)
    return start["status"], body["body"].decode()


def bearer(token: str = TOKEN) -> list:
    return [(b"authorization", f"Bearer {token}".encode())]


# Who may read them -----------------------------------------------------------


@pytest.mark.django_db
async def test_metrics_are_off_without_a_token_or_networks(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", []
    assert (await scrape())[0] == 404
    assert (await scrape(bearer("anything")))[0] == 404


@pytest.mark.django_db
async def test_the_token_is_required(settings):
    settings.METRICS_TOKEN = TOKEN
    assert (await scrape())[0] == 403
    assert (await scrape(bearer("wrong")))[0] == 403
    assert (await scrape([(b"authorization", TOKEN.encode())]))[0] == 403
    status, body = await scrape(bearer())
    assert status == 200
    assert "# TYPE hub_sockets_open gauge" in body
    assert "# TYPE hub_tasks_ready gauge" in body


@pytest.mark.django_db
async def test_allowed_networks_and_token_both_apply(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.1.0.0/16", "fd00::/8"]
    assert (await scrape(client=("10.1.2.3", 1)))[0] == 200
    assert (await scrape(client=("fd00::5", 1)))[0] == 200
    assert (await scrape(client=("192.0.2.7", 1)))[0] == 403
    assert (await scrape(client=None))[0] == 403
    settings.METRICS_TOKEN = TOKEN
    assert (await scrape(client=("10.1.2.3", 1)))[0] == 403
    assert (await scrape(bearer(), client=("192.0.2.7", 1)))[0] == 403
    assert (await scrape(bearer(), client=("10.1.2.3", 1)))[0] == 200


def test_other_paths_still_go_to_django(client, db):
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/metrics/").status_code == 404


def test_a_worker_serves_its_metrics_on_its_port(settings):
    settings.METRICS_TOKEN = TOKEN
    server = metrics.serve_process_metrics(0, "127.0.0.1")
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/metrics", timeout=5)
        assert refused.value.code == 403
        wrong_path = urllib.request.Request(
            f"{base}/other", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(wrong_path, timeout=5)
        assert missing.value.code == 404
        metrics.PUSHES.labels("gone").inc()
        good = urllib.request.Request(
            f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(good, timeout=5) as response:
            body = response.read().decode()
        gone = sample("hub_push_sends_total", {"result": "gone"})
        assert f'hub_push_sends_total{{result="gone"}} {gone}' in body
        # The task queue is the ASGI processes' to report (one reading).
        assert "hub_tasks_ready" not in body
    finally:
        server.shutdown()
        server.server_close()


def test_only_workers_and_the_scheduler_open_the_port(settings, monkeypatch):
    started = []
    monkeypatch.setattr(metrics, "serve_process_metrics", started.append)
    settings.METRICS_PORT = 9464
    metrics.serve_if_worker(["manage.py", "migrate"])
    metrics.serve_if_worker(["manage.py"])
    assert started == []
    metrics.serve_if_worker(["manage.py", "db_worker", "--queue-name", "*"])
    metrics.serve_if_worker(["manage.py", "run_scheduler"])
    assert started == [9464, 9464]
    settings.METRICS_PORT = 0
    metrics.serve_if_worker(["manage.py", "db_worker"])
    assert started == [9464, 9464]


# Sockets and the fan-out ---------------------------------------------------------

socket_test = pytest.mark.django_db(transaction=True)


@socket_test
async def test_open_sockets(school, sockets):
    before = sample("hub_sockets_open")
    first = await sockets(school.pupil)
    assert sample("hub_sockets_open") == before + 1
    await sockets(school.parent)
    assert sample("hub_sockets_open") == before + 2
    await first.disconnect()
    assert sample("hub_sockets_open") == before + 1


@socket_test
async def test_an_event_is_published_delivered_and_its_lag_observed(school, sockets):
    name = f"user:{school.pupil.pk}"
    socket = await sockets(school.pupil)
    assert (await request(socket, {"type": "subscribe", "streams": [name]}))[
        "type"
    ] == "subscribed"
    published = sample("hub_events_published_total")
    live = sample("hub_events_delivered_total", {"path": "live"})
    lags = sample("hub_fanout_lag_seconds_count")
    await aemit([name], n=1)
    assert (await receive(socket))["offset"] == 1
    assert sample("hub_events_published_total") == published + 1
    assert sample("hub_events_delivered_total", {"path": "live"}) == live + 1
    assert sample("hub_fanout_lag_seconds_count") == lags + 1
    # An event of a stream nobody here follows: published, not delivered.
    await aemit([f"user:{school.parent.pk}"], n=2)
    assert sample("hub_events_published_total") == published + 2
    assert sample("hub_events_delivered_total", {"path": "live"}) == live + 1


@socket_test
async def test_resumes_replays_and_resets(school, sockets):
    name = f"user:{school.pupil.pk}"
    (first,) = await aemit([name], n=1)
    await aemit([name], n=2)
    resumes = sample("hub_socket_resumes_total")
    replayed = sample("hub_events_delivered_total", {"path": "log"})
    resets = sample("hub_stream_resets_total", {"reason": "epoch"})
    socket = await sockets(school.pupil)
    await socket.send_json_to(
        {"type": "resume", "streams": {name: {"epoch": first.epoch, "offset": 0}}}
    )
    assert [(await receive(socket))["offset"] for _ in range(2)] == [1, 2]
    assert (await receive(socket))["type"] == "resumed"
    assert sample("hub_socket_resumes_total") == resumes + 1
    assert sample("hub_events_delivered_total", {"path": "log"}) == replayed + 2
    # A position of another epoch: reset.
    other = await sockets(school.pupil)
    await other.send_json_to(
        {"type": "resume", "streams": {name: {"epoch": "0" * 12, "offset": 2}}}
    )
    assert (await receive(other))["type"] == "reset"
    assert sample("hub_socket_resumes_total") == resumes + 2
    assert sample("hub_stream_resets_total", {"reason": "epoch"}) == resets + 1


@socket_test
async def test_a_slow_socket_closed_is_counted(school, sockets, monkeypatch):
    name = f"user:{school.pupil.pk}"
    socket = await sockets(school.pupil)
    await request(socket, {"type": "subscribe", "streams": [name]})
    monkeypatch.setattr(
        HubConsumer, "_unsent_bytes", lambda self: settings.HUB_SEND_BUFFER_BYTES + 1
    )
    closed = sample("hub_sockets_closed_slow_total")
    await aemit([name], n=1)
    assert await receive_close(socket) == ([], CLOSE_TOO_SLOW)
    assert sample("hub_sockets_closed_slow_total") == closed + 1


# Imports -----------------------------------------------------------------------

ROSTER = Path(__file__).parents[1] / "roster" / "fixtures" / "aaf" / "complete"
ICAL = Path(__file__).parents[1] / "data" / "ical"


def imports(kind: str, outcome: str) -> float:
    return sample("hub_imports_total", {"kind": kind, "outcome": outcome})


def test_roster_import_runs_by_outcome(db, tmp_path):
    from core.roster.importing import run_import
    from core.roster.records import UnreadableFile

    files = sorted(ROSTER.iterdir())
    done, dry, failed = (imports("roster", o) for o in ("done", "dry_run", "failed"))
    run_import(files, dry_run=True)
    assert imports("roster", "dry_run") == dry + 1
    run_import(files)
    assert imports("roster", "done") == done + 1
    empty = tmp_path / "export.xml"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableFile):
        run_import([empty])
    assert imports("roster", "failed") == failed + 1
    assert imports("roster", "done") == done + 1


def test_timetable_import_runs_by_outcome(school):
    from core.timetable.actions import import_feed
    from core.timetable.ical_import import IcalImportError

    done, failed = imports("timetable", "done"), imports("timetable", "failed")
    data = (ICAL / "daylight_saving_time.ics").read_bytes()
    import_feed(school_class=school.class_4b, data=data, name="edt.ics")
    assert imports("timetable", "done") == done + 1
    with pytest.raises(IcalImportError):
        import_feed(school_class=school.class_4b, data=b"not a calendar", name="x")
    assert imports("timetable", "failed") == failed + 1


# Background tasks ----------------------------------------------------------------


def test_the_task_queue_is_read_at_each_scrape(school, time_machine):
    from django_tasks_db.models import DBTaskResult

    from hub.delivery.tasks import withdraw
    from tests.delivery.helpers import run_tasks

    time_machine.move_to(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False)
    run_tasks()  # whatever the school's setup left
    queue = metrics.QUEUE
    assert queue.get_sample_value("hub_tasks_ready") == 0
    assert queue.get_sample_value("hub_tasks_oldest_ready_age_seconds") == 0
    withdraw.enqueue(school.parent.pk, ["a"])
    time_machine.shift(dt.timedelta(seconds=30))
    withdraw.using(run_after=timezone.now() - dt.timedelta(seconds=90)).enqueue(
        school.parent.pk, ["b"]
    )
    withdraw.using(run_after=timezone.now() + dt.timedelta(hours=1)).enqueue(
        school.parent.pk, ["later"]
    )
    time_machine.shift(dt.timedelta(seconds=10))
    assert queue.get_sample_value("hub_tasks_ready") == 2  # not the later one
    assert queue.get_sample_value("hub_tasks_oldest_ready_age_seconds") == 100
    DBTaskResult.objects.filter(status="READY").update(status="RUNNING")
    assert queue.get_sample_value("hub_tasks_running") == 3
    assert queue.get_sample_value("hub_tasks_ready") == 0


def test_finished_tasks_are_counted_by_task_and_status(school):
    from hub.delivery.tasks import withdraw
    from tests.delivery.helpers import run_tasks

    labels = {"task": "withdraw", "status": "successful"}
    before = sample("hub_tasks_finished_total", labels)
    withdraw.enqueue(school.parent.pk, ["a"])
    run_tasks()
    assert sample("hub_tasks_finished_total", labels) == before + 1
