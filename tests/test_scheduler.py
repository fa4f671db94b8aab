import datetime as dt
import threading

from django.db import transaction
from django.utils import timezone

import hub
from core.attendance.events import LessonRef, RollCallMissing
from core.demo.management.commands.run_scheduler import scheduler_loop
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

    monkeypatch.setattr(
        "core.demo.management.commands.run_scheduler.flag_missing_roll_calls", job
    )
    scheduler_loop(0.01, stop)
    assert calls == [1]
