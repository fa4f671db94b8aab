"""Push and e-mail outcomes move their counters (``hub_push_sends_total``,
``hub_emails_total``), counted in the worker that sends them."""

import datetime as dt

import pytest
import time_machine

from hub.delivery import actions
from hub.delivery.models import EmailSend
from tests.delivery.helpers import run_tasks
from tests.delivery.test_emails import mailer  # noqa: F401 (fixture)
from tests.delivery.test_planning import MONDAY_8H05, absent, subscribe
from tests.messaging.helpers import start
from tests.observability.conftest import sample


def pushes(result: str) -> float:
    return sample("hub_push_sends_total", {"result": result})


def emails(result: str) -> float:
    return sample("hub_emails_total", {"result": result})


def test_pushes_sent_and_gone(school, push_endpoint):
    subscribe(school.parent, push_endpoint, "karim-phone")
    subscribe(school.parent, push_endpoint, "old-phone")
    push_endpoint.unsubscribe("old-phone")  # answers 410
    sent, gone = pushes("sent"), pushes("gone")
    with time_machine.travel(MONDAY_8H05, tick=False):
        absent(school, MONDAY_8H05)
        run_tasks()
    assert pushes("sent") == sent + 1
    assert pushes("gone") == gone + 1


@pytest.mark.django_db(transaction=True)
def test_emails_sent_refused_and_deferred(school, mailer):  # noqa: F811
    for user in (school.parent, school.other_parent, school.teacher):
        actions.set_preference(user, "message", "email")
    mailer.faults.refuse = {"karim@example.org"}
    mailer.faults.defer = {"sophie@example.org"}
    before = {r: emails(r) for r in ("sent", "refused", "deferred")}
    with time_machine.travel(
        dt.datetime(2026, 1, 19, 10, 0, tzinfo=dt.UTC), tick=False
    ):
        start(school, school.teacher, [school.parent, school.other_parent])
        run_tasks()
    assert emails("refused") == before["refused"] + 1
    assert emails("deferred") == before["deferred"] + 1
    assert emails("sent") == before["sent"]
    mailer.faults.defer = set()
    retry = EmailSend.objects.get(user=school.other_parent).next_attempt_at
    with time_machine.travel(retry + dt.timedelta(seconds=1), tick=False):
        run_tasks()
    assert emails("sent") == before["sent"] + 1
