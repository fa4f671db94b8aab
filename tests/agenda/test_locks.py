"""Agenda writes that send several events lock every stream they write
first, in one order (hub.lock_streams), so two of them cannot deadlock on
PostgreSQL: each write's events go only to streams it locked before the
first of them."""

import contextlib

import pytest

import hub
from core.agenda import actions
from core.roster.audience import Audience
from hub import streams
from tests.agenda.conftest import add_entry, open_slots


@contextlib.contextmanager
def locks_then_sends(monkeypatch):
    """Record, in order, ``("lock", names)`` and ``("send", names)``."""
    steps = []
    lock, send = streams.lock_streams, streams.send_event

    def locking(names):
        names = sorted(set(names))
        steps.append(("lock", set(names)))
        return lock(names)

    def sending(names, event):
        names = list(names)
        steps.append(("send", set(names)))
        return send(names, event)

    monkeypatch.setattr(streams, "lock_streams", locking)
    monkeypatch.setattr(hub, "lock_streams", locking)
    monkeypatch.setattr(streams, "send_event", sending)
    yield steps


def assert_locked_first(steps):
    sends = [names for step, names in steps if step == "send"]
    assert len(sends) >= 2
    first = next(i for i, (step, _n) in enumerate(steps) if step == "send")
    locked = set().union(*(n for step, n in steps[:first] if step == "lock"))
    assert set().union(*sends) <= locked


def test_a_change_locks_the_members_before_and_after_first(school, clock, monkeypatch):
    entry = add_entry(
        school,
        audience=Audience(
            org_id=school.org.pk, class_ids=frozenset({school.class_4b.pk})
        ),
    )
    with locks_then_sends(monkeypatch) as steps:
        actions.change_entry(
            actor=school.cpe,
            entry=entry,
            kind="class_council",
            title="Conseil (3e A)",
            start=entry.start,
            end=entry.end,
            audience=Audience(
                org_id=school.org.pk, class_ids=frozenset({school.class_3a.pk})
            ),
        )
    assert_locked_first(steps)


@pytest.mark.parametrize("then_cancel", [False, True])
def test_booking_and_cancelling_lock_their_streams_first(
    school, evening, monkeypatch, then_cancel
):
    slots = open_slots(school.teacher, evening)
    if then_cancel:
        booking = actions.book(
            guardian=school.parent, slot=slots[0], student=school.pupil
        )
    with locks_then_sends(monkeypatch) as steps:
        if then_cancel:
            actions.cancel_booking(guardian=school.parent, booking=booking)
        else:
            actions.book(guardian=school.parent, slot=slots[0], student=school.pupil)
    assert_locked_first(steps)
