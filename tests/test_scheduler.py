import datetime as dt
import threading

import pytest
from django.db import transaction
from django.utils import timezone

import hub
from core.attendance.events import LessonRef, RollCallMissing
from core.scheduler.loop import scheduler_loop
from hub.models import Event, Stream
from hub.retention import purge_old_events


def emit(stream: str) -> None:
    lesson = LessonRef(
        id=1,
        class_id=1,
        class_title="4e B",
        subject="Maths",
        start="2026-01-19T08:00:00+01:00",
        end="2026-01-19T08:55:00+01:00",
    )
    with transaction.atomic():
        hub.send_event([stream], RollCallMissing(op="missing", org_id=1, lesson=lesson))


def test_purge_drops_old_events_but_keeps_offsets(db, settings):
    settings.HUB_RETENTION_DAYS = 30
    emit("user:1")
    emit("user:1")
    Event.objects.filter(offset=1).update(
        created_at=timezone.now() - dt.timedelta(days=31)
    )
    assert purge_old_events() == 1
    assert list(Event.objects.values_list("offset", flat=True)) == [2]
    emit("user:1")
    assert Stream.objects.get(name="user:1").last_offset == 3


def test_scheduler_loop_runs_its_jobs_and_stops(db, monkeypatch):
    calls = []
    stop = threading.Event()

    def job():
        calls.append(1)
        stop.set()
        return 1

    monkeypatch.setattr("core.scheduler.loop.flag_missing_roll_calls", job)
    scheduler_loop(0.01, stop)
    assert calls == [1]


@pytest.mark.django_db(transaction=True)  # the loop closes old connections
def test_the_scheduler_prunes_finished_task_results_past_their_retention(
    settings, monkeypatch
):
    """Old finished results (succeeded or failed) go on the scheduler's
    pass; recent ones and tasks still waiting stay."""
    from django_tasks_db.models import DBTaskResult

    from core.privacy import retention
    from hub.delivery.tasks import withdraw
    from tests.delivery.helpers import run_tasks

    settings.PRIVACY_RETENTION_DAYS = {"task_results": 30}
    monkeypatch.setattr(retention, "_last_run", None)
    old_ok, old_failed, recent = (withdraw.enqueue(0, [str(n)]) for n in range(3))
    assert run_tasks() == 3
    long_ago = timezone.now() - dt.timedelta(days=31)
    DBTaskResult.objects.filter(pk=old_ok.id).update(finished_at=long_ago)
    DBTaskResult.objects.filter(pk=old_failed.id).update(
        finished_at=long_ago, status="FAILED"
    )
    DBTaskResult.objects.filter(pk=recent.id).update(
        finished_at=timezone.now() - dt.timedelta(days=29)
    )
    waiting = withdraw.enqueue(0, ["waiting"])
    DBTaskResult.objects.filter(pk=waiting.id).update(enqueued_at=long_ago)

    stop = threading.Event()
    monkeypatch.setattr(
        "core.scheduler.loop.deliver_periodic",
        lambda: stop.set(),  # the pass's last job: one pass
    )
    scheduler_loop(0.01, stop)
    kept = {str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)}
    assert kept == {recent.id, waiting.id}
