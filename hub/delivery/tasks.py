"""Background tasks of delivery (django-tasks, database backend).

Enqueued inside the writing transaction where they follow an event (so an
event and its delivery task commit or vanish together) and run by
``manage.py db_worker``; the periodic ones are called by
``manage.py run_scheduler`` every minute.
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


@task()
def send_pushes(delivery_ids: list[int]) -> dict:
    """Send push deliveries (:func:`hub.delivery.push_deliveries.deliver`)."""
    from hub.delivery import push_deliveries

    return push_deliveries.deliver(delivery_ids)


@task()
def send_emails(send_ids: list[int]) -> dict:
    """Send ledger e-mails (:func:`hub.delivery.email_deliveries.send`)."""
    from hub.delivery import email_deliveries

    return email_deliveries.send(send_ids)


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
