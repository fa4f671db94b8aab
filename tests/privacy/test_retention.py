"""The retention policy: each kind goes after its period, with its files,
and not a day before; the scheduler runs it."""

import datetime as dt
import os
import threading

import pytest
from django_tasks_db.models import DBTaskResult

from core.attendance.models import AttendanceRecord, Excuse, RollCall
from core.audit import log as audit
from core.audit.models import AuditEntry
from core.messaging.models import Attachment, Conversation, Message
from core.privacy.retention import purge_expired_data
from core.roster.models import EndedMembership
from hub.delivery.models import Delivery, EmailSend, Notification
from tests.privacy.conftest import NOW

DAY = dt.timedelta(days=1)


@pytest.fixture
def policy(settings):
    settings.PRIVACY_RETENTION_DAYS = {
        "messages": 365,
        "attendance": 730,
        "documents": 200,
        "delivery_log": 90,
        "audit": 365,
        "ended_memberships": 730,
        "task_results": 30,
    }
    return settings.PRIVACY_RETENTION_DAYS


def paths(rows, field: str) -> list[str]:
    return [getattr(row, field).path for row in rows if getattr(row, field)]


@pytest.mark.django_db(transaction=True)  # files leave on commit
def test_each_kind_goes_after_its_period_with_its_files(families, policy, time_machine):
    audit.record(actor=None, action="test.old", target_type="user", target_id=1)
    time_machine.move_to(NOW + DAY, tick=False)
    attachment_files = paths(Attachment.objects.all(), "file")
    excuse_files = paths(Excuse.objects.all(), "document")
    assert len(attachment_files) == 2 and len(excuse_files) == 2
    assert all(os.path.exists(p) for p in attachment_files + excuse_files)
    assert Notification.objects.exists() and Delivery.objects.exists()
    EndedMembership.objects.create(
        kind="enrollment", user=families.school.pupil3, ended_at=NOW, role="student"
    )
    assert DBTaskResult.objects.filter(finished_at__isnull=False).exists()

    # A day before the shortest period: nothing goes.
    time_machine.move_to(NOW + 29 * DAY, tick=False)
    done = purge_expired_data()
    assert not any(done.values()), done
    # Task results (30 days).
    time_machine.move_to(NOW + 31 * DAY, tick=False)
    assert purge_expired_data()["task_results"] > 0
    assert not DBTaskResult.objects.filter(finished_at__isnull=False).exists()

    # Delivery log (90 days): notifications, deliveries, the e-mail ledger.
    time_machine.move_to(NOW + 89 * DAY, tick=False)
    assert purge_expired_data()["delivery_log"] == 0
    time_machine.move_to(NOW + 91 * DAY, tick=False)
    assert purge_expired_data()["delivery_log"] > 0
    assert not Notification.objects.exists() and not Delivery.objects.exists()
    assert not EmailSend.objects.exists()

    # Documents (200 days): excuse documents and attachments, files too;
    # the excuses and the messages stay.
    time_machine.move_to(NOW + 199 * DAY, tick=False)
    assert purge_expired_data()["documents"] == 0
    time_machine.move_to(NOW + 201 * DAY, tick=False)
    assert purge_expired_data()["documents"] == 4
    assert not any(os.path.exists(p) for p in attachment_files + excuse_files)
    assert Excuse.objects.count() == 3 and not Excuse.objects.exclude(document="")
    assert Message.objects.count() == 5 and not Attachment.objects.exists()

    # Messages (365 days after the last message) and audit (365 days).
    time_machine.move_to(NOW + 364 * DAY, tick=False)
    done = purge_expired_data()
    assert done["messages"] == 0 and done["audit"] == 0
    time_machine.move_to(NOW + 366 * DAY, tick=False)
    done = purge_expired_data()
    assert done["messages"] == 2 and done["audit"] > 0
    assert not Conversation.objects.exists() and not Message.objects.exists()
    assert not AuditEntry.objects.exists()

    # Absences and excuses (730 days after the lesson); ended memberships.
    time_machine.move_to(NOW + 729 * DAY, tick=False)
    done = purge_expired_data()
    assert done["attendance"] == 0 and done["ended_memberships"] == 0
    time_machine.move_to(NOW + 731 * DAY, tick=False)
    done = purge_expired_data()
    assert done["attendance"] == 2 and done["ended_memberships"] == 1
    assert not RollCall.objects.exists()
    assert not AttendanceRecord.objects.exists() and not Excuse.objects.exists()
    assert not EndedMembership.objects.exists()


@pytest.mark.django_db(transaction=True)  # files leave on commit
def test_attendance_goes_with_its_documents(families, policy, time_machine):
    """Documents kept longer than absences still go with their excuse."""
    policy["documents"] = 0  # kept until their absence goes
    excuse_files = paths(Excuse.objects.all(), "document")
    time_machine.move_to(NOW + 731 * DAY, tick=False)
    done = purge_expired_data()
    assert "documents" not in done and done["attendance"] == 2
    assert not any(os.path.exists(p) for p in excuse_files)


def test_messages_are_kept_while_the_conversation_lives(families, policy, time_machine):
    """A conversation goes a year after its last message, not its first."""
    from tests.messaging.helpers import send

    time_machine.move_to(NOW + 300 * DAY, tick=False)
    send(families.direct, families.school.teacher, body="Encore une question")
    time_machine.move_to(NOW + 366 * DAY, tick=False)
    assert purge_expired_data()["messages"] == 1
    assert list(Conversation.objects.all()) == [
        Conversation.objects.get(pk=families.direct.pk)
    ]


def test_zero_keeps_a_kind(families, policy, time_machine):
    for kind in policy:
        policy[kind] = 0
    time_machine.move_to(NOW + 3650 * DAY, tick=False)
    assert purge_expired_data() == {"exports": 0}
    assert Conversation.objects.exists() and AuditEntry.objects.exists()


def test_defaults_and_environment(monkeypatch):
    """Every kind has a default period, each overridden by its variable."""
    import importlib

    import core.settings

    monkeypatch.setenv("RETENTION_AUDIT_DAYS", "180")
    reloaded = importlib.reload(core.settings)
    try:
        assert reloaded.PRIVACY_RETENTION_DAYS["audit"] == 180
        assert reloaded.PRIVACY_RETENTION_DAYS["messages"] == 365
        assert set(reloaded.PRIVACY_RETENTION_DAYS) == {
            "messages",
            "attendance",
            "documents",
            "delivery_log",
            "audit",
            "ended_memberships",
            "task_results",
        }
        assert reloaded.PRIVACY_EXPORT_DAYS == 7
    finally:
        monkeypatch.delenv("RETENTION_AUDIT_DAYS")
        importlib.reload(core.settings)


def test_the_scheduler_runs_the_retention(db, monkeypatch):
    from core.scheduler.loop import scheduler_loop

    stop = threading.Event()
    calls = []

    def retention():
        calls.append(1)
        stop.set()
        return {}

    monkeypatch.setattr("core.scheduler.loop.scheduled_purge", retention)
    scheduler_loop(0.01, stop)
    assert calls == [1]


def test_the_scheduler_purges_hourly(db, monkeypatch):
    from core.privacy import retention

    runs = []
    monkeypatch.setattr(retention, "_last_run", None)
    monkeypatch.setattr(
        retention, "purge_expired_data", lambda now: runs.append(now) or {"x": 1}
    )
    assert retention.scheduled_purge(now=NOW) == {"x": 1}
    assert retention.scheduled_purge(now=NOW + dt.timedelta(minutes=59)) == {}
    assert retention.scheduled_purge(now=NOW + dt.timedelta(minutes=61)) == {"x": 1}
    assert runs == [NOW, NOW + dt.timedelta(minutes=61)]
