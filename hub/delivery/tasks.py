"""Background tasks of delivery (django-tasks, database backend).

Enqueued inside the writing transaction where they follow an event (so an
event and its delivery task commit or vanish together) and run by
``manage.py db_worker``; the periodic ones are called by
``manage.py run_scheduler`` every minute.

The sending tasks live beside their work, which enqueues them again (a
retry, a recovered mail, a digest): ``send_pushes`` in
:mod:`hub.delivery.push_deliveries`, ``send_emails`` in
:mod:`hub.delivery.email_deliveries`. Planning enqueues both. None of them
imports this module, so the import graph has no cycle (issue 17).
"""

from django_tasks import task

# The sending modules are imported when a task runs: enqueueing (inside every
# domain action's transaction) needs none of aiohttp, aiosmtplib or jinja.


@task()
def plan_event(event_ids: list[int]) -> dict:
    """Plan the deliveries of events (see :func:`hub.delivery.planning.plan_events`)."""
    from hub.delivery import planning

    return planning.plan_events(event_ids)


@task()
def withdraw(user_id: int, tags: list[str]) -> int:
    """Close ``tags`` on the user's devices (:func:`hub.delivery.push_deliveries.withdraw`)."""
    from hub.delivery import push_deliveries

    return push_deliveries.withdraw(user_id, tags)


def periodic() -> dict:
    """The scheduler's minute: release quiet-hour pushes, recover dead
    workers' mails, create due digests. Returns counts for the log."""
    from hub.delivery import email_deliveries, push_deliveries

    return {
        "released": push_deliveries.release_held(),
        "recovered": email_deliveries.recover(),
        "digests": len(email_deliveries.schedule_digests()),
    }


def plan_on_append(event, rows: list) -> None:
    """Queue delivery outside the app (push, e-mail) in the same transaction.

    Subscribed to the log (:func:`hub.subscribers.in_transaction`, in
    :mod:`hub.delivery.apps`): the task row commits with the events (an
    outbox): no event is written without its delivery being planned, and a
    rollback drops both.
    """
    if type(event).category:
        plan_event.enqueue([row.pk for row in rows])
    withdrawn = event.withdraws()
    if withdrawn:
        user_id, tag = withdrawn
        withdraw.enqueue(user_id, [tag])
